import Logging
import Timeline
import ZeroMQ

/// Asks a running aggregator for a report or its status over its query endpoint: a
/// `ControlClient` that speaks `AggregatorCommand`. Blocking: call it from a thread of its own
/// (`runOnDedicatedThread`), not from Swift's cooperative pool.
public final class AggregatorClient {
    private let client: ControlClient

    /// Asks once and gives up after `timeout` (a person or script is waiting).
    public init(context: ZMQContext, endpoint: String, security: Security? = nil, timeout: Duration = .seconds(5),
                logger: Logger = Logger(label: "timeline.client")) throws {
        client = try ControlClient(context: context, endpoint: endpoint, role: "endpoints.query", security: security,
                                   retry: .once(timeout: timeout), maxReplyBytes: 64 << 20, logger: logger)
    }

    public var endpoint: String { client.endpoint }

    /// Closes the socket; do this before terminating the context.
    public func close() {
        client.close()
    }

    /// A report in `format` (text, markdown, csv, json, html).
    public func report(format: String) throws -> String {
        String(decoding: try ask(.report(format: format)), as: UTF8.self)
    }

    /// The aggregator's answer to a query (a restricted report, the pairs, relations on a date).
    public func answer(_ query: ReportQuery) throws -> String {
        String(decoding: try ask(.query(query)), as: UTF8.self)
    }

    /// The aggregator's status: position, lag, counters.
    public func status() throws -> AggregatorStatus {
        let body = try ask(.status)
        do {
            return try JSONCoding.decode(AggregatorStatus.self, from: body)
        } catch {
            throw ControlClientError.malformedReply(endpoint: client.endpoint, reason: "a status that does not decode: \(error)")
        }
    }

    private func ask(_ command: AggregatorCommand) throws -> [UInt8] {
        // No stopper: `.once` gives up after the timeout by itself.
        guard let answer = try client.call(command, answer: AggregatorAnswer.self) else {
            throw ControlClientError.noAnswer(peer: client.peer, endpoint: client.endpoint, timeout: client.retry.timeout, attempts: 1)
        }
        switch answer {
        case .ok(let body): return body
        case .error(let message): throw ControlClientError.refused(endpoint: client.endpoint, message: message)
        }
    }
}
