import Foundation
import Logging
import Timeline
import ZeroMQ

/// Why a control request got no usable answer.
public enum ControlClientError: Error, CustomStringConvertible, Sendable {
    /// Nobody answered within the timeout, as often as the client was allowed to ask.
    case noAnswer(peer: String, endpoint: String, timeout: Duration, attempts: Int)
    /// No endpoint served the request: each one asked was silent or answered `PASSIVE`, in every
    /// round the client was allowed (`tried` is what each said in the last round).
    case noActivePeer(peer: String, tried: [ControlAttempt], timeout: Duration, rounds: Int)
    /// The server answered the request with `ERROR`.
    case refused(endpoint: String, message: String)
    /// The server's answer does not follow the protocol.
    case malformedReply(endpoint: String, reason: String)

    public var description: String {
        switch self {
        case .noAnswer(let peer, let endpoint, let timeout, let attempts):
            return "no \(peer) answered at \(endpoint) within \(timeout.inSeconds) s" + (attempts > 1 ? " (asked \(attempts) times)" : "")
                + " (is it running? does it require CURVE security?)"
        case .noActivePeer(let peer, let tried, let timeout, let rounds):
            let each = tried.map { attempt in
                attempt.passive.map { "\(attempt.endpoint) (passive: \($0))" } ?? "\(attempt.endpoint) (no answer within \(timeout.inSeconds) s)"
            }
            return "no active \(peer) at \(each.joined(separator: ", "))" + (rounds > 1 ? " (asked each \(rounds) times)" : "")
                + " (are they running? does it require CURVE security?)"
        case .refused(let endpoint, let message): return "\(endpoint) answered with an error: \(message)"
        case .malformedReply(let endpoint, let reason): return "\(endpoint) sent a malformed reply: \(reason)"
        }
    }
}

/// What one endpoint did with a request: stayed silent, or answered `PASSIVE` with a message.
public struct ControlAttempt: Sendable, Equatable {
    public var endpoint: String
    /// The message of a `PASSIVE` answer; nil when no answer came.
    public var passive: String?

    public init(endpoint: String, passive: String?) {
        self.endpoint = endpoint
        self.passive = passive
    }
}

/// How a `ControlClient` waits: how long for each answer, and how often it asks.
public struct RetryPolicy: Sendable, Equatable {
    /// How long to wait for an answer before asking again on a fresh connection.
    public var timeout: Duration
    /// How many times to ask in all; nil to ask until answered (or stopped). With several
    /// endpoints, how many rounds: each round asks every endpoint once.
    public var attempts: Int?
    /// With several endpoints, the longest wait at one before turning to the next (when `timeout`
    /// is longer). Short enough for a client to reach the other broker of a pair, and be its vote
    /// there, well within the two seconds a failover may take: the passive broker takes over one
    /// second after it last heard its peer.
    public var failoverTimeout: Duration

    public init(timeout: Duration, attempts: Int?, failoverTimeout: Duration = .milliseconds(500)) {
        self.timeout = timeout
        self.attempts = attempts
        self.failoverTimeout = failoverTimeout
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
/// Given several endpoints (the two brokers of a pair), it asks one at a time and fails over as a
/// Binary Star client does: when no answer comes within the attempt's timeout, or the broker
/// answers `PASSIVE`, it turns to the next endpoint on a fresh socket; after a whole round in
/// which none served the request it pauses (a little longer each round, woken by its stopper)
/// before the next. Each request that reaches a passive broker whose peer has gone quiet is that
/// broker's cue to take over. The endpoint that answered is kept for the next requests. With one
/// endpoint it behaves as it always did; a `PASSIVE` answer there is waited out the same way.
///
/// Blocking: use it on a thread of its own, never on Swift's cooperative pool. Not thread-safe:
/// one owner.
public final class ControlClient {
    /// Every endpoint the client may ask, in the order it turns to them.
    public let endpoints: [String]
    /// The endpoint in use: the one that answered last, or the one being asked.
    public var endpoint: String { endpoints[endpointIndex] }
    /// The position of `endpoint` in `endpoints`.
    public private(set) var endpointIndex = 0
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
    /// Requests sent with `notify`, whose replies nobody awaits.
    private var unawaited: Set<UInt64> = []
    /// The pause after a round of endpoints that did not serve a request; it grows while none does.
    private var pause = ControlClient.firstPause

    private static let firstPause: Duration = .milliseconds(50)
    private static let longestPause: Duration = .seconds(1)

    /// A client of one endpoint.
    public convenience init(context: ZMQContext, endpoint: String, role: String, security: Security?, retry: RetryPolicy,
                            maxReplyBytes: Int64 = 256 << 20, logger: Logger) throws {
        try self.init(context: context, endpoints: [endpoint], role: role, security: security, retry: retry,
                      maxReplyBytes: maxReplyBytes, logger: logger)
    }

    /// A client of one or more endpoints (the replay endpoints of a broker pair), tried in this
    /// order. Connects to the first now, so that an endpoint that cannot be used fails here.
    public init(context: ZMQContext, endpoints: [String], role: String, security: Security?, retry: RetryPolicy,
                maxReplyBytes: Int64 = 256 << 20, logger: Logger) throws {
        guard !endpoints.isEmpty else { throw PipelineError.endpoint(role: role, endpoint: "", reason: "no endpoint given") }
        self.context = context
        self.endpoints = endpoints
        self.role = role
        peer = role == "endpoints.query" ? "aggregator" : "broker"
        self.security = security
        self.retry = retry
        self.maxReplyBytes = maxReplyBytes
        self.logger = logger
        connection = try Connection(context: context, endpoint: endpoints[0], role: role, security: security, maxReplyBytes: maxReplyBytes)
    }

    /// How long one endpoint is waited for: the policy's timeout, or with several endpoints the
    /// shorter `failoverTimeout`.
    public var attemptTimeout: Duration {
        endpoints.count > 1 ? min(retry.timeout, retry.failoverTimeout) : retry.timeout
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

    /// Sends a request whose answer nobody waits for (a report); dropped when the socket cannot
    /// take it now. The reply is discarded when it comes.
    public func notify<Command: ControlMessage>(_ command: Command) throws {
        guard let pending = try send(command) else { return }
        if unawaited.count >= 1_024 { unawaited.removeAll() }
        unawaited.insert(pending.id)
    }

    /// Sends a request and waits for its answer, asking again (and failing over) as `retry`
    /// allows, and no later than `deadline` when one is given. Nil when `stopper` fired first.
    /// Throws `ControlClientError.refused` for an `ERROR` answer, `noAnswer` or `noActivePeer` when
    /// it gave up.
    public func call<Command: ControlMessage, Answer: ControlMessage>(_ command: Command, answer: Answer.Type = Answer.self,
                                                                      stopper: LoopStopper? = nil,
                                                                      deadline: ContinuousClock.Instant? = nil) throws -> Answer? {
        let id = nextID
        nextID += 1
        return try exchange(id: id, command: command, sent: false, answer: answer, stopper: stopper, deadline: deadline)
    }

    /// Waits for the answer to a request sent with `send(_:)`, asking again as `retry` allows.
    public func await<Command: ControlMessage, Answer: ControlMessage>(_ pending: Pending<Command>, answer: Answer.Type = Answer.self,
                                                                       stopper: LoopStopper? = nil) throws -> Answer? {
        try exchange(id: pending.id, command: pending.command, sent: true, answer: answer, stopper: stopper, deadline: nil)
    }

    /// What came of asking one endpoint.
    private enum Outcome {
        case reply([[UInt8]])
        case passive(String)
        case silent
        case stopped
    }

    private func exchange<Command: ControlMessage, Answer: ControlMessage>(id: UInt64, command: Command, sent: Bool, answer: Answer.Type,
                                                                         stopper: LoopStopper?, deadline: ContinuousClock.Instant?) throws -> Answer? {
        var alreadySent = sent
        var round = 1
        // Set after an endpoint was silent: the next broker asked gets the client's vote (the top
        // bit of the request id), with which a passive broker that lost its peer takes over.
        var vote = false
        // What each endpoint asked in this round did with the request.
        var tried: [ControlAttempt] = []
        while true {
            let outcome: Outcome
            if let early = early.removeValue(forKey: id) {
                outcome = ControlProtocol.isPassive(early) ? .passive(Self.message(of: early)) : .reply(early)
            } else {
                if !alreadySent {
                    let wireID = vote && endpoints.count > 1 ? id | ControlProtocol.voteBit : id
                    _ = try socket().send(ControlRequest(id: wireID, command).frames(), dontWait: true)
                }
                var timeout = attemptTimeout
                if let deadline { timeout = max(.milliseconds(1), min(timeout, ContinuousClock.now.duration(to: deadline))) }
                outcome = try awaitReply(id: id, timeout: timeout, stopper: stopper)
            }
            alreadySent = false
            switch outcome {
            case .reply(let reply):
                pause = Self.firstPause
                return try decode(reply, id: id, as: Answer.self)
            case .stopped:
                return nil
            case .silent:
                tried.append(ControlAttempt(endpoint: endpoint, passive: nil))
            case .passive(let message):
                tried.append(ControlAttempt(endpoint: endpoint, passive: message))
            }
            if stopper?.isStopped == true { return nil }
            let outOfTime = deadline.map { ContinuousClock.now >= $0 } ?? false
            if tried.count >= endpoints.count || outOfTime {
                // A whole round: every endpoint was asked once and none served the request.
                if outOfTime || retry.attempts.map({ round >= $0 }) == true { throw failure(tried, rounds: round) }
                if endpoints.count == 1, tried[0].passive == nil {
                    // One endpoint that is silent: ask again at once, as a single client always did.
                    if round == 1 {
                        logger.warning("No answer to a control request; asking again until there is one", metadata: [
                            "zmq.endpoint": "\(endpoint)", "control.timeout": "\(retry.timeout)",
                        ])
                    }
                } else {
                    if round == 1 {
                        logger.warning("No \(peer) serves control requests; asking in turn until one does", metadata: [
                            "zmq.endpoints": "\(endpoints.joined(separator: ","))",
                            "control.answers": "\(tried.map { $0.passive == nil ? "none" : "passive" }.joined(separator: ","))",
                        ])
                    }
                    // Not a bare sleep: the pause ends early when the stopper fires.
                    if try wait(pause, stopper: stopper) { return nil }
                    pause = min(pause * 2, Self.longestPause)
                }
                round += 1
                tried.removeAll()
            }
            if case .silent = outcome { vote = true } else { vote = false }
            turn(after: outcome, quietly: round > 2)
        }
    }

    /// The text of a `PASSIVE` answer: its last frame.
    private static func message(of frames: [[UInt8]]) -> String {
        String(decoding: frames.last ?? [], as: UTF8.self)
    }

    /// The error for a request no endpoint served.
    private func failure(_ tried: [ControlAttempt], rounds: Int) -> ControlClientError {
        if endpoints.count == 1, tried.allSatisfy({ $0.passive == nil }) {
            return .noAnswer(peer: peer, endpoint: endpoint, timeout: retry.timeout, attempts: rounds)
        }
        return .noActivePeer(peer: peer, tried: tried, timeout: attemptTimeout, rounds: rounds)
    }

    /// Moves to the next endpoint (the same one when there is only one) on a fresh socket, which
    /// drops whatever was queued for a peer that is gone.
    private func turn(after outcome: Outcome, quietly: Bool) {
        reconnect()
        guard endpoints.count > 1 else { return }
        let from = endpoint
        endpointIndex = (endpointIndex + 1) % endpoints.count
        let reason: String
        switch outcome {
        case .passive(let message): reason = "passive: \(message)"
        default: reason = "no answer within \(attemptTimeout)"
        }
        logger.log(level: quietly ? .debug : .info, "Turning to another \(peer)", metadata: [
            "zmq.endpoint": "\(endpoint)", "control.from": "\(from)", "control.reason": "\(reason)",
        ])
    }

    /// Waits `duration`, or until `stopper` fires (true then). Without a stopper (a caller with a
    /// bounded policy) it simply waits.
    private func wait(_ duration: Duration, stopper: LoopStopper?) throws -> Bool {
        guard let stopper else {
            Thread.sleep(forTimeInterval: duration.inSeconds)
            return false
        }
        var poller = Poller()
        _ = poller.add(stopper.receiver)
        return !(try poller.poll(timeoutMilliseconds: max(1, duration.pollMilliseconds))).isEmpty
    }

    /// The reply to request `id`, a `PASSIVE` answer to it, silence until the timeout, or the
    /// stopper firing.
    private func awaitReply(id: UInt64, timeout: Duration, stopper: LoopStopper?) throws -> Outcome {
        let socket = try socket()
        let deadline = ContinuousClock.now + timeout
        var poller = Poller()
        let replyIndex = poller.add(socket)
        let stopIndex = stopper.map { poller.add($0.receiver) }
        while ContinuousClock.now < deadline {
            let left = ContinuousClock.now.duration(to: deadline)
            let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, left.pollMilliseconds)))
            if let stopIndex, ready.contains(where: { $0.index == stopIndex }) { return .stopped }
            try connection?.handshakes?.check()
            guard ready.contains(where: { $0.index == replyIndex }) else { continue }
            while let message = try socket.receive(dontWait: true) {
                let frames = message.map(\.bytes)
                // An ERROR of two frames has no id: a server that could not read the request at all.
                if ControlProtocol.isError(frames), frames.count == 2 {
                    throw ControlClientError.refused(endpoint: endpoint, message: String(decoding: frames[1], as: UTF8.self))
                }
                // A reply echoes the id as sent, vote bit included.
                guard let replyID = ControlProtocol.requestID(ofReply: frames).map({ $0 & ~ControlProtocol.voteBit }) else { continue }
                if replyID == id {
                    if ControlProtocol.isPassive(frames) { return .passive(Self.message(of: frames)) }
                    return .reply(frames)
                }
                // The answer to a request sent ahead (a prefetch) is kept; anything older is stale.
                if unawaited.remove(replyID) != nil { continue }
                if replyID > id, replyID < nextID, early.count < 64 { early[replyID] = frames }
            }
        }
        return .silent
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
