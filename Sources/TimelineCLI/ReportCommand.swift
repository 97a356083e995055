import ArgumentParser
import Foundation
import Timeline
import TimelinePipeline
import ZeroMQ

extension ReportFormat: ExpressibleByArgument {}
extension RelationsOnDate.Format: ExpressibleByArgument {}

/// Where a report's statistics come from: the running aggregator, or the state it left in a data folder.
struct QueryTarget {
    let options: DaemonOptions
    let sources: SourceOptions
    let timeout: Double

    /// The answer to `query`: asked of the aggregator at endpoints.query, or, with --data-dir,
    /// worked out from the state persisted there.
    func answer(_ query: ReportQuery) async throws -> String {
        if let folder = options.dataDir {
            guard FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(AggregatorState.fileName)) else {
                throw CLIError("\(folder): no aggregator state here (\(AggregatorState.fileName) is missing)", code: ExitStatus.noInput)
            }
            let state = try AggregatorState.load(from: folder, keys: false)
            let names = (try? sources.loadGazetteer()).map(CountryNames.from) ?? [:]
            do {
                return try query.answer(statistics: state.statistics, title: "Timeline statistics",
                                        generatedAt: ISO8601DateFormatter().string(from: Date()),
                                        position: ["sequence": Int(state.position.sequence)], countryNames: names)
            } catch {
                throw CLIError("\(error)", code: ExitStatus.usage)
            }
        }
        let config = try await options.configuration()
        let endpoint = try config.string("endpoints.query")
        let security = try options.security(config, server: false, client: true)
        let timeout = try PipelineConfiguration.duration(seconds: self.timeout, key: "--timeout", origin: "command line")
        return try await runOnDedicatedThread(name: "timeline.report") {
            let context = try ZMQContext()
            defer { context.terminate() }
            let client = try AggregatorClient(context: context, endpoint: endpoint, security: security, timeout: timeout)
            defer { client.close() }
            // A plain report is asked the way aggregators before queries understand.
            if query.view == .report, query.filter.isEmpty { return try client.report(format: query.format) }
            return try client.answer(query)
        }
    }

    /// Writes `text` to `output` atomically, or to standard output.
    static func write(_ text: String, to output: String?) throws {
        guard let output else {
            Output.write(text)
            return
        }
        do {
            try AtomicFile.write(text, to: output)
        } catch {
            throw CLIError("\(error)", code: 73)
        }
    }
}

/// The restrictions `report` and `at` share.
struct FilterOptions: ParsableArguments {
    @Option(help: "Only this pair of countries, either way: two codes such as MN-KP.")
    var pair: String?

    @Option(help: "Only pairs with this country (a code such as MN).")
    var country: String?

    @Option(help: "Only events from this year on (the year of an EDTF date is taken).")
    var from: String?

    @Option(help: "Only events up to this year, included.")
    var to: String?

    @Option(help: "Only events of these kinds, comma-separated (visit, aid, agreement_signed, ...).")
    var kind: String?

    func filter() throws -> StatisticsFilter {
        do {
            var filter = StatisticsFilter()
            if let pair { filter = StatisticsFilter(pair: try StatisticsFilter.pair(pair)) }
            if let country { filter.country = try StatisticsFilter.country(country) }
            if let from { filter.fromYear = try StatisticsFilter.year(from, "--from") }
            if let to { filter.toYear = try StatisticsFilter.year(to, "--to") }
            if let kind { filter.kinds = try StatisticsFilter.kinds(kind) }
            if let fromYear = filter.fromYear, let toYear = filter.toYear, fromYear > toYear {
                throw FilterError("--from \(fromYear) is after --to \(toYear)")
            }
            return filter
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print the aggregated statistics: asked of the running aggregator, or read from its data folder.",
        discussion: """
        Without --data-dir, asks the aggregator at endpoints.query (see --query). With --data-dir, \
        reads the state the aggregator persisted there (it may be stopped). --pair, --country, \
        --from, --to and --kind restrict the report (they combine); --pairs prints one row per pair \
        instead. The JSON report is a contract: totalVisits, totalEvents, visitsByDecade \
        [{decade, from, to, count}], visitsByYear, visitsByDirection, eventsByKind, and filter when \
        restricted.
        """
    )

    @Option(help: "text, markdown, csv, json or html.")
    var format: ReportFormat = .text

    @Flag(help: "One row per pair: visits each way, reciprocity, first and last visit, longest gap.")
    var pairs = false

    @Option(help: "Write the report to this file (atomically) instead of standard output.")
    var output: String?

    @Option(help: "Seconds to wait for the aggregator's answer.")
    var timeout: Double = 5

    @OptionGroup var filters: FilterOptions
    @OptionGroup var sources: SourceOptions
    @OptionGroup var options: DaemonOptions

    func validate() throws {
        _ = try filters.filter()
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let query = ReportQuery(view: pairs ? .pairs : .report, format: format.rawValue, filter: try filters.filter())
            let text = try await QueryTarget(options: options, sources: sources, timeout: timeout).answer(query)
            try QueryTarget.write(text, to: output)
        }
    }
}

struct AtCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "at",
        abstract: "What stood between two countries on a date: relations, embassies, treaties, ambassadors, last visits.",
        discussion: """
        Asks the running aggregator, or with --data-dir reads the state it persisted. The date is \
        EDTF: a day (1999-06-01), a month (1999-06) or a year (1999); a coarser date is read as \
        every day of it. A fact dated too coarsely to tell whether it came before the date (closed \
        "during 1999", asked about 1999-06-01) is answered "too coarse to decide" (undecided in JSON).
        """
    )

    @Argument(help: "The date, in EDTF: 1999-06-01, 1999-06 or 1999.")
    var date: String

    @Option(help: "The pair of countries: two codes such as MN-KP.")
    var pair: String

    @Option(help: "text or json.")
    var format: RelationsOnDate.Format = .text

    @Option(help: "Write the answer to this file (atomically) instead of standard output.")
    var output: String?

    @Option(help: "Seconds to wait for the aggregator's answer.")
    var timeout: Double = 5

    @OptionGroup var sources: SourceOptions
    @OptionGroup var options: DaemonOptions

    func validate() throws {
        do {
            _ = try StatisticsFilter.pair(pair)
            _ = try ReportQuery.day(date)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let query = ReportQuery(view: .at, format: format.rawValue, filter: StatisticsFilter(pair: try StatisticsFilter.pair(pair)), date: date)
            let text = try await QueryTarget(options: options, sources: sources, timeout: timeout).answer(query)
            try QueryTarget.write(text, to: output)
        }
    }
}
