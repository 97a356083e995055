/// Deterministic synthetic visits for load and failure tests: many country pairs, dates over several
/// centuries, distinct ids. The same count and seed always give the same events, in the same order,
/// so a test can compute the expected statistics on its own.
public enum SyntheticEvents {
    static let countries = ["MN", "KP", "KR", "CN", "RU", "JP", "US", "FR", "DE", "GB", "IN", "VN", "CU", "PL", "CZ", "EG"]
        .map { CountryCode($0)! }

    /// The `index`-th event (0-based) of the stream for `seed`.
    public static func event(_ index: Int, seed: UInt64) -> TimelineEvent {
        var state = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        let a = next(&state), b = next(&state)
        let from = countries[Int(a % UInt64(countries.count))]
        var to = countries[Int((a >> 16) % UInt64(countries.count - 1))]
        if to == from { to = countries[countries.count - 1] }
        let year = 1700 + Int(b % 326)
        let month = 1 + Int((b >> 12) % 12)
        let day = 1 + Int((b >> 20) % 28)
        let date: EDTFDate
        switch (b >> 28) % 3 {
        case 0: date = .single(PartialDate(year: year)!)
        case 1: date = .single(PartialDate(year: year, month: month)!)
        default: date = .single(PartialDate(year: year, month: month, day: day)!)
        }
        return TimelineEvent(kind: .visit, date: date, from: from, to: to, guest: "Envoy \(index)", host: "Host \(a % 1000)",
                             place: "Capital of \(to.rawValue)", source: Provenance(document: "synthetic:\(seed)", line: index + 1))
    }

    public static func events(count: Int, seed: UInt64) -> [TimelineEvent] {
        (0..<count).map { event($0, seed: seed) }
    }

    /// splitmix64.
    private static func next(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
