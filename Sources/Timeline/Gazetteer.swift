import Foundation

/// Resolves country names, demonyms and places to ISO 3166-1 alpha-2 codes.
///
/// Lookups ignore case, diacritics, a leading "the" and runs of whitespace, so "Ulan Bator",
/// "ulan  bator" and "Ulaanbaatar" (listed as a spelling) all resolve. An unknown name is nil:
/// the gazetteer never guesses, and matches whole names only, never parts of them.
public struct Gazetteer: Sendable {
    public struct Country: Hashable, Sendable, Decodable {
        public var code: String
        public var name: String
        public var names: [String]
        public var adjectives: [String]
        public var capital: String
        public var places: [String]
        /// A state that no longer exists (the Soviet Union, Yugoslavia…). Its names resolve to it,
        /// but its places resolve to the present-day state that holds them.
        public var historical: Bool?
    }

    public struct LoadError: Error, CustomStringConvertible {
        public let reason: String
        public var description: String { reason }
    }

    private struct File: Decodable {
        var version: Int
        var countries: [Country]
    }

    public let countries: [CountryCode: Country]
    private var byName: [String: CountryCode] = [:]
    private var byAdjective: [String: CountryCode] = [:]
    private var byPlace: [String: CountryCode] = [:]

    /// Reads the gazetteer's JSON form (see `Config/gazetteer.json`). Rejects a file where one name
    /// or place would resolve to two countries.
    public init(json: Data) throws {
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: json)
        } catch {
            throw LoadError(reason: "not a gazetteer: \(error)")
        }
        guard file.version == 1 else { throw LoadError(reason: "unsupported gazetteer version \(file.version)") }
        var countries: [CountryCode: Country] = [:]
        for country in file.countries {
            guard let code = CountryCode(country.code) else {
                throw LoadError(reason: "'\(country.code)' is not an ISO 3166-1 alpha-2 code")
            }
            countries[code] = country
        }
        self.countries = countries
        for (code, country) in countries {
            try Gazetteer.insert(country.names + [country.name], code, into: &byName, what: "name")
            try Gazetteer.insert(country.adjectives, code, into: &byAdjective, what: "adjective")
            if country.historical != true {
                try Gazetteer.insert(country.places + [country.capital], code, into: &byPlace, what: "place")
            }
        }
    }

    private static func insert(_ keys: [String], _ code: CountryCode, into table: inout [String: CountryCode], what: String) throws {
        for key in keys {
            let folded = fold(key)
            if let existing = table[folded], existing != code {
                throw LoadError(reason: "\(what) '\(key)' belongs to both \(existing) and \(code)")
            }
            table[folded] = code
        }
    }

    /// The country a name such as "North Korea", "DPRK" or "Mongolia" denotes.
    public func country(named name: String) -> CountryCode? {
        byName[Gazetteer.fold(name)]
    }

    /// The country an adjective such as "North Korean" or "Mongolian" refers to; falls back to names.
    public func country(adjective: String) -> CountryCode? {
        byAdjective[Gazetteer.fold(adjective)] ?? country(named: adjective)
    }

    /// The country a place lies in. Accepts "City", "City, Country" and a country's own name.
    public func country(ofPlace place: String) -> CountryCode? {
        if let code = byPlace[Gazetteer.fold(place)] { return code }
        let parts = place.split(separator: ",").map { String($0) }
        if parts.count >= 2 {
            let city = parts.dropLast().joined(separator: ",")
            let countryName = parts[parts.count - 1]
            guard let code = country(named: countryName) else { return nil }
            // The city must not be known to lie elsewhere.
            if let cityCode = byPlace[Gazetteer.fold(city)], cityCode != code { return nil }
            return code
        }
        return country(named: place)
    }

    /// The usual English name of a country.
    public func name(of code: CountryCode) -> String {
        countries[code]?.name ?? code.rawValue
    }

    /// Case, diacritics, a leading "the", punctuation spacing and whitespace runs do not matter.
    static func fold(_ text: String) -> String {
        var folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        folded = folded.replacingOccurrences(of: "\u{2019}", with: "'")
        let words = folded.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        var trimmed = words[...]
        if trimmed.first == "the", trimmed.count > 1 { trimmed = trimmed.dropFirst() }
        return trimmed.joined(separator: " ")
    }
}
