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
///
/// Events are counted per (year, kind, direction), the one table every view is derived from,
/// restricted or not (`filtered(_:)`): per decade, per year, per direction, per kind, per pair. For
/// visits the table also keeps which dates they fell on (`VisitDays`), and events that tell a
/// state (`StandingFact`) are kept whole, so that first and last visits, gaps and "relations on a
/// date" need no rescan of the events.
public struct Statistics: Hashable, Sendable {
    public private(set) var totalEvents = 0
    public private(set) var totalVisits = 0
    /// Counts per (year, kind, from, to) (see `cell`): counting an event is one multiplication and a
    /// probe or two (see `EventCells`).
    private var cells = EventCells()
    /// Events per kind, indexed like `EventKind.allCases`.
    private var kindCounts = [Int](repeating: 0, count: EventKind.allCases.count)
    /// The facts of each pair (`Statistics.pairKey`), in the order they came: appending costs the
    /// same however many there are. Sorted when read (`facts`, `facts(between:and:)`).
    private var factsByPair: [UInt32: [StandingFact]] = [:]
    /// Facts not kept because their pair already had `factsPerPair` (counted all the same).
    public private(set) var factsNotKept = 0
    /// At most this many facts are kept per pair: a stream of thousands of "agreements" a year
    /// (a news-event dataset) cannot grow the aggregator without bound.
    public static let factsPerPair = 10_000
    /// Set when the statistics were rebuilt from a state written before visits' dates, per-pair
    /// counts of every kind and facts were kept: restricted views and relations on a date would
    /// then be incomplete, and say so instead.
    public private(set) var lacksDetail = false
    /// Whether visits' dates and facts are kept; without them (a live view that draws counts only)
    /// the statistics cost 24 bytes a cell and nothing per fact.
    public let keepsDates: Bool

    /// Empty statistics; `keepsDates: false` for counts only (no visit dates, no facts).
    public init(keepsDates: Bool = true) {
        self.keepsDates = keepsDates
    }

    /// Rebuilds statistics from what an older state file kept: the totals, the kinds, and visits
    /// per year and direction. Their dates within the year are unknown, so each year with visits
    /// reads as a visit "during the year"; events of other kinds have no year or direction.
    public init(totalEvents: Int, eventsByKind: [EventKind: Int], visitsByYear: [YearCount]) {
        self.init(parts: Parts(totalEvents: totalEvents, eventsByKind: eventsByKind, cells: [],
                               visitDays: visitsByYear.map { ($0.year, Direction(from: $0.from, to: $0.to), $0.count, Self.yearOnly) },
                               facts: [], lacksDetail: true))
    }

    private static let yearOnly: VisitDays = {
        var days = VisitDays()
        days.insert(VisitDays.yearMark)
        return days
    }()

    /// Statistics of a batch of distinct events.
    public init<S: Sequence>(events: S, keepsDates: Bool = true) where S.Element == TimelineEvent {
        self.init(keepsDates: keepsDates)
        for event in events { add(event) }
    }

    /// Counts one event. The caller guarantees it was not counted before.
    public mutating func add(_ event: TimelineEvent) {
        add(EventSummary(event))
    }

    /// Counts one event given by its summary. The caller guarantees it was not counted before.
    public mutating func add(_ summary: EventSummary) {
        let kind = summary.kind
        totalEvents += 1
        kindCounts[kind.index] += 1
        let cell = Self.cell(year: summary.year, kind: kind, from: summary.from, to: summary.to)
        if kind == .visit {
            totalVisits += 1
            if keepsDates { cells.add(1, to: cell, mark: summary.mark) } else { cells.add(1, to: cell) }
        } else {
            cells.add(1, to: cell)
            if keepsDates, let fact = summary.fact { insert(fact) }
        }
    }

    private mutating func insert(_ fact: StandingFact) {
        let key = Self.pairKey(fact.from, fact.to)
        guard (factsByPair[key]?.count ?? 0) < Self.factsPerPair else {
            factsNotKept += 1
            return
        }
        factsByPair[key, default: []].append(fact)
    }

    /// The two codes of a pair in code order, as one number.
    private static func pairKey(_ a: CountryCode, _ b: CountryCode) -> UInt32 {
        UInt32(min(a, b).index) << 16 | UInt32(max(a, b).index)
    }

    /// Every fact kept, sorted (by date, then kind, direction, person, description).
    public var facts: [StandingFact] { factsByPair.values.flatMap { $0 }.sorted() }

    /// The facts between two countries, either way, sorted.
    public func facts(between a: CountryCode, and b: CountryCode) -> [StandingFact] {
        (factsByPair[Self.pairKey(a, b)] ?? []).sorted()
    }

    /// Adds counts kept elsewhere (restored state, another partition).
    public mutating func merge(_ other: Statistics) {
        totalEvents += other.totalEvents
        totalVisits += other.totalVisits
        for index in kindCounts.indices { kindCounts[index] += other.kindCounts[index] }
        other.cells.forEach { cell, count, days in cells.add(count, to: cell, days: keepsDates ? days : nil) }
        if keepsDates { for fact in other.facts { insert(fact) } }
        factsNotKept += other.factsNotKept
        lacksDetail = lacksDetail || other.lacksDetail
    }

    /// Events per kind, for the kinds seen.
    public var eventsByKind: [EventKind: Int] {
        var counts: [EventKind: Int] = [:]
        for (index, kind) in EventKind.allCases.enumerated() where kindCounts[index] > 0 { counts[kind] = kindCounts[index] }
        return counts
    }

    public var visitsByDirection: [Direction: Int] {
        var counts: [Direction: Int] = [:]
        forEachVisitCell { _, direction, count, _ in counts[direction, default: 0] += count }
        return counts
    }

    public var visitsByYearAndDirection: [Int: [Direction: Int]] {
        var counts: [Int: [Direction: Int]] = [:]
        forEachVisitCell { year, direction, count, _ in counts[year, default: [:]][direction, default: 0] += count }
        return counts
    }

    public var visitsByDecadeAndDirection: [Int: [Direction: Int]] {
        var counts: [Int: [Direction: Int]] = [:]
        forEachVisitCell { year, direction, count, _ in counts[Aggregation.decade(of: year), default: [:]][direction, default: 0] += count }
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
        counts.reserveCapacity(cells.count)
        forEachVisitCell { year, direction, count, _ in counts.append(YearCount(year: year, from: direction.from, to: direction.to, count: count)) }
        return counts.sorted()
    }

    /// The dates visits fell on in each year and direction that had one.
    public func forEachVisitYear(_ body: (Int, Direction, Int, VisitDays) -> Void) {
        forEachVisitCell(body)
    }

    /// Every count kept: year, kind, direction and events.
    public func forEachCount(_ body: (Int, EventKind, Direction, Int) -> Void) {
        cells.forEach { cell, count, _ in
            let (year, kind, direction) = Self.coordinates(of: cell)
            body(year, kind, direction, count)
        }
    }

    private func forEachVisitCell(_ body: (Int, Direction, Int, VisitDays) -> Void) {
        cells.forEach { cell, count, days in
            let (year, kind, direction) = Self.coordinates(of: cell)
            if kind == .visit { body(year, direction, count, days) }
        }
    }

    // MARK: Restricted views

    /// The statistics of the events `filter` keeps: counts, visit dates and facts.
    public func filtered(_ filter: StatisticsFilter) -> Statistics {
        var result = Statistics(keepsDates: keepsDates)
        cells.forEach { cell, count, days in
            let (year, kind, direction) = Self.coordinates(of: cell)
            guard filter.matches(kind: kind, year: year, from: direction.from, to: direction.to) else { return }
            result.totalEvents += count
            result.kindCounts[kind.index] += count
            if kind == .visit { result.totalVisits += count }
            result.cells.add(count, to: cell, days: days)
        }
        for (key, pairFacts) in factsByPair {
            let kept = pairFacts.filter { filter.matches(kind: $0.kind, year: $0.date.year, from: $0.from, to: $0.to) }
            if !kept.isEmpty { result.factsByPair[key] = kept }
        }
        result.lacksDetail = lacksDetail
        return result
    }

    // MARK: Storage

    /// What a state file keeps of the statistics, and gives back to `init(parts:)`.
    public struct Parts: Sendable {
        public var totalEvents: Int
        public var eventsByKind: [EventKind: Int]
        /// Events of every kind but visits per (year, kind, direction).
        public var cells: [KindCount]
        /// Visits per year and direction, with their dates.
        public var visitDays: [(year: Int, direction: Direction, count: Int, days: VisitDays)]
        public var facts: [StandingFact]
        public var factsNotKept: Int
        /// Rebuilt from a state that kept less (see `Statistics.lacksDetail`).
        public var lacksDetail: Bool

        public init(totalEvents: Int, eventsByKind: [EventKind: Int], cells: [KindCount],
                    visitDays: [(year: Int, direction: Direction, count: Int, days: VisitDays)], facts: [StandingFact],
                    factsNotKept: Int = 0, lacksDetail: Bool = false) {
            self.totalEvents = totalEvents
            self.eventsByKind = eventsByKind
            self.cells = cells
            self.visitDays = visitDays
            self.facts = facts
            self.factsNotKept = factsNotKept
            self.lacksDetail = lacksDetail
        }
    }

    /// The statistics' parts; the lists of counts in no particular order (a checkpoint writes them
    /// every few thousand events, and sorting them would cost more than writing them).
    public var parts: Parts {
        var kinds: [KindCount] = []
        var visits: [(year: Int, direction: Direction, count: Int, days: VisitDays)] = []
        cells.forEach { cell, count, days in
            let (year, kind, direction) = Self.coordinates(of: cell)
            if kind == .visit {
                visits.append((year, direction, count, days))
            } else {
                kinds.append(KindCount(year: year, kind: kind, from: direction.from, to: direction.to, count: count))
            }
        }
        return Parts(totalEvents: totalEvents, eventsByKind: eventsByKind, cells: kinds, visitDays: visits, facts: facts,
                     factsNotKept: factsNotKept, lacksDetail: lacksDetail)
    }

    public init(parts: Parts) {
        self.init()
        totalEvents = parts.totalEvents
        for (kind, count) in parts.eventsByKind { kindCounts[kind.index] += count }
        for entry in parts.cells {
            cells.add(entry.count, to: Self.cell(year: entry.year, kind: entry.kind, from: entry.from, to: entry.to))
        }
        for entry in parts.visitDays {
            totalVisits += entry.count
            cells.add(entry.count, to: Self.cell(year: entry.year, kind: .visit, from: entry.direction.from, to: entry.direction.to),
                      days: entry.days)
        }
        for fact in parts.facts { insert(fact) }
        factsNotKept += parts.factsNotKept
        lacksDetail = parts.lacksDetail
    }

    /// Equal when they count the same and keep the same facts, whatever order the facts came in.
    public static func == (lhs: Statistics, rhs: Statistics) -> Bool {
        lhs.totalEvents == rhs.totalEvents && lhs.totalVisits == rhs.totalVisits && lhs.kindCounts == rhs.kindCounts
            && lhs.keepsDates == rhs.keepsDates && lhs.factsNotKept == rhs.factsNotKept && lhs.lacksDetail == rhs.lacksDetail
            && lhs.cells == rhs.cells && lhs.factsByPair.keys == rhs.factsByPair.keys
            && lhs.factsByPair.allSatisfy { key, facts in facts.sorted() == rhs.factsByPair[key]!.sorted() }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(totalEvents)
        hasher.combine(kindCounts)
        hasher.combine(cells)
        hasher.combine(factsByPair.values.reduce(0) { $0 + $1.count })
    }

    /// `year` (as 32 bits) | kind (8 bits) | from's index (12 bits) | to's index (12 bits).
    @inline(__always)
    private static func cell(year: Int, kind: EventKind, from: CountryCode, to: CountryCode) -> UInt64 {
        UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: year))) << 32 | UInt64(kind.index) << 24
            | UInt64(from.index) << 12 | UInt64(to.index)
    }

    private static func coordinates(of cell: UInt64) -> (year: Int, kind: EventKind, direction: Direction) {
        let year = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: cell >> 32)))
        let kind = EventKind.allCases[Int((cell >> 24) & 0xFF)]
        let from = CountryCode(index: Int((cell >> 12) & 0xFFF)), to = CountryCode(index: Int(cell & 0xFFF))
        return (year, kind, Direction(from: from, to: to))
    }
}

/// Events of one kind in one year in one direction.
public struct KindCount: Hashable, Sendable, Comparable {
    public var year: Int
    public var kind: EventKind
    public var from: CountryCode
    public var to: CountryCode
    public var count: Int

    public init(year: Int, kind: EventKind, from: CountryCode, to: CountryCode, count: Int) {
        self.year = year
        self.kind = kind
        self.from = from
        self.to = to
        self.count = count
    }

    public static func < (lhs: KindCount, rhs: KindCount) -> Bool {
        (lhs.year, lhs.kind, lhs.from, lhs.to) < (rhs.year, rhs.kind, rhs.from, rhs.to)
    }
}

/// Counts per cell (`Statistics.cell`): an open-addressing table with linear probing, at most half
/// full, and for cells of visits the dates they fell on in an array beside it (only cells
/// of visits have dates, and a table without dates pays 4 bytes a slot for them). A dictionary
/// hashes each key with SipHash, several times the cost of the rest of counting a visit; cells are
/// already well spread in their low bits and a multiplication mixes the rest. Two tables are equal
/// when they hold the same cells with the same counts and dates, whatever their order.
struct EventCells: Hashable, Sendable {
    /// A cell, its count and where its dates are, side by side (24 bytes), so that a probe touches one cache line.
    private struct Slot {
        var cell: UInt64
        var count: Int
        /// The cell's entry in `days`, or -1.
        var days: Int32
    }

    /// No cell is all ones: a country's index is below 676.
    private static let empty = UInt64.max
    private var slots: [Slot] = []
    private var days: [VisitDays] = []
    private(set) var count = 0

    /// Adds `amount` to the count of `cell` (inserting it, even with 0, when absent) and marks a date.
    @inline(__always)
    mutating func add(_ amount: Int, to cell: UInt64, mark: VisitDays.Mark) {
        let index = slot(for: cell)
        slots[index].count += amount
        days[daysIndex(index)].insert(mark)
    }

    /// Adds `amount` to the count of `cell`, and the dates `marks` when given.
    mutating func add(_ amount: Int, to cell: UInt64, days marks: VisitDays? = nil) {
        let index = slot(for: cell)
        slots[index].count += amount
        if let marks, !marks.isEmpty { days[daysIndex(index)].formUnion(marks) }
    }

    /// The slot of `cell`, made when absent.
    @inline(__always)
    private mutating func slot(for cell: UInt64) -> Int {
        if (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var index = Self.slot(cell, mask)
        while true {
            let found = slots[index].cell
            if found == cell { return index }
            if found == Self.empty {
                slots[index].cell = cell
                count += 1
                return index
            }
            index = (index + 1) & mask
        }
    }

    @inline(__always)
    private mutating func daysIndex(_ slot: Int) -> Int {
        if slots[slot].days < 0 {
            slots[slot].days = Int32(days.count)
            days.append(VisitDays())
        }
        return Int(slots[slot].days)
    }

    /// The count and dates of `cell`, nil when absent.
    func entry(of cell: UInt64) -> (count: Int, days: VisitDays)? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var index = Self.slot(cell, mask)
        while slots[index].cell != Self.empty {
            if slots[index].cell == cell { return (slots[index].count, dates(of: slots[index])) }
            index = (index + 1) & mask
        }
        return nil
    }

    private func dates(of slot: Slot) -> VisitDays { slot.days < 0 ? VisitDays() : days[Int(slot.days)] }

    /// Calls `body` with every cell, its count and its dates (empty when none), in no particular order.
    func forEach(_ body: (UInt64, Int, VisitDays) throws -> Void) rethrows {
        for slot in slots where slot.cell != Self.empty { try body(slot.cell, slot.count, dates(of: slot)) }
    }

    @inline(__always)
    private static func slot(_ cell: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (cell &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(cell: Self.empty, count: 0, days: -1), count: max(64, old.count * 2))
        count = 0
        for slot in old where slot.cell != Self.empty {
            let index = self.slot(for: slot.cell)
            slots[index].count = slot.count
            slots[index].days = slot.days
        }
    }

    static func == (lhs: EventCells, rhs: EventCells) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var equal = true
        lhs.forEach { cell, count, days in
            guard equal, let other = rhs.entry(of: cell) else { equal = false; return }
            equal = other.count == count && other.days == days
        }
        return equal
    }

    /// Independent of the order of the cells, as `==` is.
    func hash(into hasher: inout Hasher) {
        var entries = 0
        forEach { cell, count, days in
            var entry = Hasher()
            entry.combine(cell)
            entry.combine(count)
            entry.combine(days)
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
