internal import Crypto

/// A 128-bit key standing for an event id in the aggregator's set of counted events: the id's own
/// bits when it is 32 lower-case hex digits (every derived id is), else the first 128 bits of the
/// SHA-256 of the id. Either way the bits are evenly spread, so they serve as their own hash.
public struct EventKey: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(id: String) {
        var id = id
        self = id.withUTF8 { EventKey(idBytes: $0) }
    }

    public init(idBytes bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.count == 32, let high = EventKey.hex(bytes, from: 0), let low = EventKey.hex(bytes, from: 16) {
            self.init(high: high, low: low)
            return
        }
        self = SHA256.hash(data: UnsafeRawBufferPointer(bytes)).withUnsafeBytes { digest in
            EventKey(high: UInt64(bigEndian: digest.loadUnaligned(as: UInt64.self)),
                     low: UInt64(bigEndian: digest.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }

    private static func hex(_ digits: UnsafeBufferPointer<UInt8>, from start: Int) -> UInt64? {
        nibbles.withUnsafeBufferPointer { nibbles in
            var value: UInt64 = 0
            var invalid: UInt8 = 0
            for index in start..<(start + 16) {
                let nibble = nibbles[Int(digits[index])]
                invalid |= nibble
                value = value << 4 | UInt64(nibble & 0x0F)
            }
            return invalid & 0x80 == 0 ? value : nil
        }
    }

    /// The value of each lower-case hex digit; 0x80 for any other byte.
    private static let nibbles: [UInt8] = (0..<256).map { byte in
        switch byte {
        case 0x30...0x39: UInt8(byte - 0x30)
        case 0x61...0x66: UInt8(byte - 0x61 + 10)
        default: 0x80
        }
    }
}

/// What the statistics count of an event: its identity and the coordinates it is counted under.
/// The aggregator reads this much of each body and no more, except for the rare events that tell a
/// standing state (relations, treaties, embassies, ambassadors), which it keeps whole as a `fact`.
public struct EventSummary: Hashable, Sendable {
    public var key: EventKey
    public var kind: EventKind
    public var year: Int
    /// Where in `year` the event's date falls (see `VisitDays`).
    public var mark: VisitDays.Mark
    public var from: CountryCode
    public var to: CountryCode
    /// The event itself, reduced to what "relations on a date" needs, when its kind tells a state.
    public var fact: StandingFact?

    public init(key: EventKey, kind: EventKind, date: EDTFDate, from: CountryCode, to: CountryCode, fact: StandingFact? = nil) {
        let (year, mark) = VisitDays.mark(of: date)
        self.key = key
        self.kind = kind
        self.year = year
        self.mark = mark
        self.from = from
        self.to = to
        self.fact = fact
    }

    public init(_ event: TimelineEvent) {
        self.init(key: EventKey(id: event.id), kind: event.kind, date: event.date, from: event.from, to: event.to,
                  fact: StandingFact(event))
    }
}
