/// An ISO 3166-1 alpha-2 country code such as `MN` or `KP`.
///
/// Only the shape is checked here (two ASCII capital letters); whether a code names a country the
/// pipeline knows is the gazetteer's business.
public struct CountryCode: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts exactly two ASCII letters; lower case is folded to upper case.
    public init?(_ text: String) {
        let upper = text.uppercased()
        guard upper.utf8.count == 2, upper.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else { return nil }
        rawValue = upper
    }

    public var description: String { rawValue }

    public static func < (lhs: CountryCode, rhs: CountryCode) -> Bool { lhs.rawValue < rhs.rawValue }
}
