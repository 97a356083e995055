import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TimelineHTTP
import TimelinePipeline

/// A daemon's metrics when `metrics.listen` (`--metrics-listen`) is set: the figures, and the HTTP
/// endpoint that serves them at `/metrics`.
struct MetricsSetup {
    let metrics: DaemonMetrics
    let endpoint: HTTPEndpoint
    /// The daemon's data folder, whose `endpoints.json` gets a `metrics` entry when the port is a
    /// wildcard one.
    let dataDirectory: String

    static let key = "metrics.listen"

    /// Nil when metrics are off (the key is empty, the default).
    static func make(_ config: PipelineConfiguration, dataDirectory: String, logger: Logger) throws -> MetricsSetup? {
        guard let listen = try config.httpListen(key) else { return nil }
        try HTTPEndpoint.probe(listen, key: key)
        let metrics = DaemonMetrics()
        let endpoint = HTTPEndpoint(key: key, listen: listen, router: metrics.router(), logger: logger)
        return MetricsSetup(metrics: metrics, endpoint: endpoint, dataDirectory: dataDirectory)
    }

    /// A consumer's figures, refreshed at each scrape.
    func consumer(_ name: String, saveHistogram: String? = nil) -> ConsumerMetrics {
        let consumer = ConsumerMetrics(consumer: name, saveHistogram: saveHistogram, factory: metrics.factory)
        metrics.onScrape { consumer.refresh() }
        return consumer
    }

    /// The endpoint, and what notes its address in `endpoints.json` once it listens.
    var serving: HTTPServing { HTTPServing(endpoint: endpoint, entry: "metrics", dataDirectory: dataDirectory) }
}

/// An HTTP endpoint of a daemon, with what notes its address as `entry` in the data folder's
/// `endpoints.json` when the system picked its port.
struct HTTPServing {
    let endpoint: HTTPEndpoint
    let entry: String
    let dataDirectory: String

    var services: [any Service] {
        endpoint.listen.port == 0 ? [endpoint, AnnounceAddress(endpoint: endpoint, folder: dataDirectory, entry: entry)] : [endpoint]
    }
}

/// Writes an endpoint's address to the data folder's `endpoints.json` (beside what the daemon
/// wrote there) when the system picked its port, and takes it out again at shutdown.
private struct AnnounceAddress: Service {
    let endpoint: HTTPEndpoint
    let folder: String
    let entry: String
    /// The entries this process announced and has not taken out: the file's read, change and
    /// write happen under this lock, so two endpoints of one daemon never lose each other's entry.
    private static let announced = Mutex<Set<String>>([])

    func run() async throws {
        guard endpoint.listen.port == 0, let address = try await endpoint.boundAddress() else { return }
        try Self.announced.withLock { announced in
            var entries = BoundEndpoints.read(from: folder)?.endpoints ?? [:]
            entries[entry] = address
            try AtomicFile.prepareFolder(folder)
            try BoundEndpoints(entries).write(to: folder)
            announced.insert(entry)
        }
        try? await gracefulShutdown()
        // A daemon that wrote the file removes it at its own shutdown, and the entry goes with
        // it; a file that holds only this process's announcements loses this one (never
        // rewritten otherwise: the daemon may be removing it at the same time).
        Self.announced.withLock { announced in
            announced.remove(entry)
            guard var left = BoundEndpoints.read(from: folder)?.endpoints, left[entry] != nil,
                  Set(left.keys).subtracting(announced) == [entry] else { return }
            left[entry] = nil
            if left.isEmpty {
                BoundEndpoints.remove(from: folder)
            } else {
                try? BoundEndpoints(left).write(to: folder)
            }
        }
    }
}
