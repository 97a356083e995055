import CoreMetrics
import Synchronization

/// A consumer's figures as metrics, labelled with its name (`consumer="aggregator"`): its position
/// in the broker's log, its lag in records and in seconds, what it applied live and replayed, and
/// how long its checkpoints or snapshots take.
///
/// The consumer's stream notes its figures after each batch it applies (`observe`, one lock per
/// batch, nothing per event); a scrape turns the latest ones into metrics (`refresh`), so the lag
/// in seconds is as of the scrape.
public final class ConsumerMetrics: Sendable {
    public let consumer: String
    private let observed = Mutex(Observed())
    private let metrics: Mutex<Metrics>
    /// How long one save of the consumer's state takes (the aggregator's checkpoint, the snapshot
    /// writer's snapshot), as a histogram.
    private let saveDuration: Timer?

    private struct Observed {
        var position: UInt64 = 0
        var counters = StreamCounters()
        var headTimes = HeadTimes()
    }

    private struct Metrics {
        let position, head, lagEvents, lagSeconds: Gauge
        var live, replayed, duplicates, malformed, gapsRepaired: TotalCounter
    }

    /// `saveHistogram` names the histogram of `recordSave` (e.g.
    /// `timeline_aggregator_checkpoint_seconds`); nil for a consumer that saves nothing.
    public init(consumer: String, saveHistogram: String? = nil, factory: any MetricsFactory) {
        self.consumer = consumer
        let dimensions = [("consumer", consumer)]
        func gauge(_ name: String) -> Gauge { Gauge(label: "timeline_consumer_\(name)", dimensions: dimensions, factory: factory) }
        func counter(_ name: String, _ extra: [(String, String)] = []) -> TotalCounter {
            TotalCounter("timeline_consumer_\(name)_total", dimensions: dimensions + extra, factory: factory)
        }
        metrics = Mutex(Metrics(
            position: gauge("position"), head: gauge("head"), lagEvents: gauge("lag_events"), lagSeconds: gauge("lag_seconds"),
            live: counter("events_applied", [("mode", "live")]), replayed: counter("events_applied", [("mode", "replayed")]),
            duplicates: counter("duplicates"), malformed: counter("malformed"), gapsRepaired: counter("gaps_repaired")
        ))
        saveDuration = saveHistogram.map { Timer(label: $0, dimensions: dimensions, factory: factory) }
    }

    /// Notes where the stream stands (called by its loop after each batch).
    public func observe(position: UInt64, counters: StreamCounters, now: ContinuousClock.Instant = .now) {
        observed.withLock { observed in
            observed.position = position
            observed.counters = counters
            observed.headTimes.heard(head: counters.head, at: now)
        }
    }

    /// Notes one save of the consumer's state and how long it took.
    public func recordSave(_ duration: Duration) {
        saveDuration?.recordNanoseconds(duration.nanoseconds)
    }

    /// Brings the metrics to the latest figures observed.
    public func refresh(now: ContinuousClock.Instant = .now) {
        let (position, counters, lag) = observed.withLock { observed in
            (observed.position, observed.counters, observed.headTimes.lag(position: observed.position, now: now))
        }
        metrics.withLock { metrics in
            metrics.position.record(Double(position))
            metrics.head.record(Double(counters.head))
            metrics.lagEvents.record(Double(counters.head.subtractingClamped(position)))
            metrics.lagSeconds.record(lag.inSeconds)
            metrics.live.update(counters.live)
            metrics.replayed.update(counters.replayed)
            metrics.duplicates.update(counters.duplicates)
            metrics.malformed.update(counters.malformed)
            metrics.gapsRepaired.update(counters.gapsRepaired)
        }
    }
}

/// When each part of the broker's log was first heard of by a consumer, to tell how long the
/// oldest record it has not applied has been waiting for it: the lag in seconds.
///
/// Each mark `(head, time)` says the records after the mark before it, through `head`, were first
/// known (in a reply's head) at `time`. Heads heard within `resolution` of a mark join it. Past
/// `capacity` marks the resolution doubles and the marks are merged into buckets of it, each
/// keeping its earliest time: the lag is never under-reported, and over-reported by at most the
/// resolution, which grows with the span of time the marks cover (a lag of an hour with 1,024
/// marks: about 7 s). Caught up, the resolution goes back to its start. A consumer that starts
/// far behind knows its backlog only from its start: the lag of records older than that counts
/// from then.
struct HeadTimes {
    private var marks: [(head: UInt64, time: ContinuousClock.Instant)] = []
    private var start = 0
    let initialResolution: Duration
    private(set) var resolution: Duration
    let capacity: Int

    init(resolution: Duration = .milliseconds(10), capacity: Int = 1_024) {
        initialResolution = max(resolution, .nanoseconds(1))
        self.resolution = initialResolution
        self.capacity = max(4, capacity)
    }

    var count: Int { marks.count - start }

    mutating func heard(head: UInt64, at time: ContinuousClock.Instant) {
        guard head > (marks.last?.head ?? 0) else { return }
        if let last = marks.last, count > 0, last.time.duration(to: time) < resolution {
            marks[marks.count - 1].head = head
            return
        }
        marks.append((head, time))
        while count > capacity { coarsen() }
    }

    /// How long the first record after `position` has been known; zero when there is none.
    mutating func lag(position: UInt64, now: ContinuousClock.Instant) -> Duration {
        while start < marks.count, marks[start].head <= position { start += 1 }
        if start == marks.count { resolution = initialResolution }
        if start > 64, start * 2 > marks.count {
            marks.removeFirst(start)
            start = 0
        }
        guard start < marks.count else { return .zero }
        return max(.zero, marks[start].time.duration(to: now))
    }

    /// Doubles the resolution and merges the marks into buckets of it.
    private mutating func coarsen() {
        resolution = resolution * 2
        var merged: [(head: UInt64, time: ContinuousClock.Instant)] = []
        merged.reserveCapacity(count)
        for mark in marks[start...] {
            if let first = merged.last, first.time.duration(to: mark.time) < resolution {
                merged[merged.count - 1].head = mark.head
            } else {
                merged.append(mark)
            }
        }
        marks = merged
        start = 0
    }
}
