import ArgumentParser
import Foundation
import Timeline
import TimelinePipeline
import ZeroMQ

extension ReportFormat: ExpressibleByArgument {}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print the aggregated statistics: asked of the running aggregator, or read from its data folder.",
        discussion: """
        Without --data-dir, asks the aggregator at endpoints.query (see --query). With --data-dir, \
        reads the state the aggregator persisted there (it may be stopped). The JSON report is a \
        contract: totalVisits, totalEvents, visitsByDecade [{decade, from, to, count}], visitsByYear, \
        visitsByDirection, eventsByKind.
        """
    )

    @Option(help: "text, markdown, csv, json or html.")
    var format: ReportFormat = .text

    @Option(help: "Write the report to this file (atomically) instead of standard output.")
    var output: String?

    @Option(help: "Seconds to wait for the aggregator's answer.")
    var timeout: Double = 5

    @OptionGroup var sources: SourceOptions
    @OptionGroup var options: DaemonOptions

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let text: String
            if let folder = options.dataDir {
                guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(AggregatorState.fileName)) else {
                    throw CLIError("\(folder): no aggregator state here (\(AggregatorState.fileName) is missing)", code: ExitStatus.noInput)
                }
                let state = try AggregatorState.load(from: folder, keys: false)
                let names = (try? sources.loadGazetteer()).map(CountryNames.from) ?? [:]
                text = Report(title: "Timeline statistics", statistics: state.statistics,
                              generatedAt: ISO8601DateFormatter().string(from: Date()),
                              position: ["sequence": Int(state.position.sequence)], countryNames: names).render(format)
            } else {
                let config = try await options.configuration()
                let endpoint = try config.string("endpoints.query")
                let security = try options.security(config, server: false, client: true)
                let format = self.format
                let timeout = try PipelineConfiguration.duration(seconds: self.timeout, key: "--timeout", origin: "command line")
                text = try await runOnDedicatedThread(name: "timeline.report") {
                    let context = try ZMQContext()
                    defer { context.terminate() }
                    let client = try AggregatorClient(context: context, endpoint: endpoint, security: security, timeout: timeout)
                    defer { client.close() }
                    return try client.report(format: format.rawValue)
                }
            }
            if let output {
                do {
                    try AtomicFile.write(text, to: output)
                } catch {
                    throw CLIError("\(error)", code: 73)
                }
            } else {
                Output.write(text)
            }
        }
    }
}
