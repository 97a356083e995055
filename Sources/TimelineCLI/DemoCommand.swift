import ArgumentParser
import Foundation
import Logging
import Synchronization
import ServiceLifecycle
import UnixSignals
import Timeline
import TimelinePipeline
import ZeroMQ

/// The whole pipeline on the bundled dataset, in one process over TCP loopback.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole pipeline on the bundled dataset: broker, aggregator, snapshot writer, monitor, then the producers.",
        discussion: """
        Every daemon runs in this process, each on its own thread and sockets, talking over TCP \
        loopback on ports the system picks. The demo waits until the aggregator has counted every \
        event the producers published (no fixed sleeps), prints the feed and the report, writes a \
        final snapshot and exits 0.
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "text: the feed, the report and where the snapshot is; json: only the JSON report.")
    var format: Format = .text

    @Option(help: "Folder for the daemons' state, kept afterwards. Default: a temporary folder, removed at the end.")
    var dataDir: String?

    @Option(help: "Producer workers.")
    var workers: Int = 2

    @Option(help: "Seconds to wait for the pipeline to deliver everything.")
    var timeout: Double = 60

    @Option(help: "Log level for the daemons' logs on standard error.")
    var logLevel: String = "warning"

    @Argument(help: "Sources to publish instead of the bundled dataset.")
    var paths: [String] = []

    @OptionGroup var sources: SourceOptions

    func validate() throws {
        if workers < 1 { throw ValidationError("--workers must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be a swift-log level such as info or warning") }
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            LoggingBootstrap.once(level: Logger.Level(rawValue: logLevel) ?? .warning)
            let logger = Logger(label: "timeline.demo")
            let gazetteer = try sources.loadGazetteer()
            let names = CountryNames.from(gazetteer)
            let loader = SourceLoader(gazetteer: gazetteer)
            var merged = MergedEvents()
            for path in try (paths.isEmpty ? sources.defaultSources() : paths) {
                do {
                    for reading in try loader.load(path: path) { merged.add(reading) }
                } catch let error as SourceError {
                    throw error.reported(after: merged.diagnostics.filter { $0.severity != .note })
                }
            }
            for diagnostic in merged.diagnostics where diagnostic.severity != .note { Output.error(diagnostic.description) }
            let events = merged.events
            let folder = dataDir ?? NSTemporaryDirectory() + "timeline-demo-" + UUID().uuidString.prefix(8).lowercased()
            defer {
                if dataDir == nil { try? FileManager.default.removeItem(atPath: folder) }
            }
            let text = format == .text

            let context = try ZMQContext()
            let loopback = "tcp://127.0.0.1:*"
            let broker = try Broker(settings: BrokerSettings(frontend: loopback, backend: loopback, replay: loopback,
                                                             dataDirectory: folder + "/broker"), context: context, logger: Logger(label: "timeline.broker"))
            let endpoints = ConsumerEndpoints(backend: broker.bound.endpoints["backend"]!, replay: broker.bound.endpoints["replay"]!)
            var aggregatorSettings = AggregatorSettings(endpoints: endpoints, query: loopback, dataDirectory: folder + "/aggregator")
            aggregatorSettings.title = "Mongolia–North Korea relations"
            aggregatorSettings.countryNames = names
            let aggregator = try Aggregator(settings: aggregatorSettings, context: context, logger: Logger(label: "timeline.aggregator"))
            var snapshotSettings = SnapshotSettings(endpoints: endpoints, dataDirectory: folder + "/snapshot")
            snapshotSettings.title = aggregatorSettings.title
            snapshotSettings.countryNames = names
            let snapshot = try SnapshotWriter(settings: snapshotSettings, context: context, logger: Logger(label: "timeline.snapshot"))
            var monitorSettings = MonitorSettings(endpoints: endpoints)
            monitorSettings.fromStart = true
            monitorSettings.statsInterval = .zero
            monitorSettings.colour = text && isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            let feed = FeedBuffer()
            let monitor = Monitor(settings: monitorSettings, context: context, logger: Logger(label: "timeline.monitor"),
                                  output: { line in feed.append(line) }, statsOutput: { _ in })
            var producerSettings = ProducerSettings(frontend: broker.bound.endpoints["frontend"]!, replay: broker.bound.endpoints["replay"]!,
                                                    producerID: "demo-producer")
            producerSettings.connectTimeout = .seconds(10)
            let producers = ProducerGroup.split(FixedSupply(events), count: workers, settings: producerSettings, context: context,
                                                logger: Logger(label: "timeline.producer"))

            let daemons = ServiceGroup(configuration: .init(
                services: [
                    .init(service: SocketLoopService(name: "broker", loop: broker, context: context)),
                    .init(service: SocketLoopService(name: "aggregator", loop: aggregator, context: context)),
                    .init(service: SocketLoopService(name: "aggregator.query", loop: aggregator.queryServer, context: context)),
                    .init(service: SocketLoopService(name: "snapshot", loop: snapshot, context: context)),
                    .init(service: SocketLoopService(name: "monitor", loop: monitor, context: context)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
            let queryEndpoint = aggregator.bound.endpoints["query"]!
            let expected = events.count
            let timeout = self.timeout
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await daemons.run() }
                // The consumers are started first; producers follow. The broker's log makes the
                // order a matter of taste, not of correctness: late consumers catch up from it.
                try await producers.run()
                let counted = try await runOnDedicatedThread(name: "timeline.demo.wait") { () -> Int in
                    let client = try AggregatorClient(context: context, endpoint: queryEndpoint)
                    defer { client.close() }
                    let deadline = monotonicSeconds() + timeout
                    var counted = 0
                    while monotonicSeconds() < deadline {
                        counted = try client.status().events
                        if counted >= expected, monitor.shownCount >= expected { break }
                        // Poll the aggregator's status at a short interval until the count is reached.
                        Thread.sleep(forTimeInterval: 0.02)
                    }
                    return counted
                }
                await daemons.triggerGracefulShutdown()
                try await group.waitForAll()
                guard counted == expected else {
                    throw CLIError("the aggregator counted \(counted) of \(expected) events within \(timeout) s", code: 1)
                }
            }

            let report = aggregator.report()
            if text {
                Output.write(feed.text)
                Output.write("\n" + report.render(.text))
                let progress = snapshot.progress
                Output.write("\nPublished \(expected) events; the aggregator counted \(report.statistics.totalEvents).\n")
                if dataDir != nil {
                    Output.write("Snapshot: \(snapshotSettings.snapshotFolder)/latest.json (\(progress.events) events, sequence \(progress.sequence))\n")
                } else {
                    Output.write("Wrote a final snapshot of \(progress.events) events (sequence \(progress.sequence)); pass --data-dir DIR to keep the files.\n")
                }
            } else {
                Output.write(report.render(.json))
            }
        }
    }
}

/// Collects the monitor's lines while the demo runs, to print them in one piece.
final class FeedBuffer: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    var text: String { lines.withLock { $0.joined() } }
}
