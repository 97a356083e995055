import Testing
@testable import Timeline

@Suite("Aggregation maths")
struct AggregationTests {
    @Test("Years fall into the decade that starts at or before them", arguments: [
        (1956, 1950), (1950, 1950), (1949, 1940), (2000, 2000), (9, 0), (-1, -10), (-44, -50), (-40, -40),
    ])
    func decades(year: Int, decade: Int) {
        #expect(Aggregation.decade(of: year) == decade)
    }

    let events: [TimelineEvent] = [
        Fixtures.visit("1956", "MN", "KP", guest: "a"),
        Fixtures.visit("1956-07-16/1956-07-18", "KP", "MN", guest: "b"),
        Fixtures.visit("1959", "KP", "MN", guest: "c"),
        Fixtures.visit("1961", "KP", "MN", guest: "d"),
        Fixtures.visit("2017/..", "MN", "KP", guest: "e"),
        TimelineEvent(kind: .aid, date: Fixtures.date("1952"), from: Fixtures.code("MN"), to: Fixtures.code("KP"), source: Provenance(document: "t")),
        TimelineEvent(kind: .ambassadorTerm, date: Fixtures.date("1950/1952"), from: Fixtures.code("MN"), to: Fixtures.code("KP"), source: Provenance(document: "t")),
    ]

    @Test("Visits per decade and direction count only visits, sorted by decade then direction")
    func perDecade() {
        let counts = Aggregation.visitsPerDecade(events).map { "\($0.decade) \($0.from)->\($0.to) \($0.count)" }
        #expect(counts == ["1950 KP->MN 2", "1950 MN->KP 1", "1960 KP->MN 1", "2010 MN->KP 1"])
    }

    @Test("Visits per year use the first year of a range")
    func perYear() {
        let counts = Aggregation.visitsPerYear(events).map { "\($0.year) \($0.from)->\($0.to) \($0.count)" }
        #expect(counts == ["1956 KP->MN 1", "1956 MN->KP 1", "1959 KP->MN 1", "1961 KP->MN 1", "2017 MN->KP 1"])
    }

    @Test("Events per kind count every kind")
    func perKind() {
        #expect(Aggregation.eventsPerKind(events) == [.visit: 5, .aid: 1, .ambassadorTerm: 1])
    }

    @Test("Totals, and merging two halves equals counting the whole")
    func totalsAndMerge() {
        let whole = Statistics(events: events)
        #expect(whole.totalEvents == 7)
        #expect(whole.totalVisits == 5)
        var half = Statistics(events: events.prefix(3))
        half.merge(Statistics(events: events.dropFirst(3)))
        #expect(half == whole)
    }

    @Test("Statistics rebuilt from their parts equal the originals, dates and facts included")
    func rebuild() {
        let whole = Statistics(events: events)
        #expect(Statistics(parts: whole.parts) == whole)
        #expect(whole.parts.facts.count == events.filter(\.kind.tellsState).count)
    }

    @Test("Statistics rebuilt from an older state's totals, kinds and visits per year count alike, with visits dated to their year")
    func rebuildFromCounts() {
        let whole = Statistics(events: events)
        let rebuilt = Statistics(totalEvents: whole.totalEvents, eventsByKind: whole.eventsByKind, visitsByYear: whole.visitsByYear)
        #expect(rebuilt.totalEvents == whole.totalEvents && rebuilt.totalVisits == whole.totalVisits)
        #expect(rebuilt.eventsByKind == whole.eventsByKind)
        #expect(rebuilt.visitsByYear == whole.visitsByYear)
        rebuilt.forEachVisitYear { year, _, _, days in #expect(days.dates(year: year) == [PartialDate(year: year)!]) }
    }
}

@Suite("Event cells")
struct EventCellsTests {
    @Test("The table counts what a dictionary counts, keeps the dates marked, through its growth, and ignores order when compared")
    func agreesWithADictionary() {
        var generator = SystemRandomNumberGenerator()
        var table = EventCells(), reference: [UInt64: Int] = [:], marks: [UInt64: Set<Int>] = [:]
        var added: [(UInt64, Int, Int?)] = []
        for _ in 0..<20_000 {
            // Few distinct years and codes, so that cells repeat; now and then a zero amount.
            let cell = UInt64(UInt32(bitPattern: Int32.random(in: -3...300, using: &generator))) << 32
                | UInt64.random(in: 0...9, using: &generator) << 12 | UInt64.random(in: 670...675, using: &generator)
            let amount = Int.random(in: 0...3, using: &generator)
            // Half the cells carry dates (visits), the other half none.
            let mark: Int? = cell & 1 == 0 ? Int.random(in: 0...VisitDays.decadeMark, using: &generator) : nil
            if let mark {
                table.add(amount, to: cell, mark: mark)
                marks[cell, default: []].insert(mark)
            } else {
                table.add(amount, to: cell)
            }
            reference[cell, default: 0] += amount
            added.append((cell, amount, mark))
        }
        #expect(table.count == reference.count)
        var seen: [UInt64: Int] = [:], seenMarks: [UInt64: Set<Int>] = [:]
        table.forEach { cell, count, days in
            seen[cell] = count
            if !days.isEmpty { seenMarks[cell] = Set(days.marks) }
        }
        #expect(seen == reference)
        #expect(seenMarks == marks)
        for (cell, count) in reference { #expect(table.entry(of: cell)?.count == count) }
        #expect(table.entry(of: UInt64(5000) << 32) == nil)

        var reversed = EventCells()
        for (cell, amount, mark) in added.reversed() {
            if let mark { reversed.add(amount, to: cell, mark: mark) } else { reversed.add(amount, to: cell) }
        }
        #expect(reversed == table)
        #expect(reversed.hashValue == table.hashValue)
        var moved = reversed
        moved.add(1, to: added[0].0)
        #expect(moved != table)
        // The same counts with one date more differ.
        let dated = added.first { $0.2 != nil }!.0
        let unmarked = (0...VisitDays.decadeMark).first { !marks[dated]!.contains($0) }!
        var redated = reversed
        redated.add(0, to: dated, mark: unmarked)
        #expect(redated != table)
        var extra = table
        extra.add(0, to: UInt64(5000) << 32)  // a cell more, with nothing counted
        #expect(extra != table)
        #expect(EventCells() == EventCells())
    }

    @Test("Statistics of the same events in another order are equal and hash alike")
    func statisticsIgnoreOrder() {
        let events = SyntheticEvents.events(count: 3_000, seed: 9)
        let forward = Statistics(events: events), backward = Statistics(events: events.reversed())
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        #expect(forward != Statistics(events: events.dropFirst()))
        #expect(Set([forward, backward]).count == 1)
    }
}

@Suite("Synthetic events")
struct SyntheticEventsTests {
    @Test("The same count and seed give the same events; another seed gives others")
    func deterministic() {
        #expect(SyntheticEvents.events(count: 50, seed: 7) == SyntheticEvents.events(count: 50, seed: 7))
        #expect(SyntheticEvents.events(count: 50, seed: 7).map(\.id) != SyntheticEvents.events(count: 50, seed: 8).map(\.id))
    }

    @Test("Ids are distinct, directions never point home, and dates span centuries")
    func distinctAndSpread() {
        let events = SyntheticEvents.events(count: 5_000, seed: 1)
        #expect(Set(events.map(\.id)).count == 5_000)
        #expect(events.allSatisfy { $0.from != $0.to && $0.kind == .visit })
        let years = events.map(\.date.year)
        #expect(years.min()! < 1750 && years.max()! > 1990)
        #expect(Set(events.map { "\($0.from)\($0.to)" }).count > 100)
    }
}
