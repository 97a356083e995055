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
        /// The three-letter codes CAMEO (and so GDELT's actor fields) gives the country: ISO 3166-1
        /// alpha-3, and CAMEO's own where it differs (ROM for Romania, TMP for East Timor).
        public var cameo: [String]?
        /// The FIPS 10-4 codes of the country (GDELT's geographic fields): MG for Mongolia, KN for
        /// North Korea.
        public var fips: [String]?
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
    private var byCAMEO: [String: CountryCode] = [:]
    private var byFIPS: [String: CountryCode] = [:]

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
            try Gazetteer.insertCodes(country.cameo ?? [], code, into: &byCAMEO, what: "CAMEO code")
            try Gazetteer.insertCodes(country.fips ?? [], code, into: &byFIPS, what: "FIPS code")
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

    /// Codes are matched in upper case, without folding.
    private static func insertCodes(_ keys: [String], _ code: CountryCode, into table: inout [String: CountryCode], what: String) throws {
        for key in keys {
            let upper = key.uppercased()
            if let existing = table[upper], existing != code {
                throw LoadError(reason: "\(what) '\(key)' belongs to both \(existing) and \(code)")
            }
            table[upper] = code
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

    /// The country of a place the gazetteer lists by itself ("Pyongyang", "Ulan Bator"), without
    /// reading "City, Country" forms or country names as `country(ofPlace:)` does.
    public func country(ofListedPlace place: String) -> CountryCode? {
        byPlace[Gazetteer.fold(place)]
    }

    /// The country of a CAMEO three-letter country code such as `MNG` or `PRK` (case ignored).
    public func country(cameo code: String) -> CountryCode? {
        byCAMEO[code.uppercased()]
    }

    /// The country of a FIPS 10-4 country code such as `MG` or `KN` (case ignored).
    public func country(fips code: String) -> CountryCode? {
        byFIPS[code.uppercased()]
    }

    /// The usual English name of a country.
    public func name(of code: CountryCode) -> String {
        countries[code]?.name ?? code.rawValue
    }

    /// Letters that are no base letter with a diacritic in Unicode, so that folding diacritics
    /// leaves them as they are, but that readers of English take as one: Đà Nẵng is Da Nang.
    private static let separateLetters: [Character: String] = [
        "đ": "d", "ł": "l", "ø": "o", "ħ": "h", "ı": "i", "ŧ": "t", "ŀ": "l", "ß": "ss", "æ": "ae", "œ": "oe",
    ]

    /// Case, diacritics, a leading "the", punctuation spacing and whitespace runs do not matter.
    static func fold(_ text: String) -> String {
        var folded = text.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: nil)
        if !folded.utf8.allSatisfy({ $0 < 0x80 }) {
            folded = String(folded.flatMap { separateLetters[$0].map(Array.init) ?? [$0] })
        }
        folded = folded.replacingOccurrences(of: "\u{2019}", with: "'")
        let words = folded.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        var trimmed = words[...]
        if trimmed.first == "the", trimmed.count > 1 { trimmed = trimmed.dropFirst() }
        return trimmed.joined(separator: " ")
    }
}
