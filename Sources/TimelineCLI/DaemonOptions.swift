import ArgumentParser
import Foundation
import Logging
import Synchronization
import ServiceLifecycle
import UnixSignals
import Timeline
import TimelineHTTP
import TimelinePipeline
import ZeroMQ

/// Flags every daemon shares: configuration, data folder, endpoints, logging.
struct DaemonOptions: ParsableArguments {
    @Option(help: "Configuration file (JSON). Default: Config/timeline.json of the project, when present.")
    var config: String?

    @Option(help: "Folder for this daemon's state (log, checkpoints, snapshots). Default: var/<daemon> under the working folder.")
    var dataDir: String?

    @Option(help: "Broker frontend endpoint, where producers connect (endpoints.frontend); for a producer, both brokers' of a pair, comma-separated.")
    var frontend: String?

    @Option(help: "Broker backend endpoint, where SUB sockets subscribe (endpoints.backend); for a consumer with --feed subscribe, both brokers' of a pair, comma-separated.")
    var backend: String?

    @Option(help: "Broker replay endpoint (endpoints.replay); for a client, both brokers' of a pair, comma-separated, in the order of the other lists.")
    var replay: String?

    @Option(help: "How a consumer reads the broker (consumer.feed): follow (FOLLOW requests on the replay endpoint, many records a frame; the default) or subscribe (a SUB socket on the backend, one message an event).")
    var feed: String?

    @Option(help: "Aggregator query endpoint (endpoints.query).")
    var query: String?

    @Option(help: ArgumentHelp("Serve Prometheus metrics at http://ADDRESS/metrics (metrics.listen): host:port, or host:* for a port the system picks (written to endpoints.json). Off by default.", valueName: "address"))
    var metricsListen: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override any configuration key.", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Log lines on standard error: text (for people) or json (one object a line, for log shippers) (log.format).")
    var logFormat: String?

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let logFormat, LogFormat(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text or json (got '\(logFormat)')")
        }
        for entry in overrides where !entry.contains("=") {
            throw ValidationError("--set takes key=value, e.g. --set broker.fsyncIntervalSeconds=0.5 (got '\(entry)')")
        }
    }

    /// Loads the configuration: the file, then TIMELINE_* variables, then these flags.
    func configuration(extra: [String: String] = [:]) async throws -> PipelineConfiguration {
        var values: [String: String] = extra
        for entry in overrides {
            let parts = entry.split(separator: "=", maxSplits: 1)
            values[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        if let frontend { values["endpoints.frontend"] = frontend }
        if let backend { values["endpoints.backend"] = backend }
        if let replay { values["endpoints.replay"] = replay }
        if let query { values["endpoints.query"] = query }
        if let feed { values["consumer.feed"] = feed }
        if let metricsListen { values["metrics.listen"] = metricsListen }
        if let logFormat { values["log.format"] = logFormat }
        var file = config
        if file == nil, let paths = ProjectPaths.locate(), FileManager.default.fileExists(atPath: paths.configFolder + "/timeline.json") {
            file = paths.configFolder + "/timeline.json"
        }
        do {
            let loaded = try await PipelineConfiguration.load(file: file, overrides: values)
            LoggingBootstrap.use(try loaded.logFormat())
            return loaded
        } catch let error as ConfigurationError {
            throw CLIError(error.description, code: ExitStatus.configError)
        }
    }

    /// The daemon's CURVE setup, checked now: a daemon configured for security that cannot have it
    /// refuses to start (exit 78) saying which file or key and why.
    func security(_ config: PipelineConfiguration, server: Bool, client: Bool) throws -> Security? {
        do {
            return try Security.load(try config.security(), server: server, client: client)
        } catch let error as SecurityError {
            throw CLIError("\(error)", code: ExitStatus.configError)
        }
    }

    /// Services that must run beside a server daemon: the ZAP handler when security is on. Created
    /// before the daemon binds, so no client is ever let in unchecked.
    func authenticator(_ security: Security?, peerAllowed: [CurveKey: String] = [:], context: ZMQContext, logger: Logger) throws -> [any Service] {
        guard let security, security.isServer else { return [] }
        let zap = try ZAPAuthenticator(context: context, allowed: security.allowed, peerAllowed: peerAllowed, logger: logger)
        logger.info("CURVE security on", metadata: ["security.allowedKeys": "\(security.allowed.count)"])
        return [SocketLoopService(name: "zap", loop: zap, context: context)]
    }

    func dataDirectory(for daemon: String) -> String {
        dataDir ?? FileManager.default.currentDirectoryPath + "/var/\(daemon)"
    }

    /// Logging in the format of `--log-format` (text without it), before the configuration is
    /// read; `configuration()` then applies `log.format` from the file or the environment, which
    /// the flag overrides, to every logger made after it.
    func bootstrapLogging() {
        LoggingBootstrap.once(level: Logger.Level(rawValue: logLevel) ?? .info, format: logFormat.flatMap(LogFormat.init) ?? .text)
    }
}

enum LoggingBootstrap {
    private static let state = Mutex((done: false, format: LogFormat.text))

    /// Log lines go to standard error, so standard output stays for data (feeds, reports).
    static func once(level: Logger.Level, format: LogFormat = .text) {
        state.withLock { state in
            guard !state.done else { return }
            state = (true, format)
            LoggingSystem.bootstrap { label -> any LogHandler in
                switch LoggingBootstrap.state.withLock({ $0.format }) {
                case .text:
                    var handler = StreamLogHandler.standardError(label: label)
                    handler.logLevel = level
                    return handler
                case .json:
                    var handler = JSONLogHandler(label: label)
                    handler.logLevel = level
                    return handler
                }
            }
        }
    }

    /// The format of the loggers made from now on: a daemon's loggers are made once its
    /// configuration is read.
    static func use(_ format: LogFormat) {
        state.withLock { $0.format = format }
    }
}

/// Runs daemons as a service group that shuts down gracefully on SIGTERM and SIGINT; maps errors
/// to a message on standard error and an exit code.
enum DaemonRunner {
    /// With `metrics`, its HTTP endpoint listens before any of `services` starts, and so do the
    /// endpoints of `http`; a port that is taken stops the daemon there (exit 78). At shutdown the
    /// services stop in the reverse order, the endpoints last.
    static func run(_ services: [any Service], metrics: MetricsSetup? = nil, http: [HTTPServing] = [], logger: Logger) async throws {
        let serving = (metrics.map { [$0.serving] } ?? []) + http
        let services = serving.flatMap(\.services) + services.map { HTTPEndpoint.startingAfter(serving.map(\.endpoint), $0) }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger
        ))
        try await group.run()
    }

    /// Runs `body`, turning any error into a one-line message and exit code 1 (or the CLIError's code).
    static func guarded(_ body: () async throws -> Void) async throws {
        // A file-size limit or a full disk must fail the write (EFBIG, ENOSPC), reported like any
        // other storage error, rather than kill the daemon with SIGXFSZ.
        signal(SIGXFSZ, SIG_IGN)
        do {
            try await body()
        } catch let error as CLIError {
            throw error.exit()
        } catch let error as ExitCode {
            throw error
        } catch let error as ConfigurationError {
            throw CLIError(error.description, code: ExitStatus.configError).exit()
        } catch let error as HTTPEndpointError {
            throw CLIError(error.description, code: ExitStatus.configError).exit()
        } catch let error as ServiceGroupError {
            throw CLIError("\(error)", code: 1).exit()
        } catch {
            throw CLIError("\(error)", code: 1).exit()
        }
    }
}

extension ZMQContext {
    /// Context with every socket's linger finite, so that closing it never hangs.
    static func forDaemon() throws -> ZMQContext {
        try ZMQContext(ioThreads: 1)
    }
}
