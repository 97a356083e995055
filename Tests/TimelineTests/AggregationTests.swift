import Testing
import Timeline

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

    @Test("Statistics rebuilt from totals, kinds and visits per year equal the originals")
    func rebuild() {
        let whole = Statistics(events: events)
        let rebuilt = Statistics(totalEvents: whole.totalEvents, eventsByKind: whole.eventsByKind, visitsByYear: whole.visitsByYear)
        #expect(rebuilt == whole)
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
