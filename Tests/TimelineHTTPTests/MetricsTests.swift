import Foundation
import Prometheus
import Testing
@testable import TimelineHTTP
@testable import TimelinePipeline

/// The samples of an exposition, by `name{labels}` as written.
private func samples(_ metrics: DaemonMetrics) -> [String: Double] {
    var found: [String: Double] = [:]
    for line in String(decoding: metrics.exposition(), as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        found[String(line[..<space])] = value
    }
    return found
}

@Suite("Metrics")
struct MetricsTests {
    @Test("The broker's counters reach the metrics as totals; a smaller total later is not subtracted")
    func brokerTotals() {
        let metrics = DaemonMetrics()
        let broker = BrokerMetrics(factory: metrics.factory)
        var counters = BrokerCounters()
        counters.accepted = 120
        counters.malformedDropped = 3
        var statistics = BrokerStatistics(lastSequence: 120, producers: 2, subscriptions: 0, counters: counters)
        statistics.log = LogStatistics(firstSequence: 1, segments: 2, bytes: 40_960)
        statistics.consumers = ["aggregator": 100]
        statistics.reported = ["monitor": 120, "aggregator": 90]
        broker.update(statistics)
        counters.accepted = 150
        statistics = BrokerStatistics(lastSequence: 150, producers: 2, subscriptions: 0, counters: counters)
        statistics.reported = ["aggregator": 150]
        broker.update(statistics)
        counters.accepted = 10
        var smaller = BrokerStatistics(lastSequence: 150, producers: 2, subscriptions: 0, counters: counters)
        smaller.reported = ["aggregator": 150]
        broker.update(smaller)
        let found = samples(metrics)
        #expect(found["timeline_broker_events_accepted_total"] == 150)
        #expect(found["timeline_broker_malformed_dropped_total"] == 3)
        #expect(found["timeline_broker_log_last_sequence"] == 150)
        #expect(found["timeline_broker_log_bytes"] == 40_960)
        // A consumer no longer reported shows zero, not its last figure.
        #expect(found[#"timeline_broker_consumer_position{consumer="aggregator"}"#] == 150)
        #expect(found[#"timeline_broker_consumer_position{consumer="monitor"}"#] == 0)
        #expect(found[#"timeline_broker_consumer_lag_events{consumer="monitor"}"#] == 0)
        #expect(!found.keys.contains { $0.hasPrefix("timeline_broker_pair_") })
    }

    @Test("A broker of a pair shows its role and its replication lag, from either side")
    func pairFigures() {
        let metrics = DaemonMetrics()
        let broker = BrokerMetrics(factory: metrics.factory)
        var pair = PairStatistics(role: "primary", state: "active", epoch: 3, replication: "sync", replicating: true, inStep: false,
                                  peerHeard: true, peerState: "passive", peerLastSequence: 90, recordsCopied: 0, recordsCut: 0,
                                  becameActive: 1, becamePassive: 0, droppedWhileNotActive: 0)
        var statistics = BrokerStatistics(lastSequence: 100, producers: 1, subscriptions: 0, counters: BrokerCounters())
        statistics.pair = pair
        broker.update(statistics)
        var found = samples(metrics)
        #expect(found["timeline_broker_pair_active"] == 1)
        #expect(found["timeline_broker_pair_epoch"] == 3)
        #expect(found["timeline_broker_replication_lag_events"] == 10)
        #expect(found["timeline_broker_pair_became_active_total"] == 1)
        pair.state = "passive"
        pair.peerLastSequence = 130
        statistics.pair = pair
        broker.update(statistics)
        found = samples(metrics)
        #expect(found["timeline_broker_pair_active"] == 0)
        #expect(found["timeline_broker_replication_lag_events"] == 30)
        pair.peerHeard = false
        statistics.pair = pair
        broker.update(statistics)
        #expect(samples(metrics)["timeline_broker_replication_lag_events"] == 0)
    }

    @Test("A consumer's position, lag, counters and save histogram, as of the scrape")
    func consumerFigures() {
        let metrics = DaemonMetrics()
        let consumer = ConsumerMetrics(consumer: "aggregator", saveHistogram: "timeline_aggregator_checkpoint_seconds", factory: metrics.factory)
        var counters = StreamCounters()
        counters.live = 70
        counters.replayed = 30
        counters.gapsRepaired = 1
        counters.head = 140
        let observed = ContinuousClock.now
        consumer.observe(position: 100, counters: counters, now: observed)
        consumer.recordSave(.milliseconds(3))
        consumer.recordSave(.milliseconds(300))
        // Refreshed as a scrape would, 2.5 s later: record 101 was first heard of with the head 140.
        consumer.refresh(now: observed + .milliseconds(2_500))
        let found = samples(metrics)
        let label = #"{consumer="aggregator"}"#
        #expect(found["timeline_consumer_position" + label] == 100)
        #expect(found["timeline_consumer_head" + label] == 140)
        #expect(found["timeline_consumer_lag_events" + label] == 40)
        #expect(found["timeline_consumer_lag_seconds" + label] == 2.5)
        #expect(found[#"timeline_consumer_events_applied_total{consumer="aggregator",mode="live"}"#] == 70)
        #expect(found[#"timeline_consumer_events_applied_total{consumer="aggregator",mode="replayed"}"#] == 30)
        #expect(found["timeline_consumer_gaps_repaired_total" + label] == 1)
        #expect(found["timeline_aggregator_checkpoint_seconds_count" + label] == 2)
        #expect(found[#"timeline_aggregator_checkpoint_seconds_bucket{consumer="aggregator",le="0.005"}"#] == 1)
        #expect(found["process_resident_memory_bytes"].map { $0 > 0 } == true)
        #expect(found["process_open_fds"].map { $0 > 0 } == true)
    }

    @Test("The lag in seconds counts from when the first record not applied was first heard of")
    func lagSeconds() {
        let start = ContinuousClock.now
        var times = HeadTimes(resolution: .milliseconds(10))
        times.heard(head: 10, at: start)
        times.heard(head: 20, at: start + .seconds(1))
        times.heard(head: 30, at: start + .seconds(2))
        #expect(times.lag(position: 0, now: start + .seconds(5)) == .seconds(5))
        #expect(times.lag(position: 10, now: start + .seconds(5)) == .seconds(4))
        #expect(times.lag(position: 25, now: start + .seconds(5)) == .seconds(3))
        #expect(times.lag(position: 30, now: start + .seconds(5)) == .zero)
        // Heads heard within the resolution share the first one's time.
        times.heard(head: 40, at: start + .seconds(6))
        times.heard(head: 50, at: start + .seconds(6) + .milliseconds(5))
        #expect(times.lag(position: 45, now: start + .seconds(7)) == .seconds(1))
    }

    @Test("Past its capacity the marks are merged, and the lag is never under-reported nor over by more than the resolution")
    func lagThinning() {
        let start = ContinuousClock.now
        var times = HeadTimes(resolution: .milliseconds(10), capacity: 64)
        // A head every 10 ms for 10 minutes, the consumer 60 s behind all along, asked every 15 s.
        var position: UInt64 = 0
        for step in 1...60_000 {
            let now = start + .milliseconds(10 * step)
            times.heard(head: UInt64(step), at: now)
            guard step % 1_500 == 0, step > 6_000 else { continue }
            position = UInt64(step - 6_000)
            let truth = Duration.milliseconds(59_990)  // record position + 1 came 5,999 heads ago
            let lag = times.lag(position: position, now: now)
            #expect(lag >= truth)
            #expect(lag <= truth + times.resolution, "lag \(lag) at step \(step), resolution \(times.resolution)")
            #expect(times.resolution <= .seconds(3))
        }
        #expect(times.count <= 64)
        // Caught up: no lag, and the resolution back to its start.
        #expect(times.lag(position: 60_000, now: start + .seconds(601)) == .zero)
        #expect(times.resolution == .milliseconds(10))
    }

    @Test("Metrics addresses: host:port, [v6]:port, a wildcard port; anything else says why")
    func listenAddresses() throws {
        #expect(try HTTPListen.parse("127.0.0.1:9101").get() == HTTPListen(host: "127.0.0.1", port: 9101))
        #expect(try HTTPListen.parse("[::1]:9101").get() == HTTPListen(host: "::1", port: 9101))
        #expect(try HTTPListen.parse("localhost:*").get() == HTTPListen(host: "localhost", port: 0))
        #expect(HTTPListen(host: "::1", port: 80).description == "[::1]:80")
        for bad in ["9101", ":9101", "::1:9101", "host:65536", "host:port", "[::1]9101", "host:"] {
            guard case .failure(let error) = HTTPListen.parse(bad) else {
                Issue.record("\(bad) was taken")
                continue
            }
            #expect(!error.reason.isEmpty)
        }
    }

    @Test("A port another socket listens on is found taken before the daemon opens anything")
    func probeFindsATakenPort() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        #expect(throws: HTTPEndpointError.self) { try HTTPEndpoint.probe(HTTPListen(host: "127.0.0.1", port: port), key: "metrics.listen") }
        do {
            try HTTPEndpoint.probe(HTTPListen(host: "127.0.0.1", port: port), key: "metrics.listen")
        } catch {
            #expect(error.description.contains("metrics.listen") && error.description.contains("in use"))
        }
        try HTTPEndpoint.probe(HTTPListen(host: "127.0.0.1", port: 0), key: "metrics.listen")
    }
}
