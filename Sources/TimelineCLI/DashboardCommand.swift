import ArgumentParser
import Foundation
import Logging
import Timeline
import TimelineHTTP
import TimelinePipeline
import ZeroMQ

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve a live dashboard in the browser: the feed, visits per decade and direction, the pipeline's health.",
        discussion: """
        A consumer that follows the broker's log from its start and serves one self-contained page at \
        http://ADDRESS/ whose figures are pushed as Server-Sent Events (/events). It reads the brokers' \
        STATS and the aggregator's STATUS every second for the page's health section. Exit status 78 \
        when the address cannot be served (dashboard.listen names it).
        """
    )

    @Option(help: ArgumentHelp("Serve the page at http://ADDRESS/ (dashboard.listen): host:port, or host:* for a port the system picks (written to endpoints.json as dashboard).", valueName: "address"))
    var listen: String?

    @OptionGroup var sources: SourceOptions
    @OptionGroup var options: DaemonOptions

    static let key = "dashboard.listen"

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let config = try await options.configuration(extra: listen.map { [Self.key: $0] } ?? [:])
            let logger = Logger(label: "timeline.dashboard")
            let dataDirectory = options.dataDirectory(for: "dashboard")
            guard let address = try config.httpListen(Self.key) else {
                throw CLIError("key '\(Self.key)': the dashboard needs an address to serve (host:port, or host:* for any port)",
                               code: ExitStatus.configError)
            }
            try HTTPEndpoint.probe(address, key: Self.key)
            var settings = DashboardSettings(endpoints: try config.consumerEndpoints())
            settings.countryNames = (try? sources.loadGazetteer()).map(CountryNames.from) ?? [:]
            settings.security = try options.security(config, server: false, client: true)
            let metrics = try MetricsSetup.make(config, dataDirectory: dataDirectory, logger: logger)
            settings.metrics = metrics?.consumer("dashboard")
            let context = try ZMQContext.forDaemon()
            let dashboard = Dashboard(settings: settings, context: context, logger: logger)
            let hub = DashboardHub(dashboard: dashboard, logger: logger)
            if let metrics { hub.reportFigures(to: metrics.metrics) }
            let endpoint = HTTPEndpoint(key: Self.key, listen: address, router: hub.router(), logger: logger)
            let poller = HealthPoller(replays: settings.endpoints.replays, query: try config.string("endpoints.query"), security: settings.security,
                                      context: context, logger: logger) { hub.publish($0) }
            logger.info("Dashboard starting", metadata: ["dashboard.listen": "\(address)"])
            // The hub goes before the loops, so it stops after them and ends every stream before
            // the endpoint stops.
            try await DaemonRunner.run([hub, SocketLoopService(name: "dashboard", loop: dashboard, context: context),
                                        SocketLoopService(name: "dashboard.health", loop: poller, context: context)],
                                       metrics: metrics, http: [HTTPServing(endpoint: endpoint, entry: "dashboard", dataDirectory: dataDirectory)],
                                       logger: logger)
        }
    }
}
