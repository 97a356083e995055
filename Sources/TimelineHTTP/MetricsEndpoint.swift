import CoreMetrics
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization
import TimelinePipeline

/// A daemon's metrics in the Prometheus text format: `GET /metrics` on `metrics.listen`.
///
/// The daemon's figures are made with swift-metrics on `factory` (swift-prometheus behind it);
/// sources that keep their own counters register a `refresh` that brings the metrics up to date
/// just before each scrape is written. The process's own figures (resident memory, open files,
/// CPU time) follow, under the names Prometheus's client libraries use (`process_…`).
public final class DaemonMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: any MetricsFactory
    private let refreshers = Mutex<[@Sendable () -> Void]>([])

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Saves and rounds take from well under a millisecond to seconds.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .microseconds(2_500_000), .seconds(5), .seconds(10),
        ]
        // A round from the socket to the log takes microseconds.
        factory.durationHistogramBuckets["timeline_broker_receive_to_logged_seconds"] = [
            .microseconds(5), .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
            .microseconds(500), .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(50),
            .milliseconds(250), .seconds(1),
        ]
        self.registry = registry
        self.factory = factory
    }

    /// Runs `refresh` before each scrape is written.
    public func onScrape(_ refresh: @escaping @Sendable () -> Void) {
        refreshers.withLock { $0.append(refresh) }
    }

    /// The whole scrape, as served.
    public func exposition() -> [UInt8] {
        for refresh in refreshers.withLock({ $0 }) { refresh() }
        var text: [UInt8] = []
        registry.emit(into: &text)
        ProcessFigures.read().emit(into: &text)
        return text
    }

    /// The router: `/metrics`, and 404 for anything else.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let body = self.exposition()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        return router
    }
}
