import Foundation
import Logging
import Timeline
import ZeroMQ

/// The rendezvous of the pipeline: an XSUB/XPUB proxy that also keeps the durable event log.
///
/// Every message from a producer is checked (three frames, a version-1 header), given the next
/// sequence number, written to the log, and then published to subscribers. A producer's message
/// that repeats a producer sequence already logged is dropped (a resend after a reconnect); one that
/// skips ahead is dropped too, and the producer, which asks for its position when it reconnects,
/// sends the missing ones again in order.
public final class Broker: SocketLoop, @unchecked Sendable {
    public let settings: BrokerSettings
    let context: ZMQContext
    let logger: Logger
    private let frontend: ZMQSocket
    private let backend: ZMQSocket
    private let replaySocket: ZMQSocket
    private let log: EventLog
    private let warnings: RateLimitedLog
    private let deadLetters: DeadLetterFile
    private let lock = NSLock()
    private var counters = BrokerCounters()
    private var subscriptions = 0
    /// The last producer id read from a header, reused while the same producer keeps sending.
    private var producerIDs = ProducerIDCache()
    /// The endpoints as bound, wildcard ports resolved.
    public let bound: BoundEndpoints

    /// Opens the log and binds the three sockets; throws with the endpoint or file at fault.
    public init(settings: BrokerSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.context = context
        self.logger = logger
        warnings = RateLimitedLog(logger: logger)
        log = try EventLog(folder: settings.dataDirectory, logger: logger)
        deadLetters = DeadLetterFile(folder: settings.dataDirectory, logger: logger)

        frontend = try ZMQSocket(context: context, type: .xsub)
        try frontend.setReceiveHighWaterMark(settings.receiveHighWaterMark)
        try frontend.setMaxMessageSize(settings.maxMessageBytes)
        try frontend.setTCPKeepalive(idle: settings.keepaliveIdleSeconds, interval: 2, count: 3)
        backend = try ZMQSocket(context: context, type: .xpub)
        try backend.setSendHighWaterMark(settings.sendHighWaterMark)
        try backend.setXPubVerbose(true)
        try backend.setMaxMessageSize(4096)
        try backend.setTCPKeepalive(idle: settings.keepaliveIdleSeconds, interval: 2, count: 3)
        replaySocket = try ZMQSocket(context: context, type: .router)
        try replaySocket.setMaxMessageSize(64 << 10)
        try replaySocket.setSendHighWaterMark(1_000)
        for socket in [frontend, backend, replaySocket] { try secureServer(socket, settings.security) }

        try Broker.bind(frontend, settings.frontend, role: "endpoints.frontend")
        try Broker.bind(backend, settings.backend, role: "endpoints.backend")
        try Broker.bind(replaySocket, settings.replay, role: "endpoints.replay")
        bound = BoundEndpoints([
            "frontend": try frontend.lastEndpoint ?? settings.frontend,
            "backend": try backend.lastEndpoint ?? settings.backend,
            "replay": try replaySocket.lastEndpoint ?? settings.replay,
        ])
        // The broker subscribes to everything itself: it logs every message whether or not a
        // consumer is listening, and producers know the pipeline is up when they see it.
        try frontend.send([[1]])
        try bound.write(to: settings.dataDirectory)
        logger.info("Broker listening", metadata: [
            "zmq.frontend": "\(bound.endpoints["frontend"]!)", "zmq.backend": "\(bound.endpoints["backend"]!)",
            "zmq.replay": "\(bound.endpoints["replay"]!)", "log.lastSequence": "\(log.lastSequence)",
            "log.producers": "\(log.producerPositions.count)",
        ])
    }

    static func bind(_ socket: ZMQSocket, _ endpoint: String, role: String) throws {
        do {
            try socket.bind(endpoint)
        } catch {
            throw PipelineError.endpoint(role: role, endpoint: endpoint, reason: "\(error)")
        }
    }

    public var lastSequence: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return log.lastSequence
    }

    public var statistics: BrokerCounters {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }

    /// How many subscriptions consumers hold now (each subscriber's prefixes counted).
    public var subscriptionCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return subscriptions
    }

    public func runLoop(stopper: LoopStopper) throws {
        let syncer = LogSyncer(log.syncHandle, interval: settings.fsyncInterval, logger: logger)
        syncer.start()
        defer {
            syncer.stop()
            do {
                try log.sync()
            } catch {
                logger.error("Could not sync the event log at shutdown", metadata: ["error": "\(error)"])
            }
            frontend.close()
            backend.close()
            replaySocket.close()
            BoundEndpoints.remove(from: settings.dataDirectory)
            logger.info("Broker stopped", metadata: ["log.lastSequence": "\(log.lastSequence)"])
        }
        var poller = Poller()
        let frontIndex = poller.add(frontend)
        let backIndex = poller.add(backend)
        let replayIndex = poller.add(replaySocket)
        let stopIndex = poller.add(stopper.receiver)
        while true {
            let ready = try poller.poll(timeoutMilliseconds: 200)
            // A failed fsync stops the broker: it can no longer promise what it logged is durable.
            if let failure = syncer.failure { throw failure }
            for item in ready {
                switch item.index {
                case stopIndex: return
                case frontIndex: try forwardFromProducers()
                case backIndex: try readSubscriptions()
                case replayIndex: try answerReplayRequests()
                default: break
                }
            }
        }
    }

    /// Drains up to a batch of producer messages: check each in the frames it arrived in, append
    /// the good ones to the log, write the batch (one `write(2)`), then publish it from the log's
    /// buffer. Nothing is published before it is in the file.
    private func forwardFromProducers() throws {
        // Up to 1024 messages or about 1 MiB of log records a round (a message may be a batch):
        // the write buffer, and what is then published at once, stay small. This thread is the
        // only one that appends, so it reads the pending size without the lock.
        var received = 0
        while received < 1024, log.pendingBytes < 1 << 20 {
            guard try frontend.receiveParts(dontWait: true, { parts in try admit(parts) }) != nil else { break }
            received += 1
        }
        try lock.withLock {
            try log.flush { records in
                try EventLog.forEachRecord(in: records, verify: false) { topic, header, body, _ in
                    try backend.send(topic, header, body)
                }
            }
        }
    }

    /// Checks one producer message and appends it to the log's pending batch, or counts, reports
    /// and dead-letters it.
    private func admit(_ parts: ReceivedParts) throws {
        guard parts.count == 3 else {
            count(\.malformedDropped)
            warnings.warning("frames", "Dropped a message with the wrong number of frames", metadata: ["message.frames": "\(parts.count)"])
            deadLetters.write(reason: "\(WireError.wrongFrameCount(parts.count))", sequence: 0, producer: "", body: Array(parts[parts.count - 1]))
            return
        }
        let topic = parts[0], body = parts[2]
        let header: WireHeader
        do {
            header = try WireHeader.decode(parts[1], cache: &producerIDs)
        } catch {
            count(\.malformedDropped)
            warnings.warning("header", "Dropped a message with a bad header", metadata: ["error": "\(error)"])
            deadLetters.write(reason: "\(error)", sequence: 0, producer: "", body: Array(body))
            return
        }
        guard header.encoding == .batch else {
            return try admitEvent(topic: topic, headerBytes: parts[1], header: header, body: body)
        }
        // A batch: each event is checked, numbered and logged as if it had come on its own, under
        // a header of its own (JSON encoding, its producer sequence).
        var eventHeader = Array(parts[1])
        eventHeader[1] = WireHeader.Encoding.json.rawValue
        var single = header
        single.encoding = .json
        var index: UInt64 = 0
        do {
            try WireBatch.forEachEvent(in: body) { topic, body in
                if header.producerSequence > 0 {
                    single.producerSequence = header.producerSequence + index
                    WireHeader.stamp(producerSequence: single.producerSequence, into: &eventHeader)
                }
                index += 1
                try eventHeader.withUnsafeBytes { try admitEvent(topic: topic, headerBytes: $0, header: single, body: body) }
            }
        } catch let error as WireError {
            count(\.malformedDropped)
            warnings.warning("batch", "Dropped the rest of a batch whose framing is broken", metadata: [
                "producer.id": "\(header.producer)", "batch.admitted": "\(index)", "error": "\(error)",
            ])
            deadLetters.write(reason: "\(error)", sequence: 0, producer: header.producer, body: Array(body))
        }
    }

    /// Checks one event and appends it to the log's pending batch, or counts, reports and
    /// dead-letters it.
    private func admitEvent(topic: UnsafeRawBufferPointer, headerBytes: UnsafeRawBufferPointer, header: WireHeader,
                            body: UnsafeRawBufferPointer) throws {
        // The body must be an event, on its own topic: the log holds nothing a consumer would reject.
        do {
            try WireMessage.validate(topic: topic, header: header, body: body)
        } catch {
            count(\.malformedDropped)
            warnings.warning("body", "Dropped a message whose event does not decode", metadata: [
                "producer.id": "\(header.producer)", "producer.sequence": "\(header.producerSequence)", "error": "\(error)",
            ])
            deadLetters.write(reason: "\(error)", sequence: 0, producer: header.producer, body: Array(body))
            // A numbered producer's sequence moves on past the rejected message, so its next
            // good message is not taken for a gap.
            if !header.producer.isEmpty, header.producerSequence > 0 {
                lock.withLock { log.skip(producer: header.producer, producerSequence: header.producerSequence) }
            }
            return
        }
        lock.lock()
        defer { lock.unlock() }
        if !header.producer.isEmpty, header.producerSequence > 0 {
            let logged = log.producerPositions[header.producer] ?? 0
            if header.producerSequence <= logged {
                counters.duplicatesDropped += 1
                return
            }
            if header.producerSequence != logged + 1 {
                counters.outOfOrderDropped += 1
                warnings.warning("order.\(header.producer)", "Dropped a producer message that skips ahead; the producer will resend", metadata: [
                    "producer.id": "\(header.producer)", "producer.sequence": "\(header.producerSequence)", "producer.logged": "\(logged)",
                ])
                return
            }
        }
        try log.append(topic: topic, header: headerBytes, body: body, producer: header.producer, producerSequence: header.producerSequence)
        counters.accepted += 1
    }

    /// Counts subscriptions from consumers. They are not passed upstream: the broker already takes
    /// everything from producers (it logs all of it), and a producer reads a subscription as the
    /// sign that a broker (re)connected.
    private func readSubscriptions() throws {
        while let message = try backend.receive(dontWait: true) {
            guard let first = message.first?.bytes.first else { continue }
            lock.withLock {
                if first == 1 { subscriptions += 1 } else if first == 0 { subscriptions = max(0, subscriptions - 1) }
            }
        }
    }

    private func answerReplayRequests() throws {
        while let message = try replaySocket.receive(dontWait: true) {
            let (envelope, request) = ControlProtocol.splitEnvelope(message.map(\.bytes))
            let reply = lock.withLock { handle(request) }
            _ = try replaySocket.send(envelope + reply, dontWait: true)
        }
    }

    /// Answers one control request; called with the lock held.
    private func handle(_ request: [[UInt8]]) -> [[UInt8]] {
        let command = request.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        switch command {
        case "HEAD":
            return [Array("HEAD".utf8), ControlProtocol.u64(log.lastSequence)]
        case "STATS":
            let json = """
            {"lastSequence":\(log.lastSequence),"producers":\(log.producerPositions.count),"subscriptions":\(subscriptions),\
            "accepted":\(counters.accepted),"duplicatesDropped":\(counters.duplicatesDropped),\
            "outOfOrderDropped":\(counters.outOfOrderDropped),"malformedDropped":\(counters.malformedDropped),\
            "replayRequests":\(counters.replayRequests),"recordsReplayed":\(counters.recordsReplayed)}
            """
            return [Array("STATS".utf8), Array(json.utf8)]
        case "POSITION":
            guard request.count == 2 else { return error("POSITION takes one producer id") }
            let producer = String(decoding: request[1], as: UTF8.self)
            return [Array("POSITION".utf8), ControlProtocol.u64(log.producerPositions[producer] ?? 0), ControlProtocol.u64(log.lastSequence)]
        case "REPLAY":
            guard request.count >= 4, let requestID = ControlProtocol.readU64(request[1]),
                  let after = ControlProtocol.readU64(request[2]), let maxCount = ControlProtocol.readU32(request[3]) else {
                return error("REPLAY takes a u64 request id, a u64 sequence and a u32 count")
            }
            let prefixes = Array(request.dropFirst(4))
            counters.replayRequests += 1
            var reply: [[UInt8]] = [Array("BATCH".utf8), ControlProtocol.u64(requestID), ControlProtocol.u64(log.lastSequence)]
            let limit = min(Int(maxCount), settings.maxReplayBatch)
            var scanned = after
            do {
                // A filtered reader may skip many records: scan on until the batch fills or the log ends.
                var collected = 0
                while collected < limit, scanned < log.lastSequence {
                    let records = try log.read(after: scanned, maxCount: limit)
                    if records.isEmpty { break }
                    for record in records {
                        scanned = record.sequence
                        if prefixes.isEmpty || prefixes.contains(where: { record.topic.starts(with: $0) }) {
                            reply += record.frames
                            collected += 1
                            if collected == limit { break }
                        }
                    }
                    if prefixes.isEmpty { break }
                }
                counters.recordsReplayed += UInt64(collected)
            } catch {
                logger.error("Could not read the event log for a replay", metadata: ["error": "\(error)"])
                return self.error("the broker could not read its log")
            }
            reply.insert(ControlProtocol.u64(scanned), at: 3)
            return reply
        case "CHUNK":
            guard request.count >= 4, let requestID = ControlProtocol.readU64(request[1]),
                  let after = ControlProtocol.readU64(request[2]), let maxCount = ControlProtocol.readU32(request[3]) else {
                return error("CHUNK takes a u64 request id, a u64 sequence and a u32 count")
            }
            counters.replayRequests += 1
            do {
                let chunk = try log.readChunk(after: after, maxCount: min(Int(maxCount), settings.maxChunkRecords),
                                              prefixes: Array(request.dropFirst(4)))
                counters.recordsReplayed += UInt64(chunk.count)
                return [Array("CHUNK".utf8), ControlProtocol.u64(requestID), ControlProtocol.u64(log.lastSequence),
                        ControlProtocol.u64(chunk.scannedThrough), chunk.bytes]
            } catch {
                logger.error("Could not read the event log for a replay", metadata: ["error": "\(error)"])
                return self.error("the broker could not read its log")
            }
        default:
            return error("unknown command '\(command)'")
        }
    }

    private func error(_ message: String) -> [[UInt8]] {
        [Array("ERROR".utf8), Array(message.utf8)]
    }

    private func count(_ counter: WritableKeyPath<BrokerCounters, UInt64>) {
        lock.withLock { counters[keyPath: counter] += 1 }
    }
}
