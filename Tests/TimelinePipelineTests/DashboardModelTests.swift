import Foundation
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("Dashboard model")
struct DashboardModelTests {
    static let names: [CountryCode: String] = [CountryCode("MN")!: "Mongolia", CountryCode("KP")!: "North Korea"]

    /// The `index`th synthetic event as the dashboard receives it, at broker sequence `index + 1`.
    static func arrival(_ index: Int) -> (item: DashboardFeedItem, summary: EventSummary, event: TimelineEvent) {
        let event = SyntheticEvents.event(index, seed: 5)
        let summary = EventSummary(event)
        return (DashboardFeedItem(sequence: UInt64(index + 1), topic: event.topic, summary: summary, body: EventJSON.encode(event)), summary, event)
    }

    static func object(_ json: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test("Folding events counts them exactly as the domain's statistics do")
    func statisticsMatchTheDomain() throws {
        var model = DashboardModel(feedCapacity: 10, countryNames: Self.names)
        var events: [TimelineEvent] = []
        for index in 0..<500 {
            let arrival = Self.arrival(index)
            model.add(arrival.item, summary: arrival.summary)
            events.append(arrival.event)
        }
        let expected = Statistics(events: events, keepsDates: false)
        #expect(model.statistics == expected)
        let stats = try Self.object(model.statsJSON())
        #expect(stats["totalEvents"] as? Int == expected.totalEvents)
        #expect(stats["totalVisits"] as? Int == expected.totalVisits)
        let directions = try #require(stats["visitsByDirection"] as? [[String: Any]])
        #expect(directions.reduce(0) { $0 + ($1["count"] as? Int ?? 0) } == expected.totalVisits)
        for row in directions {
            let from = try #require((row["from"] as? String).flatMap(CountryCode.init))
            #expect(row["fromName"] as? String == Self.names[from] ?? from.rawValue)
        }
    }

    @Test("The stats carry the chart as drawn: the six directions with the most visits, ties by code, the rest as one series, per decade")
    func statsCarryTheChartAsDrawn() throws {
        var model = DashboardModel(feedCapacity: 10)
        var events: [TimelineEvent] = []
        for index in 0..<2000 {
            let arrival = Self.arrival(index)
            model.add(arrival.item, summary: arrival.summary)
            events.append(arrival.event)
        }
        let expected = Statistics(events: events, keepsDates: false)
        let chart = try #require(try Self.object(model.statsJSON())["chart"] as? [String: Any])
        let series = try #require(chart["series"] as? [[String: String]]).map { [$0["from"]!, $0["to"]!] }
        let byDirection = expected.visitsByDirection
        #expect(byDirection.count > DashboardModel.chartedDirections)
        let top = byDirection.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(6).map { [$0.key.from.rawValue, $0.key.to.rawValue] }
        #expect(series == top + [["*", "*"]])
        // Every decade's counts, series by series; "*" holds what the others do.
        var wanted: [Int: [Int]] = [:]
        for cell in expected.visitsByDecade {
            let index = series.firstIndex(of: [cell.from.rawValue, cell.to.rawValue]) ?? series.count - 1
            wanted[cell.decade, default: Array(repeating: 0, count: series.count)][index] += cell.count
        }
        let rows = try #require(chart["decades"] as? [[String: Any]])
        #expect(rows.map { $0["decade"] as? Int } == wanted.keys.sorted())
        for row in rows {
            #expect(row["counts"] as? [Int] == wanted[row["decade"] as! Int])
        }
        // Nothing per cell beyond what is drawn.
        #expect(try Self.object(model.statsJSON())["visitsByDecade"] == nil)
    }

    @Test("The version grows with each event and each newer head, not with an old head")
    func versionGrowsWithChanges() {
        var model = DashboardModel(feedCapacity: 3)
        let start = model.version
        model.add(Self.arrival(0).item, summary: Self.arrival(0).summary)
        #expect(model.version == start + 1)
        model.noteHead(5)
        #expect(model.version == start + 2)
        model.noteHead(4)
        #expect(model.version == start + 2)
    }

    @Test("The feed keeps the newest events up to its capacity, newest first")
    func feedIsABoundedRing() {
        var model = DashboardModel(feedCapacity: 5)
        for index in 0..<13 {
            let arrival = Self.arrival(index)
            model.add(arrival.item, summary: arrival.summary)
        }
        #expect(model.recent.map(\.sequence) == [13, 12, 11, 10, 9])
        #expect(model.lastSequence == 13)
    }

    @Test("An update carries the events since the last one, oldest first, then nothing until more come")
    func updatesCarryWhatCameSince() throws {
        var model = DashboardModel(feedCapacity: 5)
        #expect(model.takeUpdate() == nil)
        for index in 0..<3 {
            let arrival = Self.arrival(index)
            model.add(arrival.item, summary: arrival.summary)
        }
        let taken = model.takeUpdate()
        let update = try #require(taken)
        #expect(try update.events.map { try Self.object($0)["sequence"] as? Int } == [1, 2, 3])
        #expect(update.skipped == 0)
        #expect(model.takeUpdate() == nil)
    }

    @Test("An update after more events than the feed holds carries only the newest, and counts the rest as skipped")
    func updatesAreBoundedByTheFeed() throws {
        var model = DashboardModel(feedCapacity: 4)
        for index in 0..<50 {
            let arrival = Self.arrival(index)
            model.add(arrival.item, summary: arrival.summary)
        }
        let taken = model.takeUpdate()
        let update = try #require(taken)
        #expect(try update.events.map { try Self.object($0)["sequence"] as? Int } == [47, 48, 49, 50])
        #expect(update.skipped == 46)
    }

    @Test("An event message holds the event's own JSON, its decade and the countries' names")
    func eventMessageHoldsTheEvent() throws {
        let model = DashboardModel(feedCapacity: 3, countryNames: Self.names)
        let arrival = Self.arrival(7)
        let message = try Self.object(model.eventJSON(arrival.item))
        #expect(message["sequence"] as? Int == 8)
        #expect(message["topic"] as? String == arrival.event.topic)
        #expect(message["decade"] as? Int == Aggregation.decade(of: arrival.event.date.year))
        #expect(message["fromName"] as? String == Self.names[arrival.event.from] ?? arrival.event.from.rawValue)
        let event = try #require(message["event"] as? [String: Any])
        #expect(event["id"] as? String == arrival.event.id)
    }

    @Test("The state holds the statistics, the feed newest first and the health given")
    func stateHoldsEverything() throws {
        var model = DashboardModel(feedCapacity: 3)
        for index in 0..<4 {
            let arrival = Self.arrival(index)
            model.add(arrival.item, summary: arrival.summary)
        }
        model.noteHead(10)
        let state = try Self.object(model.stateJSON(health: "{\"ok\":true}"))
        #expect(state["sequence"] as? Int == 4)
        #expect((state["feed"] as? [[String: Any]])?.map { $0["sequence"] as? Int } == [4, 3, 2])
        #expect((state["health"] as? [String: Any])?["ok"] as? Bool == true)
        #expect((state["stats"] as? [String: Any])?["lag"] as? Int == 6)
    }

    @Test("Names and topics with quotes, backslashes and control characters stay valid JSON")
    func quotingKeepsJSONValid() throws {
        let text = "a \"quoted\" \\ name\n\u{01}é"
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(DashboardModel.quoted(text))]".utf8)) as? [String]
        #expect(decoded == [text])
    }
}
