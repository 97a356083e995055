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
    public private(set) var visitsByDecadeAndDirection: [Int: [Direction: Int]] = [:]
    public private(set) var visitsByYearAndDirection: [Int: [Direction: Int]] = [:]
    public private(set) var visitsByDirection: [Direction: Int] = [:]
    public private(set) var eventsByKind: [EventKind: Int] = [:]

    public init() {}

    /// Rebuilds statistics from their persisted parts: the totals, the kinds, and visits per year and
    /// direction (from which the per-decade and per-direction counts follow).
    public init(totalEvents: Int, eventsByKind: [EventKind: Int], visitsByYear: [YearCount]) {
        self.init()
        self.totalEvents = totalEvents
        self.eventsByKind = eventsByKind
        for entry in visitsByYear {
            let direction = Direction(from: entry.from, to: entry.to)
            totalVisits += entry.count
            visitsByDirection[direction, default: 0] += entry.count
            visitsByYearAndDirection[entry.year, default: [:]][direction, default: 0] += entry.count
            visitsByDecadeAndDirection[Aggregation.decade(of: entry.year), default: [:]][direction, default: 0] += entry.count
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
        eventsByKind[kind, default: 0] += 1
        guard kind == .visit else { return }
        totalVisits += 1
        let direction = Direction(from: from, to: to)
        visitsByDirection[direction, default: 0] += 1
        visitsByDecadeAndDirection[Aggregation.decade(of: year), default: [:]][direction, default: 0] += 1
        visitsByYearAndDirection[year, default: [:]][direction, default: 0] += 1
    }

    /// Adds counts kept elsewhere (restored state, another partition).
    public mutating func merge(_ other: Statistics) {
        totalEvents += other.totalEvents
        totalVisits += other.totalVisits
        for (kind, count) in other.eventsByKind { eventsByKind[kind, default: 0] += count }
        for (direction, count) in other.visitsByDirection { visitsByDirection[direction, default: 0] += count }
        for (decade, counts) in other.visitsByDecadeAndDirection {
            for (direction, count) in counts { visitsByDecadeAndDirection[decade, default: [:]][direction, default: 0] += count }
        }
        for (year, counts) in other.visitsByYearAndDirection {
            for (direction, count) in counts { visitsByYearAndDirection[year, default: [:]][direction, default: 0] += count }
        }
    }

    /// Visits per decade and direction, sorted by decade then direction.
    public var visitsByDecade: [DecadeCount] {
        visitsByDecadeAndDirection.flatMap { decade, counts in
            counts.map { DecadeCount(decade: decade, from: $0.key.from, to: $0.key.to, count: $0.value) }
        }.sorted()
    }

    /// Visits per year and direction, sorted by year then direction.
    public var visitsByYear: [YearCount] {
        visitsByYearAndDirection.flatMap { year, counts in
            counts.map { YearCount(year: year, from: $0.key.from, to: $0.key.to, count: $0.value) }
        }.sorted()
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
