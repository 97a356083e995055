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

    /// Two bytes already known to be the code's spelling; nil unless both are `A`–`Z`. Codes come
    /// from a table, so no string is made per call.
    init?(uppercaseASCII first: UInt8, _ second: UInt8) {
        guard first >= 0x41, first <= 0x5A, second >= 0x41, second <= 0x5A else { return nil }
        self = CountryCode.all[Int(first - 0x41) * 26 + Int(second - 0x41)]
    }

    /// The code's position from `AA` (0) to `ZZ` (675).
    var index: Int {
        let bytes = rawValue.utf8
        return Int(bytes.first! - 0x41) * 26 + Int(bytes.last! - 0x41)
    }

    /// The code at `index` (0 to 675).
    init(index: Int) {
        self = CountryCode.all[index]
    }

    private init(validated: String) {
        rawValue = validated
    }

    /// Every two-letter code, `AA` to `ZZ`.
    private static let all: [CountryCode] = (0..<(26 * 26)).map { (index: Int) -> CountryCode in
        let first = UInt8(0x41 + index / 26)
        let second = UInt8(0x41 + index % 26)
        return CountryCode(validated: String(decoding: [first, second], as: UTF8.self))
    }

    public var description: String { rawValue }

    public static func < (lhs: CountryCode, rhs: CountryCode) -> Bool { lhs.rawValue < rhs.rawValue }
}
