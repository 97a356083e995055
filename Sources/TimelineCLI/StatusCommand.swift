import ArgumentParser
import Foundation
import Logging
import Timeline
import TimelinePipeline
import ZeroMQ

/// `timeline status`: the whole pipeline in one command. Each broker of `endpoints.replay` (each
/// asked on its own, so a passive broker of a pair and a silent one show too), the aggregator on
/// `endpoints.query`, and every consumer the serving broker heard from (`CONSUMED`), read twice
/// `--sample` seconds apart for rates; then what is wrong, if anything.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the pipeline's state: brokers, aggregator and consumers, their positions, lag, rates and memory, and what is wrong.",
        discussion: """
        Asks every broker named in endpoints.replay (a list for a pair) for its statistics, each \
        on its own, and the aggregator on endpoints.query for its status; twice, --sample seconds \
        apart, for rates. Lists what is wrong: no active broker, a broker of a pair active alone, \
        a log that cannot be written, a data folder's disk filling, a consumer falling behind, an \
        aggregator the broker heard from that no longer answers. Exit status: 0 healthy, 1 \
        something is wrong, 2 no broker answered.
        """
    )

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Double = 2

    @Option(help: "Seconds between the two readings that give rates; 0 for one reading and no rates.")
    var sample: Double = 1

    @Option(help: "A consumer further behind the broker than this many events is falling behind.")
    var maxLag: UInt64 = 100_000

    @Option(help: "A data folder's disk with less than this percentage free is filling.")
    var minDiskFree: Double = 10

    @Flag(help: "Print the whole status as one JSON object instead.")
    var json = false

    @OptionGroup var options: DaemonOptions

    func validate() throws {
        guard timeout > 0, timeout <= 3_600 else { throw ValidationError("--timeout must be more than 0 and at most 3600 seconds") }
        guard sample >= 0, sample <= 3_600 else { throw ValidationError("--sample must be 0 to 3600 seconds") }
        guard (0...100).contains(minDiskFree) else { throw ValidationError("--min-disk-free is a percentage, 0 to 100") }
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let config = try await options.configuration()
            let endpoints = try config.endpoints("endpoints.replay")
            let query = try config.string("endpoints.query")
            let security = try options.security(config, server: false, client: true)
            let timeout = try PipelineConfiguration.duration(seconds: self.timeout, key: "--timeout", origin: "command line")
            let sample = self.sample
            let (first, second) = try await runOnDedicatedThread(name: "timeline.status") {
                let context = try ZMQContext()
                defer { context.terminate() }
                let logger = Logger(label: "timeline.status")
                let read = {
                    (brokers: endpoints.map { BrokerReading.read($0, context: context, security: security, timeout: timeout, logger: logger) },
                     aggregator: AggregatorReading.read(query, context: context, security: security, timeout: timeout, logger: logger))
                }
                let first = read()
                guard sample > 0 else { return (first, nil as (brokers: [BrokerReading], aggregator: AggregatorReading)?) }
                // The interval the rates are measured over, not a wait for anything to happen.
                Thread.sleep(forTimeInterval: sample)
                return (first, read())
            }
            let health = PipelineHealth.assess(first: first, second: second, interval: sample,
                                               limits: .init(maxLag: maxLag, minDiskFree: minDiskFree / 100,
                                                             aggregatorName: try config.consumerName("aggregator.consumerName")))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                Output.write(String(decoding: try encoder.encode(health), as: UTF8.self) + "\n")
            } else {
                Output.write(StatusCommand.describe(health).joined(separator: "\n") + "\n")
            }
            if health.brokers.allSatisfy({ !$0.answered }) { throw ExitCode(2) }
            if !health.healthy { throw ExitCode(1) }
        }
    }

    /// The text form: a line per broker, the aggregator, a line per consumer, then `ok` or a
    /// `problem:` line for each thing wrong.
    static func describe(_ health: PipelineHealth) -> [String] {
        var lines = health.brokers.map(describe)
        let aggregator = health.aggregator
        if let status = aggregator.status {
            lines.append("aggregator \(aggregator.endpoint)  position \(status.sequence)  lag \(status.lag)  events \(status.events)"
                + (aggregator.eventsPerSecond.map { "  \(rate($0))/s" } ?? "") + (status.residentBytes.map { "  memory \(PipelineHealth.mebibytes($0))" } ?? ""))
        } else {
            lines.append("aggregator \(aggregator.endpoint)  not answering")
        }
        for consumer in health.consumers {
            lines.append("consumer \(consumer.name)  position \(consumer.position)  lag \(consumer.lag)"
                + (consumer.perSecond.map { "  \(rate($0))/s" } ?? ""))
        }
        lines += health.problems.isEmpty ? ["ok"] : health.problems.map { "problem: \($0)" }
        return lines
    }

    static func describe(_ broker: PipelineHealth.Broker) -> String {
        guard let statistics = broker.statistics else { return "\(broker.endpoint)  no answer: \(broker.error ?? "")" }
        var text = "\(broker.endpoint)  log \(statistics.lastSequence)  accepted \(statistics.accepted)"
            + (broker.acceptedPerSecond.map { " (\(rate($0))/s)" } ?? "")
            + "  subscriptions \(statistics.subscriptions)  following \(statistics.followersWaiting ?? 0)"
            + (statistics.residentBytes.map { "  memory \(PipelineHealth.mebibytes($0))" } ?? "")
            + (statistics.disk.map { "  disk \(String(format: "%.0f%%", $0.freeShare * 100)) free" } ?? "")
        guard let pair = statistics.pair else { return text + "  (single broker)" }
        text += "  \(pair.role) \(pair.state)  epoch \(pair.epoch)  \(pair.replication)"
        switch pair.state {
        case "active": text += pair.replicating ? " (records wait for the peer)" : " (running alone)"
        case "passive": text += pair.inStep ? " (in step)" : " (catching up)"
        default: break
        }
        text += pair.peerHeard ? "  peer \(pair.peerState ?? "?") at \(pair.peerLastSequence ?? 0)" : "  peer silent"
        return text
    }

    private static func rate(_ value: Double) -> String { String(Int(value.rounded())) }

}
