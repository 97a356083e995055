/// Visits counted for one decade in one direction.
public struct DecadeCount: Hashable, Sendable, Comparable {
    public var decade: Int
    public var from: CountryCode
    public var to: CountryCode
    public var count: Int

    public init(decade: Int, from: CountryCode, to: CountryCode, count: Int) {
        self.decade = decade
        self.from = from
        self.to = to
        self.count = count
    }

    public static func < (lhs: DecadeCount, rhs: DecadeCount) -> Bool {
        (lhs.decade, lhs.from, lhs.to) < (rhs.decade, rhs.from, rhs.to)
    }
}

/// Visits counted for one year in one direction.
public struct YearCount: Hashable, Sendable, Comparable {
    public var year: Int
    public var from: CountryCode
    public var to: CountryCode
    public var count: Int

    public init(year: Int, from: CountryCode, to: CountryCode, count: Int) {
        self.year = year
        self.from = from
        self.to = to
        self.count = count
    }

    public static func < (lhs: YearCount, rhs: YearCount) -> Bool {
        (lhs.year, lhs.from, lhs.to) < (rhs.year, rhs.from, rhs.to)
    }
}

/// A direction of travel, guest country to host country.
public struct Direction: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var from: CountryCode
    public var to: CountryCode

    public init(from: CountryCode, to: CountryCode) {
        self.from = from
        self.to = to
    }

    public var description: String { "\(from.rawValue)->\(to.rawValue)" }
    public static func < (lhs: Direction, rhs: Direction) -> Bool { (lhs.from, lhs.to) < (rhs.from, rhs.to) }
}

/// The statistics the aggregator keeps, as plain values. Built one event at a time with `add`, so
/// the same code serves a batch of events and a live stream; the caller decides which events are new.
public struct Statistics: Hashable, Sendable {
    public private(set) var totalEvents = 0
    public private(set) var totalVisits = 0
    /// Visits per (year, from, to), the one table the per-decade, per-year and per-direction views
    /// are derived from. The key packs the year and both countries into one integer (see `cell`),
    /// so counting a visit is one hash of one word.
    private var visitCells: [UInt64: Int] = [:]
    /// Events per kind, indexed like `EventKind.allCases`.
    private var kindCounts = [Int](repeating: 0, count: EventKind.allCases.count)

    public init() {}

    /// Rebuilds statistics from their persisted parts: the totals, the kinds, and visits per year and
    /// direction (from which the per-decade and per-direction counts follow).
    public init(totalEvents: Int, eventsByKind: [EventKind: Int], visitsByYear: [YearCount]) {
        self.init()
        self.totalEvents = totalEvents
        for (kind, count) in eventsByKind { kindCounts[kind.index] += count }
        for entry in visitsByYear {
            totalVisits += entry.count
            visitCells[Self.cell(year: entry.year, from: entry.from, to: entry.to), default: 0] += entry.count
        }
    }

    /// Statistics of a batch of distinct events.
    public init<S: Sequence>(events: S) where S.Element == TimelineEvent {
        self.init()
        for event in events { add(event) }
    }

    /// Counts one event. The caller guarantees it was not counted before.
    public mutating func add(_ event: TimelineEvent) {
        add(kind: event.kind, year: event.date.year, from: event.from, to: event.to)
    }

    /// Counts one event given by its summary. The caller guarantees it was not counted before.
    public mutating func add(_ summary: EventSummary) {
        add(kind: summary.kind, year: summary.year, from: summary.from, to: summary.to)
    }

    private mutating func add(kind: EventKind, year: Int, from: CountryCode, to: CountryCode) {
        totalEvents += 1
        kindCounts[kind.index] += 1
        guard kind == .visit else { return }
        totalVisits += 1
        visitCells[Self.cell(year: year, from: from, to: to), default: 0] += 1
    }

    /// Adds counts kept elsewhere (restored state, another partition).
    public mutating func merge(_ other: Statistics) {
        totalEvents += other.totalEvents
        totalVisits += other.totalVisits
        for index in kindCounts.indices { kindCounts[index] += other.kindCounts[index] }
        for (cell, count) in other.visitCells { visitCells[cell, default: 0] += count }
    }

    /// Events per kind, for the kinds seen.
    public var eventsByKind: [EventKind: Int] {
        var counts: [EventKind: Int] = [:]
        for (index, kind) in EventKind.allCases.enumerated() where kindCounts[index] > 0 { counts[kind] = kindCounts[index] }
        return counts
    }

    public var visitsByDirection: [Direction: Int] {
        var counts: [Direction: Int] = [:]
        forEachCell { _, direction, count in counts[direction, default: 0] += count }
        return counts
    }

    public var visitsByYearAndDirection: [Int: [Direction: Int]] {
        var counts: [Int: [Direction: Int]] = [:]
        forEachCell { year, direction, count in counts[year, default: [:]][direction, default: 0] += count }
        return counts
    }

    public var visitsByDecadeAndDirection: [Int: [Direction: Int]] {
        var counts: [Int: [Direction: Int]] = [:]
        forEachCell { year, direction, count in counts[Aggregation.decade(of: year), default: [:]][direction, default: 0] += count }
        return counts
    }

    /// Visits per decade and direction, sorted by decade then direction.
    public var visitsByDecade: [DecadeCount] {
        visitsByDecadeAndDirection.flatMap { decade, counts in
            counts.map { DecadeCount(decade: decade, from: $0.key.from, to: $0.key.to, count: $0.value) }
        }.sorted()
    }

    /// Visits per year and direction, sorted by year then direction.
    public var visitsByYear: [YearCount] {
        var counts: [YearCount] = []
        counts.reserveCapacity(visitCells.count)
        forEachCell { year, direction, count in counts.append(YearCount(year: year, from: direction.from, to: direction.to, count: count)) }
        return counts.sorted()
    }

    private func forEachCell(_ body: (Int, Direction, Int) -> Void) {
        for (cell, count) in visitCells {
            let year = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: cell >> 32)))
            let from = CountryCode(index: Int((cell >> 16) & 0xFFFF)), to = CountryCode(index: Int(cell & 0xFFFF))
            body(year, Direction(from: from, to: to), count)
        }
    }

    /// `year` (as 32 bits) | from's index (16 bits) | to's index (16 bits).
    private static func cell(year: Int, from: CountryCode, to: CountryCode) -> UInt64 {
        UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: year))) << 32 | UInt64(from.index) << 16 | UInt64(to.index)
    }
}

extension EventKind {
    /// The position in `allCases`.
    var index: Int {
        switch self {
        case .visit: 0
        case .relationsEstablished: 1
        case .agreementSigned: 2
        case .agreementEnded: 3
        case .aid: 4
        case .embassyClosed: 5
        case .diplomatsExpelled: 6
        case .ambassadorTerm: 7
        case .invitation: 8
        case .other: 9
        }
    }
}

/// Aggregation maths as pure functions over events.
public enum Aggregation {
    /// The decade a year falls in: 1956 -> 1950, 2000 -> 2000, -44 -> -50.
    public static func decade(of year: Int) -> Int {
        year >= 0 ? year / 10 * 10 : -((-year + 9) / 10 * 10)
    }

    public static func visitsPerDecade<S: Sequence>(_ events: S) -> [DecadeCount] where S.Element == TimelineEvent {
        Statistics(events: events).visitsByDecade
    }

    public static func visitsPerYear<S: Sequence>(_ events: S) -> [YearCount] where S.Element == TimelineEvent {
        Statistics(events: events).visitsByYear
    }

    public static func eventsPerKind<S: Sequence>(_ events: S) -> [EventKind: Int] where S.Element == TimelineEvent {
        Statistics(events: events).eventsByKind
    }

    public static func visitsPerDirection<S: Sequence>(_ events: S) -> [Direction: Int] where S.Element == TimelineEvent {
        Statistics(events: events).visitsByDirection
    }
}
