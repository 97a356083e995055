import Logging
import Timeline
import ZeroMQ

/// Why a control request got no usable answer.
public enum ControlClientError: Error, CustomStringConvertible, Sendable {
    /// Nobody answered within the timeout, as often as the client was allowed to ask.
    case noAnswer(peer: String, endpoint: String, timeout: Duration, attempts: Int)
    /// The server answered the request with `ERROR`.
    case refused(endpoint: String, message: String)
    /// The server's answer does not follow the protocol.
    case malformedReply(endpoint: String, reason: String)

    public var description: String {
        switch self {
        case .noAnswer(let peer, let endpoint, let timeout, let attempts):
            return "no \(peer) answered at \(endpoint) within \(timeout.inSeconds) s" + (attempts > 1 ? " (asked \(attempts) times)" : "")
                + " (is it running? does it require CURVE security?)"
        case .refused(let endpoint, let message): return "\(endpoint) answered with an error: \(message)"
        case .malformedReply(let endpoint, let reason): return "\(endpoint) sent a malformed reply: \(reason)"
        }
    }
}

/// How a `ControlClient` waits: how long for each answer, and how often it asks.
public struct RetryPolicy: Sendable, Equatable {
    /// How long to wait for an answer before asking again on a fresh connection.
    public var timeout: Duration
    /// How many times to ask in all; nil to ask until answered (or stopped).
    public var attempts: Int?

    public init(timeout: Duration, attempts: Int?) {
        self.timeout = timeout
        self.attempts = attempts
    }

    /// Daemons: a broker that went away is waited for, since it comes back with the same log.
    public static let untilAnswered = RetryPolicy(timeout: .seconds(2), attempts: nil)

    /// A person waiting at a terminal: ask once, then say nobody answered.
    public static func once(timeout: Duration) -> RetryPolicy { RetryPolicy(timeout: timeout, attempts: 1) }
}

/// The one client of the pipeline's control endpoints (the broker's replay endpoint, the
/// aggregator's query endpoint): a DEALER that numbers its requests, matches each reply to its
/// request by id (a late answer to an earlier request is dropped), asks again on a fresh socket
/// when no answer comes in time (so requests queued for a dead peer are dropped with the old
/// socket), checks CURVE handshakes so a refused client says so, and stops waiting when its
/// stopper fires.
///
/// Blocking: use it on a thread of its own, never on Swift's cooperative pool. Not thread-safe:
/// one owner.
public final class ControlClient {
    public let endpoint: String
    /// The configuration key of the endpoint, for error messages.
    public let role: String
    /// What answers there (`broker`, `aggregator`), for messages.
    public let peer: String
    public let retry: RetryPolicy
    private let context: ZMQContext
    private let security: Security?
    private let maxReplyBytes: Int64
    private let logger: Logger
    private var connection: Connection?
    private var nextID: UInt64 = 1
    /// Replies that arrived for a request other than the one awaited (a prefetched one), by id.
    private var early: [UInt64: [[UInt8]]] = [:]

    public init(context: ZMQContext, endpoint: String, role: String, security: Security?, retry: RetryPolicy,
                maxReplyBytes: Int64 = 256 << 20, logger: Logger) throws {
        self.context = context
        self.endpoint = endpoint
        self.role = role
        peer = role == "endpoints.query" ? "aggregator" : "broker"
        self.security = security
        self.retry = retry
        self.maxReplyBytes = maxReplyBytes
        self.logger = logger
        connection = try Connection(context: context, endpoint: endpoint, role: role, security: security, maxReplyBytes: maxReplyBytes)
    }

    deinit {
        close()
    }

    /// Closes the socket; do this before terminating the context.
    public func close() {
        connection?.close()
        connection = nil
    }

    /// A request sent and not yet answered.
    public struct Pending<Command: ControlMessage>: Sendable {
        public let id: UInt64
        public let command: Command
    }

    /// Sends a request without waiting; `await(_:)` collects its answer. Nil when the socket cannot
    /// take it now (its queue is full or the peer is not connected yet): send it later.
    public func send<Command: ControlMessage>(_ command: Command) throws -> Pending<Command>? {
        let id = nextID
        nextID += 1
        let frames = ControlRequest(id: id, command).frames()
        guard try socket().send(frames, dontWait: true) else { return nil }
        return Pending(id: id, command: command)
    }

    /// Sends a request and waits for its answer, asking again as `retry` allows. Nil when `stopper`
    /// fired first. Throws `ControlClientError.refused` for an `ERROR` answer.
    public func call<Command: ControlMessage, Answer: ControlMessage>(_ command: Command, answer: Answer.Type = Answer.self,
                                                                      stopper: LoopStopper? = nil) throws -> Answer? {
        let id = nextID
        nextID += 1
        return try exchange(id: id, command: command, sent: false, answer: answer, stopper: stopper)
    }

    /// Waits for the answer to a request sent with `send(_:)`, asking again as `retry` allows.
    public func await<Command: ControlMessage, Answer: ControlMessage>(_ pending: Pending<Command>, answer: Answer.Type = Answer.self,
                                                                       stopper: LoopStopper? = nil) throws -> Answer? {
        try exchange(id: pending.id, command: pending.command, sent: true, answer: answer, stopper: stopper)
    }

    private func exchange<Command: ControlMessage, Answer: ControlMessage>(id: UInt64, command: Command, sent: Bool,
                                                                         answer: Answer.Type, stopper: LoopStopper?) throws -> Answer? {
        let frames = ControlRequest(id: id, command).frames()
        var alreadySent = sent
        var attempt = 0
        while true {
            attempt += 1
            if let early = early.removeValue(forKey: id) { return try decode(early, id: id, as: Answer.self) }
            if !alreadySent { _ = try socket().send(frames, dontWait: true) }
            alreadySent = false
            if let reply = try awaitReply(id: id, stopper: stopper) {
                return try decode(reply, id: id, as: Answer.self)
            }
            if stopper?.isStopped == true { return nil }
            if let attempts = retry.attempts, attempt >= attempts {
                throw ControlClientError.noAnswer(peer: peer, endpoint: endpoint, timeout: retry.timeout, attempts: attempt)
            }
            if attempt == 1 {
                logger.warning("No answer to a control request; asking again until there is one", metadata: [
                    "zmq.endpoint": "\(endpoint)", "control.timeout": "\(retry.timeout)",
                ])
            }
            // A fresh socket drops whatever was queued for a peer that is gone.
            reconnect()
        }
    }

    /// The frames of the reply to request `id`, or nil after the timeout (or when stopped).
    private func awaitReply(id: UInt64, stopper: LoopStopper?) throws -> [[UInt8]]? {
        let socket = try socket()
        let deadline = ContinuousClock.now + retry.timeout
        var poller = Poller()
        let replyIndex = poller.add(socket)
        let stopIndex = stopper.map { poller.add($0.receiver) }
        while ContinuousClock.now < deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, left.pollMilliseconds)))
            if let stopIndex, ready.contains(where: { $0.index == stopIndex }) { return nil }
            try connection?.handshakes?.check()
            guard ready.contains(where: { $0.index == replyIndex }) else { continue }
            while let message = try socket.receive(dontWait: true) {
                let frames = message.map(\.bytes)
                // An ERROR of two frames has no id: a server that could not read the request at all.
                if ControlProtocol.isError(frames), frames.count == 2 {
                    throw ControlClientError.refused(endpoint: endpoint, message: String(decoding: frames[1], as: UTF8.self))
                }
                guard let replyID = ControlProtocol.requestID(ofReply: frames) else { continue }
                if replyID == id { return frames }
                // The answer to a request sent ahead (a prefetch) is kept; anything older is stale.
                if replyID > id, replyID < nextID { early[replyID] = frames }
            }
        }
        return nil
    }

    private func decode<Answer: ControlMessage>(_ frames: [[UInt8]], id: UInt64, as type: Answer.Type) throws -> Answer {
        if ControlProtocol.isError(frames) {
            throw ControlClientError.refused(endpoint: endpoint, message: String(decoding: frames.last ?? [], as: UTF8.self))
        }
        do {
            return try Answer.decode(frames).message
        } catch {
            throw ControlClientError.malformedReply(endpoint: endpoint, reason: error.message)
        }
    }

    private func socket() throws -> ZMQSocket {
        if connection == nil {
            connection = try Connection(context: context, endpoint: endpoint, role: role, security: security, maxReplyBytes: maxReplyBytes)
        }
        return connection!.socket
    }

    private func reconnect() {
        close()
        early.removeAll()
    }

    /// A DEALER connected to the endpoint, with a watch on its handshakes when security is on.
    private struct Connection {
        let socket: ZMQSocket
        let handshakes: HandshakeWatch?

        init(context: ZMQContext, endpoint: String, role: String, security: Security?, maxReplyBytes: Int64) throws {
            do {
                socket = try ZMQSocket(context: context, type: .dealer)
            } catch {
                throw PipelineError.endpoint(role: role, endpoint: endpoint, reason: "\(error)")
            }
            do {
                try socket.setLinger(milliseconds: 0)
                try socket.setMaxMessageSize(maxReplyBytes)
                try secureClient(socket, security)
                handshakes = security == nil ? nil : try HandshakeWatch(socket: socket, endpoint: endpoint)
            } catch {
                socket.close()
                throw PipelineError.endpoint(role: role, endpoint: endpoint, reason: "\(error)")
            }
            do {
                try socket.connect(endpoint)
            } catch {
                handshakes?.close()
                socket.close()
                throw PipelineError.endpoint(role: role, endpoint: endpoint, reason: "\(error)")
            }
        }

        func close() {
            handshakes?.close()
            socket.close()
        }
    }
}
