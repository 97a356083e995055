import Foundation
import Logging
import Timeline
import ZeroMQ

/// Where a consumer finds the broker.
public struct ConsumerEndpoints: Sendable {
    public var backend: String
    public var replay: String

    public init(backend: String, replay: String) {
        self.backend = backend
        self.replay = replay
    }
}

/// A consumer's position in the broker's sequence, with what it has seen of each producer.
public struct StreamPosition: Sendable, Equatable {
    /// The last broker sequence applied (or skipped by the topic filter).
    public var sequence: UInt64 = 0
    /// The highest producer sequence seen per producer id.
    public var producers: [String: UInt64] = [:]

    public init(sequence: UInt64 = 0, producers: [String: UInt64] = [:]) {
        self.sequence = sequence
        self.producers = producers
    }
}

/// What a consumer stream has done so far.
public struct StreamCounters: Sendable, Equatable {
    public var live: UInt64 = 0
    public var replayed: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var malformed: UInt64 = 0
    public var gapsRepaired: UInt64 = 0
    /// The broker's last sequence, as last heard.
    public var head: UInt64 = 0
}

/// One message delivered by a `ConsumerStream`, in sequence order.
///
/// The topic and body point into the received frame (or replay chunk) and are valid only during
/// the delivery call: decode them there, or copy them (`topic`, `body`) to keep them.
public struct StreamMessage {
    public var sequence: UInt64
    public var header: WireHeader
    public var topicBytes: UnsafeRawBufferPointer
    public var bodyBytes: UnsafeRawBufferPointer
    public var replayed: Bool

    /// Copies of the topic and body.
    public var topic: [UInt8] { Array(topicBytes) }
    public var body: [UInt8] { Array(bodyBytes) }
}

/// A subscriber that delivers every message after a starting position exactly once and in order,
/// whatever PUB/SUB drops: the ZeroMQ Guide's Clone pattern.
///
/// It subscribes first, then fetches from the broker's log everything between its position and the
/// broker's head, then applies live messages. A live message that skips ahead reveals a gap (a slow
/// joiner, a full queue, a restarted broker) and the gap is fetched from the log before the message
/// is applied; one at or below the position is a repeat and is dropped. When no live message comes
/// for a while it asks the broker for its head, so that a loss at the very end is found too.
public final class ConsumerStream {
    public let endpoints: ConsumerEndpoints
    public let topics: [String]
    /// Where the stream stands: the last sequence applied and the highest producer sequence seen
    /// per producer.
    public var position: StreamPosition {
        var position = applied
        if !lastProducer.isEmpty { position.producers[lastProducer] = max(position.producers[lastProducer] ?? 0, lastProducerSequence) }
        return position
    }
    /// The position, except the latest producer's sequence, kept aside while the same producer
    /// goes on (most messages in a row come from one producer) so applying a message does not
    /// touch the dictionary.
    private var applied: StreamPosition
    private var lastProducer = ""
    private var lastProducerSequence: UInt64 = 0
    public private(set) var counters = StreamCounters()
    let logger: Logger

    private let context: ZMQContext
    private let subscriber: ZMQSocket
    private var requester: ZMQSocket
    private var handshakes: HandshakeWatch?
    private let security: Security?
    private var nextRequestID: UInt64 = 1
    /// How long to wait for a replay answer before asking again.
    public var requestTimeout: Double = 2.0
    /// How long without live traffic before asking for the head.
    public var idleCheckInterval: Double = 0.1
    public var batchSize: UInt32 = 20_000
    private var lastLive = monotonicSeconds()
    private var producerIDs = ProducerIDCache()

    public init(context: ZMQContext, endpoints: ConsumerEndpoints, topics: [String], position: StreamPosition,
                receiveHighWaterMark: Int32 = 10_000, maxMessageBytes: Int64 = 1 << 20, security: Security? = nil, logger: Logger) throws {
        self.context = context
        self.security = security
        self.endpoints = endpoints
        self.topics = topics
        self.applied = position
        self.logger = logger
        subscriber = try ZMQSocket(context: context, type: .sub)
        try subscriber.setReceiveHighWaterMark(receiveHighWaterMark)
        try subscriber.setMaxMessageSize(maxMessageBytes)
        // TCP keepalive, not ZMTP heartbeats: see `BrokerSettings.keepaliveIdleSeconds`. A consumer
        // catching up from the log stops reading this socket for as long as that takes.
        try subscriber.setTCPKeepalive(idle: 10, interval: 2, count: 3)
        try secureClient(subscriber, security)
        for topic in topics.isEmpty ? [""] : topics { try subscriber.subscribe(topic) }
        do {
            try subscriber.connect(endpoints.backend)
        } catch {
            throw PipelineError.endpoint(role: "endpoints.backend", endpoint: endpoints.backend, reason: "\(error)")
        }
        (requester, handshakes) = try ConsumerStream.makeRequester(context: context, endpoint: endpoints.replay, security: security)
    }

    /// A DEALER towards a broker or aggregator endpoint, with a watch on its handshakes when
    /// security is on.
    static func makeRequester(context: ZMQContext, endpoint: String, security: Security?) throws -> (ZMQSocket, HandshakeWatch?) {
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.setMaxMessageSize(256 << 20)
        try secureClient(socket, security)
        let watch = security == nil ? nil : try HandshakeWatch(socket: socket, endpoint: endpoint)
        do {
            try socket.connect(endpoint)
        } catch {
            throw PipelineError.endpoint(role: "endpoints.replay", endpoint: endpoint, reason: "\(error)")
        }
        return (socket, watch)
    }

    public func close() {
        handshakes?.close()
        subscriber.close()
        requester.close()
    }

    /// The socket to poll for live messages, with `stopper`.
    public var liveSocket: ZMQSocket { subscriber }

    /// Starts at the broker's current head, skipping history (a live-only monitor).
    public func startAtHead(stopper: LoopStopper) throws -> Bool {
        guard let head = try requestHead(stopper: stopper) else { return false }
        applied.sequence = max(applied.sequence, head)
        counters.head = head
        return true
    }

    /// Delivers the live messages waiting on `liveSocket` (after fetching any gap they reveal).
    /// Returns false when the stopper fired.
    public func drainLive(stopper: LoopStopper, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        var drained = 0
        while drained < 4096 {
            // Each message is handled in place, in the frames libzmq received it in.
            guard let handled = try subscriber.receiveParts(dontWait: true, { parts in
                try handleLive(parts, stopper: stopper, deliver: deliver)
            }) else { break }
            drained += 1
            guard handled else { return false }
        }
        lastLive = monotonicSeconds()
        return true
    }

    /// Called when the live socket has been quiet: every `idleCheckInterval`, asks the broker for
    /// its head and fetches whatever this stream has not seen (a loss at the very end of a burst).
    public func checkIdle(stopper: LoopStopper, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        guard monotonicSeconds() - lastLive >= idleCheckInterval else { return true }
        lastLive = monotonicSeconds()
        guard let head = try requestHead(stopper: stopper) else { return !stopper.isStopped }
        counters.head = max(counters.head, head)
        if head > applied.sequence {
            return try catchUp(through: head, stopper: stopper, deliver: deliver)
        }
        return true
    }

    /// Fetches from the log until the position reaches `target` (the broker's head when nil).
    /// Logs what it recovered: a repaired gap, or the history a new consumer caught up on.
    public func catchUp(through target: UInt64? = nil, stopper: LoopStopper, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        let start = applied.sequence
        let replayedBefore = counters.replayed
        var goal = target
        // The request for the next chunk, sent before the current one is applied so that the
        // broker reads it meanwhile: catching up keeps both processes busy.
        var prefetched: ChunkRequest?
        while goal == nil || applied.sequence < goal! {
            let reply: Chunk?
            if let ahead = prefetched, ahead.after == applied.sequence {
                reply = try awaitChunk(ahead, stopper: stopper)
            } else {
                reply = try requestChunk(after: applied.sequence, stopper: stopper)
            }
            prefetched = nil
            guard let chunk = reply else { return false }
            counters.head = max(counters.head, chunk.head)
            if goal == nil { goal = chunk.head }
            if chunk.scannedThrough > applied.sequence, chunk.scannedThrough < goal! {
                let ahead = makeChunkRequest(after: chunk.scannedThrough)
                if try requester.send(ahead.frames, dontWait: true) { prefetched = ahead }
            }
            let before = applied.sequence
            try chunk.records.withUnsafeBytes { records in
                // The broker checks each record's checksum as it reads it from disk; TCP and
                // ZeroMQ carry it intact from there.
                try EventLog.forEachRecord(in: records, verify: false) { topic, header, body, _ in
                    guard let message = decode(topic: topic, header: header, body: body), message.sequence > applied.sequence else { return }
                    try apply(message, replayed: true, deliver: deliver)
                }
            }
            applied.sequence = max(applied.sequence, chunk.scannedThrough)
            // The log holds nothing further (the target lies beyond what it has).
            if applied.sequence == before { break }
        }
        let recovered = counters.replayed - replayedBefore
        if recovered > 0 {
            if target != nil { counters.gapsRepaired += 1 }
            logger.info(target == nil ? "Caught up from the broker's log" : "Repaired a gap from the broker's log", metadata: [
                "stream.from": "\(start + 1)", "stream.through": "\(applied.sequence)",
                "stream.recovered": "\(recovered)", "stream.head": "\(counters.head)",
            ])
        }
        return true
    }

    private func handleLive(_ parts: ReceivedParts, stopper: LoopStopper, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        guard parts.count == 3 else {
            counters.malformed += 1
            return true
        }
        guard let message = decode(topic: parts[0], header: parts[1], body: parts[2]) else { return true }
        counters.head = max(counters.head, message.sequence)
        if message.sequence <= applied.sequence {
            counters.duplicates += 1
            return true
        }
        if message.sequence > applied.sequence + 1 {
            // Either messages were lost, or (with a topic filter) they were on other topics: the log knows.
            guard try catchUp(through: message.sequence - 1, stopper: stopper, deliver: deliver) else { return false }
            if message.sequence <= applied.sequence { return true }
        }
        try apply(message, replayed: false, deliver: deliver)
        return true
    }

    private func apply(_ message: StreamMessage, replayed: Bool, deliver: (StreamMessage) throws -> Void) throws {
        var message = message
        message.replayed = replayed
        try deliver(message)
        applied.sequence = message.sequence
        let producer = message.header.producer
        if !producer.isEmpty {
            if producer == lastProducer {
                lastProducerSequence = max(lastProducerSequence, message.header.producerSequence)
            } else {
                if !lastProducer.isEmpty { applied.producers[lastProducer] = max(applied.producers[lastProducer] ?? 0, lastProducerSequence) }
                lastProducer = producer
                lastProducerSequence = max(applied.producers[producer] ?? 0, message.header.producerSequence)
            }
        }
        if replayed { counters.replayed += 1 } else { counters.live += 1 }
    }

    private func decode(topic: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> StreamMessage? {
        guard let header = try? WireHeader.decode(header, cache: &producerIDs), header.sequence > 0 else {
            counters.malformed += 1
            return nil
        }
        return StreamMessage(sequence: header.sequence, header: header, topicBytes: topic, bodyBytes: body, replayed: false)
    }

    // MARK: - Requests to the broker

    struct Chunk {
        var head: UInt64
        var scannedThrough: UInt64
        /// Records in the event log's framing.
        var records: [UInt8]
    }

    /// Sends a request and waits for its answer, asking again after `requestTimeout`; nil when
    /// stopped. A lost broker is waited for, not given up on: the stream resumes when it returns.
    private func request(_ frames: [[UInt8]], alreadySent: Bool = false, stopper: LoopStopper, accept: ([[UInt8]]) -> Bool) throws -> [[UInt8]]? {
        var warned = false
        var sent = alreadySent
        while true {
            if !sent { try requester.send(frames, dontWait: true) }
            sent = false
            let deadline = monotonicSeconds() + requestTimeout
            while monotonicSeconds() < deadline {
                var poller = Poller()
                let replyIndex = poller.add(requester)
                let stopIndex = poller.add(stopper.receiver)
                let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, Int((deadline - monotonicSeconds()) * 1000))))
                if ready.contains(where: { $0.index == stopIndex }) { return nil }
                try handshakes?.check()
                if ready.contains(where: { $0.index == replyIndex }) {
                    while let reply = try requester.receive(dontWait: true) {
                        let frames = reply.map(\.bytes)
                        if frames.first == Array("ERROR".utf8) {
                            throw PipelineError.brokerError(frames.count > 1 ? String(decoding: frames[1], as: UTF8.self) : "unknown")
                        }
                        if accept(frames) { return frames }
                    }
                }
            }
            if !warned {
                logger.warning("The broker does not answer; asking again until it does", metadata: ["zmq.endpoint": "\(endpoints.replay)"])
                warned = true
            }
            // Start over on a fresh socket so that stale requests queued for a dead peer are dropped.
            handshakes?.close()
            requester.close()
            (requester, handshakes) = try ConsumerStream.makeRequester(context: context, endpoint: endpoints.replay, security: security)
        }
    }

    private func requestHead(stopper: LoopStopper) throws -> UInt64? {
        guard let reply = try request([Array("HEAD".utf8)], stopper: stopper, accept: { $0.first == Array("HEAD".utf8) && $0.count == 2 }) else {
            return nil
        }
        return ControlProtocol.readU64(reply[1])
    }

    /// A CHUNK request: what to send, and the request id its reply carries.
    struct ChunkRequest {
        var after: UInt64
        var frames: [[UInt8]]
        var id: [UInt8]
    }

    private func makeChunkRequest(after: UInt64) -> ChunkRequest {
        let id = ControlProtocol.u64(nextRequestID)
        nextRequestID += 1
        let frames = [Array("CHUNK".utf8), id, ControlProtocol.u64(after), ControlProtocol.u32(batchSize)]
            + topics.filter { !$0.isEmpty }.map { Array($0.utf8) }
        return ChunkRequest(after: after, frames: frames, id: id)
    }

    private func requestChunk(after: UInt64, stopper: LoopStopper) throws -> Chunk? {
        let request = makeChunkRequest(after: after)
        return try awaitChunk(request, sent: false, stopper: stopper)
    }

    /// Waits for the reply to a CHUNK request already sent (or sends it first when `sent` is false).
    private func awaitChunk(_ chunkRequest: ChunkRequest, sent: Bool = true, stopper: LoopStopper) throws -> Chunk? {
        let id = chunkRequest.id
        guard let reply = try request(chunkRequest.frames, alreadySent: sent, stopper: stopper,
                                      accept: { $0.count == 5 && $0[0] == Array("CHUNK".utf8) && $0[1] == id }) else {
            return nil
        }
        guard let head = ControlProtocol.readU64(reply[2]), let scanned = ControlProtocol.readU64(reply[3]) else {
            throw PipelineError.brokerError("a malformed replay chunk")
        }
        return Chunk(head: head, scannedThrough: scanned, records: reply[4])
    }
}
