import Foundation
import Logging
import Synchronization
import Testing
import Timeline
@testable import TimelineHTTP
import TimelinePipeline
import ZeroMQ

@Suite("Dashboard hub")
struct DashboardHubTests {
    static func add(_ dashboard: Dashboard, _ indices: Range<Int>) {
        for index in indices {
            let event = SyntheticEvents.event(index, seed: 3)
            let summary = EventSummary(event)
            let item = DashboardFeedItem(sequence: UInt64(index + 1), topic: event.topic, summary: summary, body: EventJSON.encode(event))
            dashboard.model.withLock { $0.add(item, summary: summary) }
        }
    }

    /// The messages of one writing, as (event, sequence) pairs; the sequence of a state is its last event's.
    static func messages(_ bytes: [UInt8]) throws -> [(String, Int)] {
        try String(decoding: bytes, as: UTF8.self).components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { message in
            let lines = message.split(separator: "\n")
            let name = String(lines[0].dropFirst("event: ".count))
            let data = lines.dropFirst().map { $0.dropFirst("data: ".count) }.joined(separator: "\n")
            let object = try #require(JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
            return (name, object["sequence"] as? Int ?? -1)
        }
    }

    /// What client `id` is sent next, written as its response would.
    static func next(_ hub: DashboardHub, _ id: Int) async throws -> [(String, Int)] {
        switch await hub.next(id) {
        case .resync: return try messages(await hub.stateMessage(for: id))
        case .messages(let queued): return try messages(queued.flatMap { $0 })
        case nil: return []
        }
    }

    @Test("A client's state and the events after it leave no gap and repeat nothing, whenever it connects")
    func stateAndQueueAreConsistent() async throws {
        let dashboard = Dashboard(settings: DashboardSettings(endpoints: ConsumerEndpoints(backend: "tcp://127.0.0.1:1", replay: "tcp://127.0.0.1:1")),
                                  context: try ZMQContext(), logger: Logger(label: "test"))
        let hub = DashboardHub(dashboard: dashboard, statsInterval: .zero, logger: Logger(label: "test"))
        var pacing = DashboardHub.StatsPacing()
        Self.add(dashboard, 0..<3)
        hub.flush(&pacing)                         // no client: nothing made, the copy kept
        let first = try #require(hub.connect(channel: nil))
        Self.add(dashboard, 3..<5)                 // not yet flushed: not in the state
        let firstState = try await Self.next(hub, first)
        #expect(firstState.map(\.0) == ["state"] && firstState[0].1 == 3)
        hub.flush(&pacing)
        let second = try #require(hub.connect(channel: nil))
        Self.add(dashboard, 5..<6)
        let secondState = try await Self.next(hub, second)
        hub.flush(&pacing)
        let firstAfter = try await Self.next(hub, first)
        let secondAfter = try await Self.next(hub, second)
        #expect(secondState.map(\.0) == ["state"] && secondState[0].1 == 5)
        #expect(firstAfter.filter { $0.0 == "event" }.map(\.1) == [4, 5, 6])
        #expect(secondAfter.filter { $0.0 == "event" }.map(\.1) == [6])
        #expect(secondAfter.contains { $0.0 == "stats" })
    }

    static func hub(maxClients: Int = 64, clientLimitBytes: Int = 1 << 20) throws -> (DashboardHub, Dashboard) {
        let dashboard = Dashboard(settings: DashboardSettings(endpoints: ConsumerEndpoints(backend: "tcp://127.0.0.1:1", replay: "tcp://127.0.0.1:1")),
                                  context: try ZMQContext(), logger: Logger(label: "test"))
        return (DashboardHub(dashboard: dashboard, clientLimitBytes: clientLimitBytes, maxClients: maxClients, logger: Logger(label: "test")), dashboard)
    }

    @Test("A client whose queue stays dropped for the timeout is closed; one that reads again is not")
    func stalledClientsAreClosed() async throws {
        let (hub, dashboard) = try Self.hub(clientLimitBytes: 64)
        var pacing = DashboardHub.StatsPacing()
        let stalled = try #require(hub.connect(channel: nil)), reading = try #require(hub.connect(channel: nil))
        for id in [stalled, reading] { _ = try await Self.next(hub, id) }
        Self.add(dashboard, 0..<3)
        hub.flush(&pacing)                         // more than 64 bytes: both queues dropped
        let start = ContinuousClock.now
        #expect(hub.closeStalledClients(now: start) == 0)
        _ = try await Self.next(hub, reading)      // takes its resync
        #expect(hub.closeStalledClients(now: start + .seconds(29)) == 0)
        #expect(hub.closeStalledClients(now: start + .seconds(30)) == 1)
    }

    @Test("Events go at every flush, the stats only when they changed and at most every statsInterval")
    func statsArePaced() async throws {
        let (hub, dashboard) = try Self.hub()
        var pacing = DashboardHub.StatsPacing()
        let id = try #require(hub.connect(channel: nil))
        _ = try await Self.next(hub, id)
        let start = ContinuousClock.now
        Self.add(dashboard, 0..<1)
        hub.flush(&pacing, now: start)
        #expect(try await Self.next(hub, id).map(\.0) == ["event", "stats"])
        Self.add(dashboard, 1..<2)
        hub.flush(&pacing, now: start + .milliseconds(100))
        #expect(try await Self.next(hub, id).map(\.0) == ["event"])
        hub.flush(&pacing, now: start + .milliseconds(500))
        let late = try await Self.next(hub, id)
        #expect(late.map(\.0) == ["stats"] && late[0].1 == 2)
    }

    @Test("No more than maxClients streams are admitted; one leaving makes room")
    func clientsAreCapped() throws {
        let (hub, _) = try Self.hub(maxClients: 2)
        let first = try #require(hub.connect(channel: nil))
        #expect(hub.connect(channel: nil) != nil)
        #expect(!hub.admitsClient)
        #expect(hub.connect(channel: nil) == nil)
        hub.disconnect(first)
        #expect(hub.admitsClient)
        #expect(hub.connect(channel: nil) != nil)
        #expect(hub.figures.clients == 2)
    }

    @Test("A closing hub admits no stream")
    func closingHubAdmitsNone() throws {
        let (hub, _) = try Self.hub()
        hub.close()
        #expect(!hub.admitsClient)
        #expect(hub.connect(channel: nil) == nil)
    }

    @Test("Clients asking for the same version's state together share one build")
    func stateBodiesAreSharedPerVersion() async {
        let cache = StateBodyCache()
        let builds = Mutex(0)
        let build: @Sendable () -> String = { builds.withLock { $0 += 1 }; return "body" }
        async let one = cache.body(version: 7, build: build)
        async let two = cache.body(version: 7, build: build)
        #expect(await [one, two] == ["body", "body"])
        #expect(await cache.body(version: 7, build: build) == "body")
        #expect(builds.withLock { $0 } == 1)
        _ = await cache.body(version: 8, build: build)
        #expect(builds.withLock { $0 } == 2)
    }
}
