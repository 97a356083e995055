import ArgumentParser
import Foundation
import Logging
import Timeline
import TimelineHTTP
import TimelinePipeline
import ZeroMQ

struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run the broker: the XSUB/XPUB rendezvous of producers and consumers, with the durable event log."
    )

    @OptionGroup var options: DaemonOptions

    @Option(help: "Run as one broker of a pair: primary or backup (broker.ha; none for a single broker).")
    var ha: String?

    @Option(help: "The other broker's peer endpoint, for a broker of a pair (endpoints.peer).")
    var peer: String?

    @Option(help: "This broker's own peer endpoint, where the other broker connects (endpoints.peerListen).")
    var peerListen: String?

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            var pairFlags: [String: String] = [:]
            if let ha { pairFlags["broker.ha"] = ha }
            if let peer { pairFlags["endpoints.peer"] = peer }
            if let peerListen { pairFlags["endpoints.peerListen"] = peerListen }
            let config = try await options.configuration(extra: pairFlags)
            let logger = Logger(label: "timeline.broker")
            var settings = BrokerSettings(frontend: try config.string("endpoints.frontend"), backend: try config.string("endpoints.backend"),
                                          replay: try config.string("endpoints.replay"), dataDirectory: options.dataDirectory(for: "broker"))
            settings.fsyncInterval = try config.duration("broker.fsyncIntervalSeconds")
            settings.segmentBytes = try config.segmentBytes()
            settings.retention = try config.retention(segmentBytes: settings.segmentBytes)
            settings.maxMessageBytes = Int64(try config.int("broker.maxMessageBytes"))
            settings.sendHighWaterMark = Int32(clamping: try config.int("broker.sendHighWaterMark"))
            settings.security = try options.security(config, server: true, client: false)
            let metrics = try MetricsSetup.make(config, dataDirectory: settings.dataDirectory, logger: logger)
            let brokerMetrics = metrics.map { BrokerMetrics(factory: $0.metrics.factory) }
            settings.metrics = brokerMetrics
            do {
                settings.pair = try config.pairSettings(securityEnabled: settings.security != nil)
            } catch let error as ConfigurationError {
                throw CLIError(error.description, code: ExitStatus.configError)
            }
            let context = try ZMQContext.forDaemon()
            let peerKeys = settings.pair?.peerPublicKey.map { [$0: "peer broker"] } ?? [:]
            let zap = try options.authenticator(settings.security, peerAllowed: peerKeys, context: context, logger: logger)
            let broker = try Broker(settings: settings, context: context, logger: logger)
            if let brokerMetrics { metrics?.metrics.onScrape { brokerMetrics.update(broker.statistics) } }
            try await DaemonRunner.run(zap + [SocketLoopService(name: "broker", loop: broker, context: context)], metrics: metrics, logger: logger)
        }
    }
}

struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Publish events from sources to the broker.",
        discussion: """
        Reads articles, JSON Lines files and GDELT event exports (the bundled dataset when no path is given), or makes \
        synthetic visits, and publishes every distinct event. Finishes when the broker has logged \
        all of them. A producer restarted with the same sources (and so the same producer id) \
        continues where the broker's log ends instead of publishing again. Bad rows and lines are \
        reported on standard error and written to rejected.jsonl in the data folder; the good \
        events are published. Exit status: 0 published, 1 the broker did not log everything in \
        time (or another failure), 65 a source holds no event (or --strict found a bad row), 66 a \
        source cannot be read, 78 a configuration or key problem.

        --follow FILE publishes the lines appended to a JSON Lines file; --follow DIR publishes each \
        source file dropped into a folder (GDELT's 15-minute exports, JSON Lines, articles), once: \
        the files done are listed in the data folder, so a restarted producer does not publish them \
        again. Both run until SIGTERM or SIGINT.
        """
    )

    @Argument(help: "Articles, JSON Lines files, GDELT exports or folders. Default: the bundled dataset.")
    var paths: [String] = []

    @Option(help: "Parallel workers, each with its own socket and producer id (producer.workers).")
    var workers: Int?

    @Option(help: "Events per second for all workers together; 0 for no limit (producer.rate).")
    var rate: Double?

    @Option(help: "Events per message when publishing without a rate limit; 1 sends each on its own (producer.eventsPerMessage).")
    var eventsPerMessage: Int?

    @Flag(help: """
        Keep publishing: the lines appended to the (single) JSON Lines file, or each new source file dropped into the \
        (single) folder, once it is complete (write it under a name ending in .part or .tmp, then rename it).
        """)
    var follow = false

    @Option(help: "Publish N deterministic synthetic visits instead of sources.")
    var synthetic: Int?

    @Option(help: "Seed of the synthetic events.")
    var seed: UInt64 = 1

    @Option(help: "The producer id (default: derived from the sources, so a restart resumes).")
    var producerId: String?

    @Flag(help: "Reject every source with a bad row or line before publishing anything (exit 65).")
    var strict = false

    @OptionGroup var sources: SourceOptions
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var options: DaemonOptions

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if let rate, rate < 0 { throw ValidationError("--rate must not be negative") }
        if follow && paths.count != 1 { throw ValidationError("--follow takes exactly one JSON Lines file or one folder") }
        if follow && synthetic != nil { throw ValidationError("--follow and --synthetic do not go together") }
        if follow && strict { throw ValidationError("--strict rejects whole sources before publishing; a followed file or folder is published as it comes, so the two do not go together") }
        if let synthetic, synthetic < 0 { throw ValidationError("--synthetic must not be negative") }
        if let producerId, producerId.isEmpty || producerId.utf8.count > 200 { throw ValidationError("--producer-id takes 1 to 200 bytes") }
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let config = try await options.configuration()
            let logger = Logger(label: "timeline.producer")
            let supply: any EventSupply
            let identity: String
            let toStandardError: @Sendable (Diagnostic) -> Void = { diagnostic in
                FileHandle.standardError.write(Data((diagnostic.description + "\n").utf8))
            }
            if let synthetic {
                supply = SyntheticSupply(count: synthetic, seed: seed)
                identity = "synthetic:\(synthetic):\(seed)"
            } else if follow, Self.isFolder(paths[0]) {
                // A folder: each new source file dropped into it, once. The state file that says
                // which files are done is the producer id's, which its path gives.
                let path = paths[0]
                identity = "follow-folder:" + URL(fileURLWithPath: path).standardizedFileURL.path
                let loader = SourceLoader(gazetteer: try sources.loadGazetteer())
                do {
                    supply = try FollowedFolderSupply(folder: path, loader: loader, dataDirectory: options.dataDirectory(for: "producer"),
                                                      stateName: producerId ?? Self.derivedID(identity), logger: logger, report: toStandardError)
                } catch let error as SourceError {
                    throw CLIError(error.description, code: error.exitCode)
                } catch let error as StorageError {
                    throw CLIError("\(error)", code: ExitStatus.configError)
                } catch let error as PipelineError {
                    throw CLIError("\(error)", code: ExitStatus.configError)
                }
            } else if follow {
                let path = paths[0]
                do {
                    supply = try FollowedFileSupply(path: path, report: toStandardError)
                } catch let error as SourceError {
                    throw CLIError(error.description, code: error.exitCode)
                }
                identity = "follow:" + URL(fileURLWithPath: path).standardizedFileURL.path
            } else {
                let gazetteer = try sources.loadGazetteer()
                let loader = SourceLoader(gazetteer: gazetteer)
                let sourcePaths = paths.isEmpty ? try sources.defaultSources() : paths
                let merged = try SourceFiles.read(sourcePaths, loader: loader, display: progress.display(logger: logger))
                for diagnostic in merged.diagnostics { Output.error(diagnostic.description) }
                let rejected = merged.diagnostics.filter { $0.severity == .error }.count
                if strict, rejected > 0 {
                    throw CLIError("\(rejected) bad row(s) or line(s); nothing published (--strict)", code: ExitStatus.dataError)
                }
                if rejected > 0 {
                    let folder = options.dataDirectory(for: "producer")
                    do {
                        try RejectedLines.write(merged.diagnostics, folder: folder)
                        logger.warning("Rejected rows written to the dead-letter file", metadata: [
                            "file.path": "\(folder)/\(RejectedLines.fileName)", "rejected": "\(rejected)",
                        ])
                    } catch {
                        logger.error("Could not write the rejected rows", metadata: ["error": "\(error)"])
                    }
                }
                supply = FixedSupply(merged.events)
                identity = sourcePaths.map { URL(fileURLWithPath: $0).standardizedFileURL.path }.sorted().joined(separator: "\n")
            }
            let producerID = producerId ?? Self.derivedID(identity)
            let endpoints = try config.producerEndpoints()
            var settings = ProducerSettings(frontends: endpoints.frontends, replays: endpoints.replays, producerID: producerID)
            let rate = try self.rate ?? config.double("producer.rate")
            settings.rate = rate > 0 ? rate : nil
            let eventsPerMessage = try self.eventsPerMessage ?? config.int("producer.eventsPerMessage")
            guard (1...1_000).contains(eventsPerMessage) else {
                throw CLIError("producer.eventsPerMessage must be 1 to 1000 (got \(eventsPerMessage))", code: ExitStatus.configError)
            }
            settings.eventsPerMessage = eventsPerMessage
            settings.connectTimeout = try config.duration("producer.connectTimeoutSeconds")
            settings.acknowledgeTimeout = try config.duration("producer.acknowledgeTimeoutSeconds")
            settings.security = try options.security(config, server: false, client: true)
            let workerCount = try follow ? 1 : (workers ?? config.int("producer.workers"))
            let metrics = try MetricsSetup.make(config, dataDirectory: options.dataDirectory(for: "producer"), logger: logger)
            // The acknowledged figure moves only when the broker is asked while sending.
            if metrics != nil { settings.tracksAcknowledgements = true }
            let context = try ZMQContext.forDaemon()
            let group = ProducerGroup.split(supply, count: workerCount, settings: settings, context: context, logger: logger,
                                            progress: progress.display(logger: logger))
            if let metrics {
                let producerMetrics = ProducerMetrics(factory: metrics.metrics.factory)
                let supplied = supply.isOpenEnded ? nil : supply.count
                metrics.metrics.onScrape { producerMetrics.update(group.reports, supplied: supplied) }
            }
            logger.info("Producer starting", metadata: ["producer.id": "\(producerID)", "producer.events": "\(supply.count)", "producer.workers": "\(workerCount)"])
            try await DaemonRunner.run([group], metrics: metrics, logger: logger)
            let reports = group.reports
            let sent = reports.reduce(0) { $0 + $1.sent }
            let acknowledged = reports.reduce(0) { $0 + $1.acknowledged }
            logger.info("Producer done", metadata: ["producer.sent": "\(sent)", "producer.acknowledged": "\(acknowledged)"])
        }
    }
}

extension ProduceCommand {
    /// The producer id of sources with this identity, when none is given.
    static func derivedID(_ identity: String) -> String {
        "producer-" + EventID.hex(EventID.digest(identity).prefix(6))
    }

    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

struct AggregateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregate",
        abstract: "Run the aggregator: count every event once, persist the statistics, answer report queries."
    )

    @Option(help: """
        A snapshot writer's data folder (or its snapshots folder): when the broker's retention deleted records this \
        aggregator has not counted, start again from its latest snapshot (aggregator.bootstrapSnapshot).
        """)
    var bootstrapSnapshot: String?

    @OptionGroup var sources: SourceOptions
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var options: DaemonOptions

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let config = try await options.configuration(extra: bootstrapSnapshot.map { ["aggregator.bootstrapSnapshot": $0] } ?? [:])
            let logger = Logger(label: "timeline.aggregator")
            var settings = AggregatorSettings(endpoints: try config.consumerEndpoints(), query: try config.string("endpoints.query"),
                                              dataDirectory: options.dataDirectory(for: "aggregator"))
            settings.checkpointEvery = try config.int("aggregator.checkpointEvery")
            settings.checkpointInterval = try config.duration("aggregator.checkpointIntervalSeconds")
            let snapshotFolder = try config.string("aggregator.bootstrapSnapshot")
            settings.bootstrapSnapshot = snapshotFolder.isEmpty ? nil : snapshotFolder
            settings.consumerName = try config.consumerName("aggregator.consumerName")
            settings.countryNames = (try? sources.loadGazetteer()).map(CountryNames.from) ?? [:]
            settings.security = try options.security(config, server: true, client: true)
            let metrics = try MetricsSetup.make(config, dataDirectory: settings.dataDirectory, logger: logger)
            settings.metrics = metrics?.consumer(settings.consumerName, saveHistogram: "timeline_aggregator_checkpoint_seconds")
            settings.progress = progress.display(logger: logger)
            let context = try ZMQContext.forDaemon()
            let zap = try options.authenticator(settings.security, context: context, logger: logger)
            let aggregator = try Aggregator(settings: settings, context: context, logger: logger)
            try await DaemonRunner.run(zap + [SocketLoopService(name: "aggregator", loop: aggregator, context: context),
                                              SocketLoopService(name: "aggregator.query", loop: aggregator.queryServer, context: context)],
                                       metrics: metrics, logger: logger)
        }
    }
}

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Run the snapshot writer: JSON snapshots of the events and statistics, every N events, every T seconds and at shutdown."
    )

    @Option(help: "Write a snapshot after this many new events (snapshot.everyEvents).")
    var everyEvents: Int?

    @Option(help: "Write a snapshot this many seconds after the first unsaved event (snapshot.everySeconds).")
    var everySeconds: Double?

    @Option(help: "How many snapshots to keep (snapshot.keep).")
    var keep: Int?

    @OptionGroup var sources: SourceOptions
    @OptionGroup var progress: ProgressOptions
    @OptionGroup var options: DaemonOptions

    func validate() throws {
        if let everyEvents, everyEvents < 1 { throw ValidationError("--every-events must be at least 1") }
        if let everySeconds, everySeconds <= 0 { throw ValidationError("--every-seconds must be positive") }
        if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let config = try await options.configuration()
            let logger = Logger(label: "timeline.snapshot")
            var settings = SnapshotSettings(endpoints: try config.consumerEndpoints(), dataDirectory: options.dataDirectory(for: "snapshot"))
            settings.everyEvents = try everyEvents ?? config.int("snapshot.everyEvents")
            settings.everySeconds = try everySeconds.map { try PipelineConfiguration.duration(seconds: $0, key: "--every-seconds", origin: "command line") }
                ?? config.duration("snapshot.everySeconds")
            settings.keep = try keep ?? config.int("snapshot.keep")
            settings.consumerName = try config.consumerName("snapshot.consumerName")
            settings.countryNames = (try? sources.loadGazetteer()).map(CountryNames.from) ?? [:]
            settings.security = try options.security(config, server: false, client: true)
            let metrics = try MetricsSetup.make(config, dataDirectory: settings.dataDirectory, logger: logger)
            settings.metrics = metrics?.consumer(settings.consumerName, saveHistogram: "timeline_snapshot_write_seconds")
            settings.progress = progress.display(logger: logger)
            let context = try ZMQContext.forDaemon()
            let writer = try SnapshotWriter(settings: settings, context: context, logger: logger)
            try await DaemonRunner.run([SocketLoopService(name: "snapshot", loop: writer, context: context)], metrics: metrics, logger: logger)
        }
    }
}

struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Print a live feed of events, filtered by topic prefix."
    )

    @Option(help: "Topic prefix to show, e.g. visit, visit.MN or visit.MN.KP; repeat for several. Default: everything.")
    var topic: [String] = []

    @Flag(help: "Print each event as a JSON line (for piping).")
    var json = false

    @Flag(help: "Replay every event in the broker's log first, then follow live events.")
    var fromStart = false

    @Option(help: ArgumentHelp("""
        Replay the events the broker received from this time on first, then follow live events: a time with a zone \
        (2026-11-30T00:00Z, 2026-11-30T09:30+02:00), a date (2026-11-30, midnight UTC) or a span back from now (30s, 10m, 2h, 1d, 1h30m).
        """, valueName: "time"))
    var since: String?

    @Option(help: "Exit after this many events.")
    var count: Int?

    @Option(help: "Seconds between lines of rates and totals; 0 for none (monitor.statsIntervalSeconds).")
    var statsInterval: Double?

    @Flag(inversion: .prefixedNo, help: "Colour (default: when standard output is a terminal and NO_COLOR is unset).")
    var colour: Bool?

    @OptionGroup var options: DaemonOptions

    func validate() throws {
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let statsInterval, statsInterval < 0 { throw ValidationError("--stats-interval must not be negative") }
        if since != nil, fromStart { throw ValidationError("--since and --from-start both say where the feed starts: give one of them") }
    }

    /// `--since`, read at start: a value that cannot be read stops the monitor (exit 78) saying why.
    private func startTime() throws -> SinceTime? {
        guard let since else { return nil }
        do {
            return try SinceTime(parsing: since)
        } catch {
            throw CLIError("--since: \(error)", code: ExitStatus.configError)
        }
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let start = try startTime()
            let config = try await options.configuration()
            let logger = Logger(label: "timeline.monitor")
            var settings = MonitorSettings(endpoints: try config.consumerEndpoints())
            settings.topics = topic
            settings.fromStart = fromStart
            settings.since = start
            settings.json = json
            settings.count = count
            settings.statsInterval = try statsInterval.map { try PipelineConfiguration.duration(seconds: $0, key: "--stats-interval", origin: "command line") }
                ?? config.duration("monitor.statsIntervalSeconds")
            settings.colour = colour ?? (isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil)
            settings.security = try options.security(config, server: false, client: true)
            let metrics = try MetricsSetup.make(config, dataDirectory: options.dataDirectory(for: "monitor"), logger: logger)
            settings.metrics = metrics?.consumer("monitor")
            let context = try ZMQContext.forDaemon()
            let toStandardError: @Sendable (String) -> Void = { text in Output.error(String(text.dropLast())) }
            let toStandardOutput: @Sendable (String) -> Void = { text in Output.write(text) }
            let monitor = Monitor(settings: settings, context: context, logger: logger,
                                  output: toStandardOutput, statsOutput: json ? toStandardError : toStandardOutput)
            try await DaemonRunner.run([SocketLoopService(name: "monitor", loop: monitor, context: context)], metrics: metrics, logger: logger)
        }
    }
}

enum CountryNames {
    static func from(_ gazetteer: Gazetteer) -> [CountryCode: String] {
        gazetteer.countries.mapValues(\.name)
    }
}
