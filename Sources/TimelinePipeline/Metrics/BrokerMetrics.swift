import CoreMetrics
import Synchronization

/// The broker's figures as metrics, refreshed from its `STATS` (`BrokerStatistics`) when they are
/// read (a scrape of `/metrics`): the broker's loop keeps counting in plain integers and pays
/// nothing per event for the metrics.
///
/// Names follow Prometheus conventions (`_total` counters, `_bytes`, `_seconds`); the README's
/// Metrics section lists them.
public final class BrokerMetrics: Sendable {
    private struct Metrics {
        var accepted, duplicates, outOfOrder, malformed, deadLettered, deadLettersLost: TotalCounter
        var replayRequests, recordsReplayed, followRequests, recordsFollowed: TotalCounter
        var logWriteFailures, segmentsDeleted: TotalCounter
        let lastSequence, firstSequence, logBytes, logSegments, logPaused: Gauge
        let producers, subscriptions, subscriberConnections, followersWaiting: Gauge
        let diskFree, diskTotal: Gauge
        var consumerPosition, consumerLag: LabelledGauges
        /// Made when the broker first reports a pair: a single broker shows none of them.
        var pair: PairMetrics?
        let factory: any MetricsFactory
    }

    private struct PairMetrics {
        let active, epoch, peerHeard, inStep, replicationLag: Gauge
        var recordsCopied, becameActive, becamePassive, droppedWhileNotActive: TotalCounter

        init(factory: any MetricsFactory) {
            func counter(_ name: String) -> TotalCounter { TotalCounter("timeline_broker_pair_\(name)_total", factory: factory) }
            func gauge(_ name: String) -> Gauge { Gauge(label: "timeline_broker_\(name)", factory: factory) }
            active = gauge("pair_active")
            epoch = gauge("pair_epoch")
            peerHeard = gauge("pair_peer_heard")
            inStep = gauge("pair_in_step")
            replicationLag = gauge("replication_lag_events")
            recordsCopied = counter("records_copied")
            becameActive = counter("became_active")
            becamePassive = counter("became_passive")
            droppedWhileNotActive = counter("dropped_while_not_active")
        }
    }

    private let metrics: Mutex<Metrics>
    /// From the broker reading a round of producer messages off its socket until the round is
    /// written to the log (and so published): one sample per round written.
    private let receiveToLogged: Timer

    public init(factory: any MetricsFactory) {
        receiveToLogged = Timer(label: "timeline_broker_receive_to_logged_seconds", factory: factory)
        func counter(_ name: String) -> TotalCounter { TotalCounter("timeline_broker_\(name)_total", factory: factory) }
        func gauge(_ name: String) -> Gauge { Gauge(label: "timeline_broker_\(name)", factory: factory) }
        metrics = Mutex(Metrics(
            accepted: counter("events_accepted"), duplicates: counter("duplicates_dropped"),
            outOfOrder: counter("out_of_order_dropped"), malformed: counter("malformed_dropped"),
            deadLettered: counter("dead_lettered"), deadLettersLost: counter("dead_letters_lost"),
            replayRequests: counter("replay_requests"), recordsReplayed: counter("records_replayed"),
            followRequests: counter("follow_requests"), recordsFollowed: counter("records_followed"),
            logWriteFailures: counter("log_write_failures"), segmentsDeleted: counter("log_segments_deleted"),
            lastSequence: gauge("log_last_sequence"), firstSequence: gauge("log_first_sequence"),
            logBytes: gauge("log_bytes"), logSegments: gauge("log_segments"), logPaused: gauge("log_paused"),
            producers: gauge("producers"), subscriptions: gauge("subscriptions"),
            subscriberConnections: gauge("subscriber_connections"), followersWaiting: gauge("followers_waiting"),
            diskFree: gauge("disk_free_bytes"), diskTotal: gauge("disk_total_bytes"),
            consumerPosition: LabelledGauges("timeline_broker_consumer_position", dimension: "consumer", factory: factory),
            consumerLag: LabelledGauges("timeline_broker_consumer_lag_events", dimension: "consumer", factory: factory),
            factory: factory
        ))
    }

    /// Notes how long a round of producer messages took from the socket to the log.
    public func recordRoundLogged(_ duration: Duration) {
        receiveToLogged.recordNanoseconds(duration.nanoseconds)
    }

    /// Brings every metric to the figures of `statistics`.
    public func update(_ statistics: BrokerStatistics) {
        metrics.withLock { metrics in
            metrics.accepted.update(statistics.accepted)
            metrics.duplicates.update(statistics.duplicatesDropped)
            metrics.outOfOrder.update(statistics.outOfOrderDropped)
            metrics.malformed.update(statistics.malformedDropped)
            metrics.deadLettered.update(statistics.deadLettered ?? 0)
            metrics.deadLettersLost.update(statistics.deadLettersLost)
            metrics.replayRequests.update(statistics.replayRequests)
            metrics.recordsReplayed.update(statistics.recordsReplayed)
            metrics.followRequests.update(statistics.followRequests ?? 0)
            metrics.recordsFollowed.update(statistics.recordsFollowed ?? 0)
            metrics.logWriteFailures.update(statistics.logWriteFailures ?? 0)
            metrics.segmentsDeleted.update(statistics.log?.segmentsDeleted ?? 0)
            metrics.lastSequence.record(Double(statistics.lastSequence))
            if let log = statistics.log {
                metrics.firstSequence.record(Double(log.firstSequence))
                metrics.logBytes.record(Double(log.bytes))
                metrics.logSegments.record(Double(log.segments))
            }
            metrics.logPaused.record(statistics.logPaused ?? false)
            metrics.producers.record(Double(statistics.producers))
            metrics.subscriptions.record(Double(statistics.subscriptions))
            metrics.subscriberConnections.record(Double(statistics.subscriberConnections ?? 0))
            metrics.followersWaiting.record(Double(statistics.followersWaiting ?? 0))
            if let disk = statistics.disk {
                metrics.diskFree.record(Double(disk.freeBytes))
                metrics.diskTotal.record(Double(disk.totalBytes))
            }
            let consumers = statistics.consumerPositions
            metrics.consumerPosition.update(consumers.mapValues { Double($0) })
            metrics.consumerLag.update(consumers.mapValues { Double(statistics.lastSequence.subtractingClamped($0)) })
            if let pair = statistics.pair {
                var figures = metrics.pair ?? PairMetrics(factory: metrics.factory)
                figures.active.record(pair.state == "active")
                figures.epoch.record(Double(pair.epoch))
                figures.peerHeard.record(pair.peerHeard)
                figures.inStep.record(pair.inStep)
                figures.replicationLag.record(Double(Self.replicationLag(pair, lastSequence: statistics.lastSequence)))
                figures.recordsCopied.update(pair.recordsCopied)
                figures.becameActive.update(pair.becameActive)
                figures.becamePassive.update(pair.becamePassive)
                figures.droppedWhileNotActive.update(pair.droppedWhileNotActive)
                metrics.pair = figures
            }
        }
    }

    /// Records one broker of a pair has that the other has not, as far as this one last heard:
    /// the active one's lead over its peer, or the passive one's distance behind it. Zero when
    /// the peer was never heard (nothing is known of it then; `pair_peer_heard` says so).
    static func replicationLag(_ pair: PairStatistics, lastSequence: UInt64) -> UInt64 {
        guard pair.peerHeard, let peer = pair.peerLastSequence else { return 0 }
        return pair.state == "active" ? lastSequence.subtractingClamped(peer) : peer.subtractingClamped(lastSequence)
    }
}

extension UInt64 {
    /// `self - other`, or zero when `other` is larger.
    func subtractingClamped(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
