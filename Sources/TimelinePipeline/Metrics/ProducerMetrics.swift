import CoreMetrics
import Synchronization

/// A producer's figures as metrics, summed over its workers and refreshed from their reports
/// when they are read: events sent (and sent again after a reconnect), events the broker has
/// acknowledged as logged, reconnects.
public final class ProducerMetrics: Sendable {
    private struct Metrics {
        var sent, resent, reconnects: TotalCounter
        let acknowledged, supplied: Gauge
    }

    private let metrics: Mutex<Metrics>

    public init(factory: any MetricsFactory) {
        metrics = Mutex(Metrics(
            sent: TotalCounter("timeline_producer_events_sent_total", factory: factory),
            resent: TotalCounter("timeline_producer_events_resent_total", factory: factory),
            reconnects: TotalCounter("timeline_producer_reconnects_total", factory: factory),
            acknowledged: Gauge(label: "timeline_producer_events_acknowledged", factory: factory),
            supplied: Gauge(label: "timeline_producer_events_to_send", factory: factory)
        ))
    }

    /// Brings the metrics to the workers' `reports`; `supplied` is how many events there are to
    /// send (nil for an open-ended source, such as a followed file).
    public func update(_ reports: [ProducerReport], supplied: Int?) {
        metrics.withLock { metrics in
            metrics.sent.update(reports.reduce(0) { $0 + $1.sent })
            metrics.resent.update(reports.reduce(0) { $0 + $1.resent })
            metrics.reconnects.update(UInt64(reports.reduce(0) { $0 + $1.reconnects }))
            metrics.acknowledged.record(Double(reports.reduce(0) { $0 + $1.acknowledged }))
            if let supplied { metrics.supplied.record(Double(supplied)) }
        }
    }
}
