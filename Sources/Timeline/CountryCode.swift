/// An ISO 3166-1 alpha-2 country code such as `MN` or `KP`.
///
/// Only the shape is checked here (two ASCII capital letters); whether a code names a country the
/// pipeline knows is the gazetteer's business. A code is stored as its position from `AA` to `ZZ`,
/// so comparing and hashing codes (the aggregator does it for every event) touch one small integer,
/// and its spelling comes from a table.
public struct CountryCode: Hashable, Comparable, Sendable, CustomStringConvertible {
    private let position: UInt16

    /// Accepts exactly two ASCII letters; lower case is folded to upper case.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 2 else { return nil }
        // ASCII lower case folds to upper case; anything else is refused below.
        let fold = { (byte: UInt8) -> UInt8 in byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte }
        self.init(uppercaseASCII: fold(bytes[0]), fold(bytes[1]))
    }

    /// Two bytes already known to be the code's spelling; nil unless both are `A`–`Z`.
    init?(uppercaseASCII first: UInt8, _ second: UInt8) {
        guard first >= 0x41, first <= 0x5A, second >= 0x41, second <= 0x5A else { return nil }
        position = UInt16(first - 0x41) * 26 + UInt16(second - 0x41)
    }

    /// The code at `index` (0 for `AA` to 675 for `ZZ`).
    init(index: Int) {
        precondition(index >= 0 && index < 26 * 26)
        position = UInt16(index)
    }

    /// The code's position from `AA` (0) to `ZZ` (675).
    var index: Int { Int(position) }

    /// The two capital letters, e.g. `MN`.
    public var rawValue: String { CountryCode.spellings[Int(position)] }

    /// Every two-letter spelling, `AA` to `ZZ`.
    private static let spellings: [String] = (0..<(26 * 26)).map { (index: Int) -> String in
        let first = UInt8(0x41 + index / 26)
        let second = UInt8(0x41 + index % 26)
        return String(decoding: [first, second], as: UTF8.self)
    }

    public var description: String { rawValue }

    /// Alphabetical: the positions are in the spellings' order.
    public static func < (lhs: CountryCode, rhs: CountryCode) -> Bool { lhs.position < rhs.position }
}
