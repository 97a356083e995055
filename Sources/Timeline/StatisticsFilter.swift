import Foundation

/// Which events a report is restricted to: one pair of countries (either direction), every pair
/// with one country, a span of years, some kinds. Restrictions combine; an empty filter keeps all.
public struct StatisticsFilter: Hashable, Sendable, CustomStringConvertible {
    /// The pair, in code order.
    public private(set) var pair: (CountryCode, CountryCode)? {
        get { pairCodes.map { ($0[0], $0[1]) } }
        set { pairCodes = newValue.map { [min($0.0, $0.1), max($0.0, $0.1)] } }
    }
    private var pairCodes: [CountryCode]?
    public var country: CountryCode?
    /// First and last year kept, both included.
    public var fromYear: Int?
    public var toYear: Int?
    /// Kinds kept; empty keeps every kind.
    public var kinds: Set<EventKind> = []

    public init(pair: (CountryCode, CountryCode)? = nil, country: CountryCode? = nil, fromYear: Int? = nil, toYear: Int? = nil,
                kinds: Set<EventKind> = []) {
        self.country = country
        self.fromYear = fromYear
        self.toYear = toYear
        self.kinds = kinds
        self.pair = pair
    }

    public var isEmpty: Bool { pairCodes == nil && country == nil && fromYear == nil && toYear == nil && kinds.isEmpty }

    @inline(__always)
    public func matches(kind: EventKind, year: Int, from: CountryCode, to: CountryCode) -> Bool {
        if let pairCodes {
            guard (from == pairCodes[0] && to == pairCodes[1]) || (from == pairCodes[1] && to == pairCodes[0]) else { return false }
        }
        if let country, from != country, to != country { return false }
        if let fromYear, year < fromYear { return false }
        if let toYear, year > toYear { return false }
        return kinds.isEmpty || kinds.contains(kind)
    }

    /// "MN–KP, with MN, 1980–1999, visit": what the filter keeps, for a report's heading.
    public var description: String {
        var parts: [String] = []
        if let pair { parts.append("\(pair.0.rawValue)–\(pair.1.rawValue)") }
        if let country { parts.append("pairs with \(country.rawValue)") }
        switch (fromYear, toYear) {
        case let (from?, to?): parts.append(from == to ? "\(from)" : "\(from)–\(to)")
        case let (from?, nil): parts.append("from \(from)")
        case let (nil, to?): parts.append("to \(to)")
        case (nil, nil): break
        }
        if !kinds.isEmpty { parts.append(kinds.sorted().map(\.rawValue).joined(separator: ", ")) }
        return parts.joined(separator: ", ")
    }

    /// The filter as text for the control protocol and the command line: `pair=MN-KP`,
    /// `country=MN`, `from=1980`, `to=1999`, `kind=visit,aid`, in that order, joined by `;`.
    public var encoded: String {
        var parts: [String] = []
        if let pair { parts.append("pair=\(pair.0.rawValue)-\(pair.1.rawValue)") }
        if let country { parts.append("country=\(country.rawValue)") }
        if let fromYear { parts.append("from=\(fromYear)") }
        if let toYear { parts.append("to=\(toYear)") }
        if !kinds.isEmpty { parts.append("kind=" + kinds.sorted().map(\.rawValue).joined(separator: ",")) }
        return parts.joined(separator: ";")
    }

    /// Reads `encoded`; the error names the part that is wrong.
    public init(encoded text: String) throws(FilterError) {
        self.init()
        for part in text.split(separator: ";", omittingEmptySubsequences: true) {
            guard let equals = part.firstIndex(of: "=") else { throw FilterError("'\(part)' is not name=value") }
            let name = part[..<equals], value = String(part[part.index(after: equals)...])
            switch name {
            case "pair": pair = try Self.pair(value)
            case "country": country = try Self.country(value)
            case "from": fromYear = try Self.year(value, "from")
            case "to": toYear = try Self.year(value, "to")
            case "kind": kinds = try Self.kinds(value)
            default: throw FilterError("unknown restriction '\(name)'")
            }
        }
        if let fromYear, let toYear, fromYear > toYear { throw FilterError("from \(fromYear) is after to \(toYear)") }
    }

    /// `MN-KP` (or `MN–KP`, `MN/KP`): two distinct codes.
    public static func pair(_ text: String) throws(FilterError) -> (CountryCode, CountryCode) {
        let codes = text.split(whereSeparator: { $0 == "-" || $0 == "–" || $0 == "/" || $0 == "," })
        guard codes.count == 2, let a = CountryCode(String(codes[0])), let b = CountryCode(String(codes[1])) else {
            throw FilterError("'\(text)' is not a pair of two-letter country codes such as MN-KP")
        }
        guard a != b else { throw FilterError("'\(text)' names the same country twice") }
        return (a, b)
    }

    public static func country(_ text: String) throws(FilterError) -> CountryCode {
        guard let code = CountryCode(text) else { throw FilterError("'\(text)' is not a two-letter country code such as MN") }
        return code
    }

    /// A year, or a full EDTF date of which the year is taken.
    public static func year(_ text: String, _ name: String) throws(FilterError) -> Int {
        if let year = Int(text), (-9999...9999).contains(year) { return year }
        if let date = EDTFDate(edtf: text), case .single = date { return date.year }
        throw FilterError("\(name) '\(text)' is not a year such as 1980")
    }

    public static func kinds(_ text: String) throws(FilterError) -> Set<EventKind> {
        var kinds: Set<EventKind> = []
        guard text.contains(where: { $0 != "," && $0 != " " }) else { throw FilterError("no kind given (kinds: \(EventKind.allCases.map(\.rawValue).joined(separator: ", ")))") }
        for name in text.split(separator: ",") {
            let name = name.trimmingCharacters(in: .whitespaces)
            guard let kind = EventKind(rawValue: name) else {
                throw FilterError("unknown kind '\(name)' (kinds: \(EventKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            kinds.insert(kind)
        }
        return kinds
    }
}

public struct FilterError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
