import Foundation
import Testing
@testable import Timeline

private func fact(_ kind: EventKind, _ date: String, _ from: String, _ to: String, person: String? = nil, _ description: String? = nil) -> TimelineEvent {
    TimelineEvent(kind: kind, date: Fixtures.date(date), from: Fixtures.code(from), to: Fixtures.code(to), guest: person,
                  description: description, source: Provenance(document: "test"))
}

/// Several pairs, every kind, dates of every precision: what the restricted views are checked on.
private let manyPairs: [TimelineEvent] = {
    var events = SyntheticEvents.events(count: 3_000, seed: 5)
    events += [
        fact(.relationsEstablished, "1948-10-15", "MN", "KP"),
        fact(.agreementSigned, "1986", "MN", "KP", "First treaty of friendship and cooperation"),
        fact(.agreementEnded, "1995", "MN", "KP", "The 1986 friendship treaty is annulled"),
        fact(.embassyClosed, "1999", "KP", "MN", "North Korea closes its embassy"),
        fact(.ambassadorTerm, "1992/1997", "MN", "KP", person: "First envoy"),
        fact(.ambassadorTerm, "2017/..", "KP", "MN", person: "Second envoy"),
        fact(.aid, "1952", "MN", "KP", "Orphans taken in"),
        fact(.relationsEstablished, "1950-01-13", "CN", "VN"),
        fact(.agreementSigned, "1961-07-11/1996", "CN", "KP", "Treaty of friendship"),
        fact(.diplomatsExpelled, "../1999", "MN", "KP", "Two diplomats expelled"),
    ]
    return events
}()

@Suite("Days and visit dates")
struct DayRangeTests {
    @Test("Day numbers and calendar dates convert both ways, across leap years, centuries and before year 0")
    func roundTrip() {
        for (year, month, day) in [(1970, 1, 1), (2000, 2, 29), (1900, 3, 1), (1600, 12, 31), (-44, 3, 15), (0, 1, 1), (9999, 12, 31)] {
            let number = DayRange.dayNumber(year: year, month: month, day: day)
            #expect(DayRange.civil(number) == (year, month, day))
        }
        #expect(DayRange.dayNumber(year: 1970, month: 1, day: 1) == 0)
        #expect(DayRange.dayNumber(year: 2000, month: 3, day: 1) - DayRange.dayNumber(year: 2000, month: 2, day: 28) == 2)
    }

    @Test("A date covers its day, month, year or decade")
    func spans() {
        func days(_ text: String) -> Int { let range = DayRange(PartialDate(edtf: text)); return range.last - range.first + 1 }
        #expect(days("1999-06-01") == 1)
        #expect(days("2000-02") == 29)
        #expect(days("1999") == 365)
        #expect(days("2000") == 366)
        #expect(days("197X") == 3_652)  // 1972 and 1976 are leap years
    }

    @Test("Each precision marks its own bit and reads back as the same date", arguments: ["1956-07-16", "2000-12-31", "2000-02-29", "1999-12", "1956", "197X", "1999-01-01"])
    func marks(text: String) {
        let date = EDTFDate(edtf: text)!
        let (year, mark) = VisitDays.mark(of: date)
        var days = VisitDays()
        days.insert(mark)
        #expect(days.dates(year: year) == [date.start!])
        #expect(VisitDays(wordArray: days.wordArray) == days)
    }

    @Test("Every day of common and leap years has its own mark, which reads back as the day")
    func everyDay() {
        for year in [1900, 1999, 2000, 2024, -44] {
            var seen = Set<Int>()
            for month in 1...12 {
                for day in 1...PartialDate.daysIn(month: month, year: year) {
                    let date = PartialDate(year: year, month: month, day: day)!
                    let mark = VisitDays.mark(of: date)
                    #expect(VisitDays.date(year: year, mark: mark) == date)
                    seen.insert(mark)
                }
            }
            #expect(seen == Set(0..<(PartialDate.daysIn(month: 2, year: year) == 29 ? 366 : 365)))
        }
    }

    @Test("An interval is marked by its start, or its end when open at the start")
    func intervals() {
        #expect(VisitDays.mark(of: Fixtures.date("1956-07-16/1956-07-18")) == VisitDays.mark(of: Fixtures.date("1956-07-16")))
        #expect(VisitDays.mark(of: Fixtures.date("../1999")) == VisitDays.mark(of: Fixtures.date("1999")))
    }

    @Test("Stored words with bits past the last mark are refused")
    func badWords() {
        #expect(VisitDays(wordArray: [0, 0, 0, 0, 0, 1 << 60]) == nil)
        #expect(VisitDays(wordArray: [0, 0, 0]) == nil)
    }
}

extension PartialDate {
    init(edtf text: String) { self = EDTFDate(edtf: text)!.start! }
}

@Suite("Reports by pair and period")
struct StatisticsFilterTests {
    static let kp = Fixtures.code("KP"), mn = Fixtures.code("MN"), cn = Fixtures.code("CN")

    @Test("A restricted view equals the statistics of exactly the events the filter keeps, counted on their own", arguments: [
        StatisticsFilter(pair: (mn, kp)),
        StatisticsFilter(country: cn),
        StatisticsFilter(fromYear: 1980, toYear: 1999),
        StatisticsFilter(kinds: [.visit]),
        StatisticsFilter(kinds: [.agreementSigned, .ambassadorTerm]),
        StatisticsFilter(pair: (kp, mn), fromYear: 1950, toYear: 2000, kinds: [.visit, .embassyClosed]),
        StatisticsFilter(country: mn, toYear: 1800),
        StatisticsFilter(pair: (Fixtures.code("FR"), Fixtures.code("ZZ"))),
    ])
    func againstIndependentCounts(filter: StatisticsFilter) {
        let kept = manyPairs.filter { event in
            if let pair = filter.pair, Set([event.from, event.to]) != Set([pair.0, pair.1]) { return false }
            if let country = filter.country, event.from != country, event.to != country { return false }
            if let from = filter.fromYear, event.date.year < from { return false }
            if let to = filter.toYear, event.date.year > to { return false }
            return filter.kinds.isEmpty || filter.kinds.contains(event.kind)
        }
        let restricted = Statistics(events: manyPairs).filtered(filter)
        #expect(restricted == Statistics(events: kept))
        #expect(restricted.totalEvents == kept.count)
        #expect(restricted.totalVisits == kept.filter { $0.kind == .visit }.count)
    }

    @Test("Statistics without dates count alike, keep no visit dates and no facts, and restrict alike")
    func countsOnly() {
        let full = Statistics(events: manyPairs), light = Statistics(events: manyPairs, keepsDates: false)
        #expect(light.totalEvents == full.totalEvents && light.eventsByKind == full.eventsByKind)
        #expect(light.visitsByYear == full.visitsByYear)
        #expect(light.facts.isEmpty && !full.facts.isEmpty)
        light.forEachVisitYear { _, _, _, days in #expect(days.isEmpty) }
        let filter = StatisticsFilter(pair: (Self.mn, Self.kp), kinds: [.visit, .aid])
        #expect(light.filtered(filter).visitsByYear == full.filtered(filter).visitsByYear)
        #expect(light.filtered(filter).eventsByKind == full.filtered(filter).eventsByKind)
    }

    @Test("A filter reads back from its encoded form; bad parts are named")
    func encoding() throws {
        let filter = StatisticsFilter(pair: (Self.mn, Self.kp), country: Self.mn, fromYear: 1980, toYear: 1999, kinds: [.visit, .aid])
        #expect(filter.encoded == "pair=KP-MN;country=MN;from=1980;to=1999;kind=aid,visit")
        #expect(try StatisticsFilter(encoded: filter.encoded) == filter)
        #expect(try StatisticsFilter(encoded: "") == StatisticsFilter())
        for (text, reason) in [("pair=MN", "pair of two-letter"), ("pair=MN-MN", "same country"), ("kind=parade", "unknown kind 'parade'"),
                               ("from=abc", "not a year"), ("from=2000;to=1990", "after"), ("size=3", "unknown restriction"), ("pair", "name=value")] {
            #expect { _ = try StatisticsFilter(encoded: text) } throws: { "\($0)".contains(reason) }
        }
        #expect(try StatisticsFilter.year("1999-06-01", "from") == 1999)
    }

    @Test("The JSON report carries the filter; the text report says what it is restricted to")
    func reportShowsFilter() throws {
        let report = Report(title: "t", statistics: Statistics(events: manyPairs), filter: StatisticsFilter(pair: (Self.mn, Self.kp), fromYear: 1980))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.render(.json).utf8)) as? [String: Any])
        let filter = try #require(json["filter"] as? [String: Any])
        #expect(filter["pair"] as? [String] == ["KP", "MN"])
        #expect(filter["from"] as? Int == 1980)
        #expect(filter["to"] == nil)
        #expect(report.render(.text).contains("Restricted to KP–MN, from 1980"))
        let plain = Report(title: "t", statistics: Statistics(events: manyPairs))
        #expect((try JSONSerialization.jsonObject(with: Data(plain.render(.json).utf8)) as? [String: Any])?["filter"] == nil)
    }

    @Test("The HTML report draws one chart per pair, each with only its pair's directions")
    func chartPerPair() {
        let events = [Fixtures.visit("1956", "MN", "KP"), Fixtures.visit("1957", "KP", "MN"), Fixtures.visit("1990", "CN", "VN")]
        let html = Report(title: "t", statistics: Statistics(events: events)).render(.html)
        #expect(html.components(separatedBy: "<svg class=\"chart\"").count - 1 == 2)
        #expect(html.contains("<h3>KP – MN</h3>") && html.contains("<h3>CN – VN</h3>"))
        let single = Report(title: "t", statistics: Statistics(events: Array(events.prefix(2)))).render(.html)
        #expect(single.components(separatedBy: "<svg class=\"chart\"").count - 1 == 1)
        #expect(!single.contains("<h3>"))
    }
}

@Suite("Pairs at a glance")
struct PairSummaryTests {
    let events = [
        Fixtures.visit("1956", "MN", "KP", guest: "a"),
        Fixtures.visit("1956-07-16/1956-07-18", "KP", "MN", guest: "b"),
        Fixtures.visit("1971-07-14", "MN", "KP", guest: "c"),
        Fixtures.visit("1971-07", "KP", "MN", guest: "d"),
        Fixtures.visit("1975-03-01", "MN", "KP", guest: "e"),
        Fixtures.visit("1975-03-01", "MN", "KP", guest: "f"),  // the same day twice: two visits, one date
        Fixtures.visit("2001", "CN", "VN", guest: "g"),
        fact(.aid, "1952", "MN", "KP"),
    ]

    @Test("Visits each way, reciprocity, first and last visit, and events per pair")
    func summary() throws {
        let pairs = Statistics(events: events).pairs
        #expect(pairs.map { "\($0.first)-\($0.second)" } == ["CN-VN", "KP-MN"])
        let korea = pairs[1]
        #expect(korea.visitsFirstToSecond == 2 && korea.visitsSecondToFirst == 4)
        #expect(korea.reciprocity == 0.5)
        #expect(korea.events == 7)
        #expect(korea.firstVisit == PartialDate(year: 1956))
        #expect(korea.lastVisit == PartialDate(year: 1975, month: 3, day: 1))
        #expect(pairs[0].reciprocity == 0 && pairs[0].longestGap == nil)
    }

    @Test("The longest gap counts whole days with no visit known, a year-dated visit covering its year")
    func longestGap() throws {
        let gap = try #require(Statistics(events: events).pairs[1].longestGap)
        // 1956 ends on 1956-12-31; the next visit starts on 1971-07-01 (the month-dated one).
        let expected = DayRange.dayNumber(year: 1971, month: 7, day: 1) - DayRange.dayNumber(year: 1956, month: 12, day: 31) - 1
        #expect(gap.days == expected)
        #expect(gap.after == PartialDate(year: 1956) && gap.before == PartialDate(year: 1971, month: 7))
    }

    @Test("The pairs report carries the same figures in JSON and CSV")
    func rendered() throws {
        let report = PairsReport(title: "Pairs", statistics: Statistics(events: events), filter: StatisticsFilter(country: Fixtures.code("MN")))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.render(.json).utf8)) as? [String: Any])
        let rows = try #require(json["pairs"] as? [[String: Any]])
        #expect(rows.count == 1)
        #expect(rows[0]["first"] as? String == "KP" && rows[0]["visitsSecondToFirst"] as? Int == 4)
        #expect((rows[0]["reciprocity"] as? NSNumber)?.doubleValue == 0.5)
        #expect(rows[0]["firstVisit"] as? String == "1956" && rows[0]["lastVisit"] as? String == "1975-03-01")
        #expect((rows[0]["longestGap"] as? [String: Any])?["before"] as? String == "1971-07")
        let csv = report.render(.csv).split(separator: "\r\n")
        #expect(csv[0] == "first,second,visits_first_to_second,visits_second_to_first,reciprocity,first_visit,last_visit,longest_gap_days,gap_after,gap_before,events")
        #expect(csv[1].hasPrefix("KP,MN,2,4,0.50,1956,1975-03-01,"))
        #expect(report.render(.text).contains("Restricted to pairs with MN"))
    }
}

@Suite("Relations on a date")
struct RelationsOnDateTests {
    let statistics = Statistics(events: manyPairs + [
        Fixtures.visit("1998-05-02", "MN", "KP"), Fixtures.visit("1999", "MN", "KP", guest: "x"),
        Fixtures.visit("2002-09", "KP", "MN"), Fixtures.visit("1999-06-02", "KP", "MN", guest: "y"),
    ])
    static let mn = Fixtures.code("MN"), kp = Fixtures.code("KP")

    func at(_ date: String) -> RelationsOnDate {
        RelationsOnDate(date: PartialDate(edtf: date), pair: (Self.mn, Self.kp), statistics: statistics)
    }

    @Test("Relations: established on the day and after it, undecided within a coarser date, not before")
    func relations() {
        #expect(at("1948-10-15").relations.standing == .yes)
        #expect(at("1960").relations.standing == .yes)
        #expect(at("1948").relations.standing == .undecided)
        #expect(at("1948-10").relations.standing == .undecided)
        #expect(at("1948-10-14").relations.standing == .no)
    }

    @Test("An embassy closed during 1999 is undecided on a day of 1999, closed after, not closed before; the other has no closure")
    func embassies() {
        let on = at("1999-06-01").embassies
        #expect(on.map { "\($0.of)>\($0.inCountry) \($0.closed)" } == ["KP>MN undecided", "MN>KP no"])
        #expect(at("2000-01-01").embassies[0].closed == .yes)
        #expect(at("1998-12-31").embassies[0].closed == .no)
    }

    @Test("A treaty is in force between its signature and the end that names its year; an interval's end counts too")
    func treaties() {
        #expect(at("1985").treaties.isEmpty)
        #expect(at("1986").treaties.map(\.inForce) == [.undecided])
        #expect(at("1990-01-01").treaties.map(\.inForce) == [.yes])
        #expect(at("1995-06-01").treaties.map(\.inForce) == [.undecided])
        #expect(at("1996").treaties.map(\.inForce) == [.no])
        #expect(at("1996").treaties.first?.ended?.description == "The 1986 friendship treaty is annulled")
        let china = RelationsOnDate(date: PartialDate(edtf: "1990"), pair: (Fixtures.code("KP"), Fixtures.code("CN")), statistics: statistics)
        #expect(china.treaties.map(\.inForce) == [.yes])
        let later = RelationsOnDate(date: PartialDate(edtf: "1997"), pair: (Fixtures.code("KP"), Fixtures.code("CN")), statistics: statistics)
        #expect(later.treaties.map(\.inForce) == [.no])
    }

    @Test("Ambassadors are in post within their terms, undecided in the years a term starts or ends, and an open term runs on")
    func ambassadors() {
        #expect(at("1994").ambassadors.map { "\($0.term.person!) \($0.inPost)" } == ["First envoy yes"])
        #expect(at("1997-03-01").ambassadors.map(\.inPost) == [.undecided])
        #expect(at("1998").ambassadors.isEmpty)
        #expect(at("2017-06-01").ambassadors.map { "\($0.term.person!) \($0.inPost)" } == ["Second envoy undecided"])
        #expect(at("2030").ambassadors.map(\.inPost) == [.yes])
    }

    @Test("The last visit each way is the latest certainly before the date; one within a coarse date is named as undecided")
    func lastVisits() {
        let visits = at("1999-06-01").lastVisits
        #expect(visits[0].from == Self.kp && visits[1].from == Self.mn)
        #expect(visits[1].date == PartialDate(year: 1998, month: 5, day: 2))
        #expect(visits[1].undecided == [PartialDate(year: 1999)])
        // The KP visit of 1999-06-02 is after the date: the last before it is one of the synthetic visits.
        let expected = statistics.visitDates(from: Self.kp, to: Self.mn).filter { DayRange($0).last < DayRange(PartialDate(edtf: "1999-06-01")).first }
            .max { DayRange($0).last < DayRange($1).last }
        #expect(visits[0].date == expected && expected != nil)
        #expect(visits[0].undecided.isEmpty)
        #expect(at("2003").lastVisits[0].date == PartialDate(year: 2002, month: 9))
    }

    @Test("A visit on the day asked about is neither the last before it nor undecided; one during a coarser date beginning earlier is undecided")
    func visitOnTheDay() {
        let statistics = Statistics(events: [Fixtures.visit("1999-06-01", "MN", "KP"), Fixtures.visit("1999-05", "MN", "KP", guest: "b"),
                                             Fixtures.visit("1999-06", "MN", "KP", guest: "c")])
        let visit = RelationsOnDate(date: PartialDate(edtf: "1999-06-01"), pair: (Self.mn, Self.kp), statistics: statistics).lastVisits[1]
        #expect(visit.date == PartialDate(year: 1999, month: 5))
        #expect(visit.undecided.isEmpty)
        let later = RelationsOnDate(date: PartialDate(edtf: "1999-06-15"), pair: (Self.mn, Self.kp), statistics: statistics).lastVisits[1]
        #expect(later.date == PartialDate(year: 1999, month: 6, day: 1))
        #expect(later.undecided == [PartialDate(year: 1999, month: 6)])
    }

    @Test("Terms: an open start is undecided until its end, a single date or an open end runs until the next term of the same direction")
    func termsWithoutBothEnds() {
        let statistics = Statistics(events: [
            fact(.ambassadorTerm, "../1999", "MN", "KP", person: "Early"),
            fact(.ambassadorTerm, "2001", "MN", "KP", person: "Single"),
            fact(.ambassadorTerm, "2005-03/..", "MN", "KP", person: "Open"),
            fact(.ambassadorTerm, "2010/..", "MN", "KP", person: "Next"),
            fact(.ambassadorTerm, "2004/..", "KP", "MN", person: "Other way"),
        ])
        func inPost(_ date: String) -> [String] {
            RelationsOnDate(date: PartialDate(edtf: date), pair: (Self.mn, Self.kp), statistics: statistics).ambassadors
                .map { "\($0.term.person!) \($0.inPost)" }
        }
        #expect(inPost("1998-06-01") == ["Early undecided"])
        #expect(inPost("2000-06-01") == [])
        #expect(inPost("2003") == ["Single yes"])
        // Listed in date order.
        #expect(inPost("2005-03-10") == ["Single undecided", "Other way yes", "Open undecided"])
        #expect(inPost("2007") == ["Other way yes", "Open yes"])
        #expect(inPost("2012") == ["Other way yes", "Next yes"])
    }

    @Test("An ending ends one agreement: the one whose year it names, else the one sharing most words; country names alone do not match")
    func treatyEndings() {
        let statistics = Statistics(events: [
            fact(.agreementSigned, "1960", "MN", "KP", "Trade agreement between Mongolia and North Korea"),
            fact(.agreementSigned, "1986", "MN", "KP", "Treaty of friendship between Mongolia and North Korea"),
            fact(.agreementEnded, "1990", "MN", "KP", "Mongolia and North Korea end the trade agreement"),
            fact(.agreementSigned, "2002", "MN", "KP", "Treaty on friendly relations"),
            fact(.agreementEnded, "2010", "MN", "KP", "The 1986 treaty, replaced in 2002, lapses"),
        ])
        let answer = RelationsOnDate(date: PartialDate(edtf: "2015"), pair: (Self.mn, Self.kp), statistics: statistics)
        #expect(answer.treaties.map { "\($0.signed.date) \($0.inForce) \($0.endDate?.description ?? "-")" } == ["1960 no 1990", "1986 no 2010", "2002 yes -"])
    }

    @Test("Diplomats expelled at an open date are undecided before it ends")
    func otherFactsStanding() {
        let answer = RelationsOnDate(date: PartialDate(edtf: "1951"), pair: (Self.mn, Self.kp), statistics: statistics)
        #expect(answer.otherFacts.map(\.happened) == [.undecided])
        #expect(RelationsOnDate(date: PartialDate(edtf: "2000"), pair: (Self.mn, Self.kp), statistics: statistics).otherFacts.map(\.happened) == [.yes])
    }

    @Test("Past a pair's limit, facts are counted but not kept, and the answer says some may be missing")
    func factsLimit() {
        var statistics = Statistics()
        for index in 0..<(Statistics.factsPerPair + 5) {
            // In no date order, so that no order-dependent shortcut helps.
            let year = 1000 + (index &* 7_919) % 5_000
            statistics.add(fact(.agreementSigned, "\(year)", "US", "FR", "Agreement \(index)"))
        }
        #expect(statistics.facts(between: Fixtures.code("FR"), and: Fixtures.code("US")).count == Statistics.factsPerPair)
        #expect(statistics.factsNotKept == 5)
        #expect(statistics.totalEvents == Statistics.factsPerPair + 5)
        let answer = RelationsOnDate(date: PartialDate(edtf: "1999"), pair: (Self.mn, Self.kp), statistics: statistics)
        #expect(answer.factsNotKept == 5 && answer.render(.text).contains("5 facts were not kept"))
        #expect(StandingFact(fact(.agreementSigned, "1999", "US", "FR", String(repeating: "x", count: 5_000)))!.description!.count == StandingFact.textLimit)
    }

    @Test("Statistics rebuilt from an older state refuse restricted views and relations on a date, and still answer the plain report")
    func olderStateRefuses() throws {
        let old = Statistics(totalEvents: 1, eventsByKind: [.visit: 1], visitsByYear: [YearCount(year: 1956, from: Self.mn, to: Self.kp, count: 1)])
        #expect(old.lacksDetail)
        for query in [ReportQuery(view: .at, format: "text", filter: StatisticsFilter(pair: (Self.mn, Self.kp)), date: "1999"),
                      ReportQuery(view: .pairs, format: "json"), ReportQuery(view: .report, format: "json", filter: StatisticsFilter(kinds: [.visit]))] {
            #expect { _ = try query.answer(statistics: old, title: "t", generatedAt: nil, position: [:], countryNames: [:]) } throws: { "\($0)".contains("rebuild the state") }
        }
        #expect(try ReportQuery(view: .report, format: "json").answer(statistics: old, title: "t", generatedAt: nil, position: [:], countryNames: [:]).contains("\"totalVisits\": 1"))
        var grown = old
        grown.add(Fixtures.visit("2001", "MN", "KP"))
        #expect(Statistics(parts: grown.parts).lacksDetail)
    }

    @Test("The text says when a date is too coarse to decide, and the JSON carries the same answers")
    func rendered() throws {
        let answer = at("1999-06-01")
        let text = answer.render(.text)
        #expect(text.hasPrefix("Relations between KP and MN on 1999-06-01\n"))  // no names given: codes
        #expect(text.contains("KP's embassy in MN: too coarse to decide (closed during 1999)"))
        #expect(text.contains("Diplomatic relations: established on 1948-10-15"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.render(.json).utf8)) as? [String: Any])
        #expect(json["date"] as? String == "1999-06-01" && json["pair"] as? [String] == ["KP", "MN"])
        #expect((json["relations"] as? [String: Any])?["established"] as? String == "yes")
        let embassies = try #require(json["embassies"] as? [[String: Any]])
        #expect(embassies.map { $0["closed"] as? String } == ["undecided", "no"])
        #expect(((json["otherFacts"] as? [[String: Any]])?.first?["fact"] as? [String: Any])?["kind"] as? String == "diplomats_expelled")
    }

    @Test("A query asks for a report, the pairs or relations on a date, travels as JSON, and is answered the same everywhere")
    func query() throws {
        let query = ReportQuery(view: .at, format: "json", filter: StatisticsFilter(pair: (Self.mn, Self.kp)), date: "1999-06-01")
        let decoded = try ReportQuery(decoding: query.encoded)
        #expect(decoded == query)
        let answer = try decoded.answer(statistics: statistics, title: "t", generatedAt: nil, position: [:], countryNames: [:])
        #expect(answer == at("1999-06-01").render(.json))
        for (bytes, reason) in [(Array("[]".utf8), "not a JSON object"), (Array(#"{"view":"x","format":"json"}"#.utf8), "view"),
                                (Array(#"{"view":"at","format":"json","extra":1}"#.utf8), "unknown query field")] {
            #expect { _ = try ReportQuery(decoding: bytes) } throws: { "\($0)".contains(reason) }
        }
        let noPair = ReportQuery(view: .at, format: "text", date: "1999")
        #expect { _ = try noPair.answer(statistics: statistics, title: "t", generatedAt: nil, position: [:], countryNames: [:]) } throws: { "\($0)".contains("need a pair") }
        let badDate = ReportQuery(view: .at, format: "text", filter: StatisticsFilter(pair: (Self.mn, Self.kp)), date: "1999/2000")
        #expect { _ = try badDate.answer(statistics: statistics, title: "t", generatedAt: nil, position: [:], countryNames: [:]) } throws: { "\($0)".contains("not a date") }
    }
}
