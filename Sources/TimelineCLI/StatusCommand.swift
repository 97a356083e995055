import ArgumentParser
import Foundation
import Logging
import Timeline
import TimelinePipeline
import ZeroMQ

/// `timeline status`: one line per broker of `endpoints.replay` (each asked on its own, so a
/// passive broker of a pair and a silent one show too), from each broker's `STATS`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each broker's state: its log, and for a broker pair its role, state, epoch and replication.",
        discussion: """
        Asks every broker named in endpoints.replay (a list for a pair) for its statistics, each \
        on its own. Exit status: 0 when a broker is active (or a single broker answered), 1 when \
        none is, 2 when no broker answered.
        """
    )

    @Option(help: "Seconds to wait for each broker's answer.")
    var timeout: Double = 2

    @Flag(help: "Print each broker's statistics as a JSON line instead.")
    var json = false

    @OptionGroup var options: DaemonOptions

    struct Line: Codable {
        var endpoint: String
        var answered: Bool
        var error: String?
        var statistics: BrokerStatistics?
    }

    func run() async throws {
        try await DaemonRunner.guarded {
            options.bootstrapLogging()
            let config = try await options.configuration()
            let endpoints = try config.endpoints("endpoints.replay")
            let security = try options.security(config, server: false, client: true)
            let timeout = try PipelineConfiguration.duration(seconds: self.timeout, key: "--timeout", origin: "command line")
            let lines = try await runOnDedicatedThread(name: "timeline.status") {
                let context = try ZMQContext()
                defer { context.terminate() }
                return endpoints.map { endpoint in StatusCommand.ask(endpoint, context: context, security: security, timeout: timeout) }
            }
            for line in lines {
                let text = json ? String(decoding: (try? JSONEncoder().encode(line)) ?? Data(), as: UTF8.self) : StatusCommand.describe(line)
                Output.write(text + "\n")
            }
            let answered = lines.compactMap(\.statistics)
            if answered.isEmpty { throw ExitCode(2) }
            if !answered.contains(where: { $0.pair == nil || $0.pair?.state == "active" }) { throw ExitCode(1) }
        }
    }

    static func ask(_ endpoint: String, context: ZMQContext, security: Security?, timeout: Duration) -> Line {
        do {
            let client = try ControlClient(context: context, endpoints: [endpoint], role: "endpoints.replay", security: security,
                                           retry: .once(timeout: timeout), logger: Logger(label: "timeline.status"))
            defer { client.close() }
            guard case .stats(let json)? = try client.call(Timeline.BrokerCommand.stats, answer: BrokerAnswer.self) else {
                return Line(endpoint: endpoint, answered: true, error: "an unexpected answer to STATS")
            }
            return Line(endpoint: endpoint, answered: true, statistics: try JSONDecoder().decode(BrokerStatistics.self, from: Data(json)))
        } catch {
            return Line(endpoint: endpoint, answered: false, error: "\(error)")
        }
    }

    static func describe(_ line: Line) -> String {
        guard let statistics = line.statistics else { return "\(line.endpoint)  no answer: \(line.error ?? "")" }
        var text = "\(line.endpoint)  log \(statistics.lastSequence)  accepted \(statistics.accepted)  subscriptions \(statistics.subscriptions)"
            + "  following \(statistics.followersWaiting ?? 0)"
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
}
