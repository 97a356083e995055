import Foundation

/// Errors of the pipeline's daemons that a user can act on.
public enum PipelineError: Error, CustomStringConvertible {
    case endpoint(role: String, endpoint: String, reason: String)
    case noBroker(endpoint: String, seconds: Double)
    case notAcknowledged(producer: String, acknowledged: UInt64, sent: UInt64, seconds: Double)
    /// The broker's position for a producer went back before events the producer had forgotten
    /// because that broker had logged them.
    case forgotten(producer: String, logged: UInt64, firstHeld: UInt64)
    case brokerError(String)
    case state(path: String, reason: String)
    /// The two brokers of a pair hold histories that cannot be made one.
    case pairDiverged(String)
    /// A consumer needs records the broker's retention deleted: its log begins at `first`.
    case logTrimmed(position: UInt64, first: UInt64, head: UInt64)

    public var description: String {
        switch self {
        case .endpoint(let role, let endpoint, let reason): return "cannot use \(role) = \(endpoint): \(reason)"
        case .noBroker(let endpoint, let seconds):
            return "no broker answered at \(endpoint) within \(seconds) s (is it running? does it require CURVE security?)"
        case .notAcknowledged(let producer, let acknowledged, let sent, let seconds):
            return "producer \(producer): the broker logged \(acknowledged) of \(sent) events within \(seconds) s"
        case .forgotten(let producer, let logged, let firstHeld):
            return "producer \(producer): the broker's log of it ends at event \(logged), but it had logged events through \(firstHeld), "
                + "which are no longer held; start the producer again to read its file from the top "
                + "(following a folder, whose files done are not read again: with another --producer-id, to publish the folder again)"
        case .brokerError(let message): return "the broker answered with an error: \(message)"
        case .state(let path, let reason): return "\(path): \(reason)"
        case .pairDiverged(let detail): return "the two brokers' logs cannot be reconciled: \(detail)"
        case .logTrimmed(let position, let first, _):
            return "the broker's log begins at sequence \(first) (its retention deleted the records before), but this consumer is at "
                + "sequence \(position): sequences \(position + 1)-\(first - 1) are missing, and statistics without them would be wrong. "
                + "An aggregator can start from a snapshot writer's snapshot that covers them (aggregate --bootstrap-snapshot FOLDER); "
                + "to keep them next time, name this consumer in broker.retention.consumers with broker.retention.keepUnread on"
        }
    }
}
