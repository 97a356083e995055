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
    /// so counting a visit is one multiplication and a probe or two (see `VisitCells`).
    private var visitCells = VisitCells()
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
            visitCells.add(entry.count, to: Self.cell(year: entry.year, from: entry.from, to: entry.to))
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
        visitCells.add(1, to: Self.cell(year: year, from: from, to: to))
    }

    /// Adds counts kept elsewhere (restored state, another partition).
    public mutating func merge(_ other: Statistics) {
        totalEvents += other.totalEvents
        totalVisits += other.totalVisits
        for index in kindCounts.indices { kindCounts[index] += other.kindCounts[index] }
        other.visitCells.forEach { cell, count in visitCells.add(count, to: cell) }
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
        visitCells.forEach { cell, count in
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

/// Counts per cell (`Statistics.cell`): an open-addressing table with linear probing, at most half
/// full. A dictionary hashes each key with SipHash, several times the cost of the rest of counting
/// a visit; cells are already well spread in their low bits and a multiplication mixes the rest.
/// Two tables are equal when they hold the same cells with the same counts, whatever their order.
struct VisitCells: Hashable, Sendable {
    /// A cell and its count side by side, so that a probe touches one cache line.
    private struct Slot {
        var cell: UInt64
        var count: Int
    }

    /// No cell is all ones: a country's index is below 676.
    private static let empty = UInt64.max
    private var slots: [Slot] = []
    private(set) var count = 0

    /// Adds `amount` to the count of `cell`, inserting it (even with 0) when absent.
    @inline(__always)
    mutating func add(_ amount: Int, to cell: UInt64) {
        if (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var index = Self.slot(cell, mask)
        while true {
            let found = slots[index].cell
            if found == cell {
                slots[index].count += amount
                return
            }
            if found == Self.empty {
                slots[index] = Slot(cell: cell, count: amount)
                count += 1
                return
            }
            index = (index + 1) & mask
        }
    }

    /// The count of `cell`, nil when absent.
    func count(of cell: UInt64) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var index = Self.slot(cell, mask)
        while slots[index].cell != Self.empty {
            if slots[index].cell == cell { return slots[index].count }
            index = (index + 1) & mask
        }
        return nil
    }

    /// Calls `body` with every cell and its count, in no particular order.
    func forEach(_ body: (UInt64, Int) throws -> Void) rethrows {
        for slot in slots where slot.cell != Self.empty { try body(slot.cell, slot.count) }
    }

    @inline(__always)
    private static func slot(_ cell: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (cell &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(cell: Self.empty, count: 0), count: max(64, old.count * 2))
        count = 0
        for slot in old where slot.cell != Self.empty { add(slot.count, to: slot.cell) }
    }

    static func == (lhs: VisitCells, rhs: VisitCells) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for slot in lhs.slots where slot.cell != empty {
            guard rhs.count(of: slot.cell) == slot.count else { return false }
        }
        return true
    }

    /// Independent of the order of the cells, as `==` is.
    func hash(into hasher: inout Hasher) {
        var entries = 0
        forEach { cell, count in
            var entry = Hasher()
            entry.combine(cell)
            entry.combine(count)
            entries ^= entry.finalize()
        }
        hasher.combine(count)
        hasher.combine(entries)
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
