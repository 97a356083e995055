import Foundation
import Logging
import Timeline
import ZeroMQ

/// What a producer worker did.
public struct ProducerReport: Sendable, Equatable {
    public var producerID: String
    public var sent: UInt64 = 0
    public var resent: UInt64 = 0
    public var acknowledged: UInt64 = 0
    public var reconnects: Int = 0
}

/// Publishes a supply of events to the broker, numbered 1, 2, 3… under its producer id.
///
/// It uses an XPUB socket: the broker's subscription arriving on it says the connection is up, so
/// no event is sent into the void (the slow-joiner problem), and a subscription arriving again says
/// the broker restarted. Each time, the worker asks the broker how far its log got for this producer
/// and continues from there. `ZMQ_XPUB_NODROP` makes a full queue push back instead of dropping.
/// Finishing means the broker has logged every event, not merely that they were handed to libzmq.
public final class ProducerWorker: SocketLoop, @unchecked Sendable {
    public let settings: ProducerSettings
    let supply: any EventSupply
    let context: ZMQContext
    let logger: Logger
    private(set) public var report: ProducerReport

    public init(settings: ProducerSettings, supply: any EventSupply, context: ZMQContext, logger: Logger) {
        self.settings = settings
        self.supply = supply
        self.context = context
        self.logger = logger
        report = ProducerReport(producerID: settings.producerID)
    }

    public func runLoop(stopper: LoopStopper) throws {
        _ = try run(stopper: stopper)
    }

    /// Runs until every event is logged by the broker (or, for an open-ended supply, until stopped).
    /// Returns false when stopped early.
    public func run(stopper: LoopStopper) throws -> Bool {
        let publisher = try ZMQSocket(context: context, type: .xpub)
        defer { publisher.close() }
        try publisher.setXPubVerbose(true)
        try publisher.setXPubNoDrop(true)
        try publisher.setSendHighWaterMark(settings.sendHighWaterMark)
        try publisher.setSendTimeout(milliseconds: 200)
        try publisher.setLinger(milliseconds: 2_000)
        try secureClient(publisher, settings.security)
        let handshakes = settings.security == nil ? nil : try HandshakeWatch(socket: publisher, endpoint: settings.frontend)
        defer { handshakes?.close() }
        do {
            try publisher.connect(settings.frontend)
        } catch {
            throw PipelineError.endpoint(role: "endpoints.frontend", endpoint: settings.frontend, reason: "\(error)")
        }
        let positions = BrokerPositionClient(context: context, endpoint: settings.replay, security: settings.security, logger: logger)
        defer { positions.close() }

        // Wait for the broker's subscription: the pipe is up.
        guard let connected = try waitForSubscription(publisher, handshakes: handshakes, stopper: stopper, timeout: settings.connectTimeout) else { return false }
        guard connected else { throw PipelineError.noBroker(endpoint: settings.frontend, seconds: settings.connectTimeout) }
        guard var next = try positions.position(of: settings.producerID, stopper: stopper) else { return false }
        if next > 0 {
            logger.info("Resuming after the broker's last logged event of this producer", metadata: [
                "producer.id": "\(settings.producerID)", "producer.sequence": "\(next)",
            ])
        }
        report.acknowledged = next
        let start = monotonicSeconds()
        let startIndex = Int(next)
        var highestSent = next

        // Batch limits: halved whenever sent events go missing (a broker that restarted, or one
        // whose maximum message size is below a batch: it drops the connection), grown back
        // after a run of batches without a loss.
        var batchLimit = settings.rate == nil ? max(1, settings.eventsPerMessage) : 1
        var byteLimit = max(1, settings.maxBatchBytes)
        var batchesSinceLoss = 0

        func resync(_ reason: String) throws -> Bool {
            guard let logged = try positions.position(of: settings.producerID, stopper: stopper) else { return false }
            if logged < highestSent, batchLimit > 1 {
                batchLimit = max(1, batchLimit / 2)
                byteLimit = max(1, byteLimit / 2)
                batchesSinceLoss = 0
                logger.info("Sent events went missing; sending smaller batches", metadata: [
                    "producer.id": "\(settings.producerID)", "producer.eventsPerMessage": "\(batchLimit)", "producer.batchBytes": "\(byteLimit)",
                ])
            }
            report.reconnects += 1
            logger.info("The broker reconnected; resuming from its log", metadata: [
                "producer.id": "\(settings.producerID)", "producer.logged": "\(logged)", "producer.sent": "\(highestSent)", "reason": "\(reason)",
            ])
            next = logged
            report.acknowledged = logged
            return true
        }

        // One header and one body buffer, reused for every event: only the producer sequence in
        // the header changes, and the body is encoded over the last one.
        var header = WireHeader(producer: settings.producerID).encoded()
        var batchHeader = WireHeader(encoding: .batch, producer: settings.producerID).encoded()
        var body: [UInt8] = []
        body.reserveCapacity(1024)
        var batchBody: [UInt8] = []

        enum Sent { case sent, rewound, stopped }
        /// Sends one message, waiting out a full queue; a broker that reconnects meanwhile rewinds
        /// the producer to the broker's position.
        func send(_ topic: [UInt8], _ header: [UInt8], _ body: [UInt8]) throws -> Sent {
            while true {
                if try publisher.send(topic, header, body) { return .sent }
                // Send timed out: the broker is slow or gone. Look for a reconnect, or a stop.
                if stopper.isStopped { return .stopped }
                if try drainSubscriptions(publisher) {
                    guard try resync("subscription while blocked") else { return .stopped }
                    return .rewound
                }
            }
        }

        /// Counts events `first...last` as sent, or as resent when sent before.
        func record(_ first: UInt64, _ last: UInt64) {
            let repeated = highestSent >= first ? min(last, highestSent) - first + 1 : 0
            report.resent += repeated
            report.sent += (last - first + 1) - repeated
            highestSent = max(highestSent, last)
            next = last
        }

        while true {
            if stopper.isStopped { return false }
            // A new subscription means a (re)connected broker: ask where its log stands.
            if try drainSubscriptions(publisher) {
                guard try resync("subscription") else { return false }
            }
            let batch = supply.events(from: Int(next), limit: 256)
            if batch.isEmpty {
                if supply.isOpenEnded {
                    _ = supply.waitForMore(beyond: Int(next), timeout: 0.2)
                    continue
                }
                // Everything handed over: wait until the broker's log has all of it.
                guard let done = try awaitAcknowledgement(publisher: publisher, positions: positions, target: UInt64(supply.count), stopper: stopper) else { return false }
                if done { break }
                guard try resync("missing after the last send") else { return false }
                continue
            }
            if settings.rate == nil, settings.eventsPerMessage > 1 {
                // As fast as possible: several events a message, within the batch limits (down to
                // one after losses, growing back after a run without).
                var first = next + 1
                var count = 0
                var rewound = false
                batchBody.removeAll(keepingCapacity: true)
                func flush() throws -> Bool {
                    guard count > 0 else { return true }
                    WireHeader.stamp(producerSequence: first, into: &batchHeader)
                    let outcome = try send([], batchHeader, batchBody)
                    if outcome == .stopped { throw CancellationError() }
                    if outcome == .rewound { return false }
                    record(first, first + UInt64(count) - 1)
                    batchesSinceLoss += 1
                    if batchesSinceLoss >= 256, batchLimit < settings.eventsPerMessage {
                        batchLimit = min(settings.eventsPerMessage, batchLimit * 2)
                        byteLimit = min(settings.maxBatchBytes, byteLimit * 2)
                        batchesSinceLoss = 0
                    }
                    first = next + 1
                    count = 0
                    batchBody.removeAll(keepingCapacity: true)
                    return true
                }
                do {
                    for event in batch {
                        EventJSON.encode(event, into: &body)
                        let topic = Array(event.topic.utf8)
                        if count > 0, count >= batchLimit || batchBody.count + topic.count + body.count + 6 > byteLimit {
                            guard try flush() else { rewound = true; break }
                        }
                        WireBatch.append(topic: topic, body: body, to: &batchBody)
                        count += 1
                    }
                    if !rewound { _ = try flush() }
                } catch is CancellationError {
                    return false
                }
                continue
            }
            for event in batch {
                if let rate = settings.rate, rate > 0 {
                    let due = start + Double(Int(next) - startIndex) / rate
                    let wait = due - monotonicSeconds()
                    if wait > 0, try waitOrStop(stopper, seconds: wait) { return false }
                }
                let sequence = next + 1
                WireHeader.stamp(producerSequence: sequence, into: &header)
                EventJSON.encode(event, into: &body)
                let outcome = try send(Array(event.topic.utf8), header, body)
                if outcome == .stopped { return false }
                if outcome == .rewound { break }
                record(sequence, sequence)
            }
        }
        logger.info("Producer finished: the broker logged every event", metadata: [
            "producer.id": "\(settings.producerID)", "producer.sent": "\(report.sent)", "producer.resent": "\(report.resent)",
            "producer.acknowledged": "\(report.acknowledged)",
        ])
        return true
    }

    /// Waits for the first subscription; nil when stopped, false on timeout.
    private func waitForSubscription(_ publisher: ZMQSocket, handshakes: HandshakeWatch?, stopper: LoopStopper, timeout: Double) throws -> Bool? {
        let deadline = monotonicSeconds() + timeout
        var poller = Poller()
        let pubIndex = poller.add(publisher)
        let stopIndex = poller.add(stopper.receiver)
        while monotonicSeconds() < deadline {
            let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, Int((deadline - monotonicSeconds()) * 1000))))
            if ready.contains(where: { $0.index == stopIndex }) { return nil }
            try handshakes?.check()
            if ready.contains(where: { $0.index == pubIndex }), try drainSubscriptions(publisher) { return true }
        }
        return false
    }

    /// Reads pending subscription messages; true when one was a subscribe.
    private func drainSubscriptions(_ publisher: ZMQSocket) throws -> Bool {
        var subscribed = false
        while let message = try publisher.receive(dontWait: true) {
            if message.first?.bytes.first == 1 { subscribed = true }
        }
        return subscribed
    }

    /// Polls the broker's position for this producer until it reaches `target`. true when reached,
    /// false when the broker's log fell behind what was sent (a broker restart lost the tail), nil
    /// when stopped. Throws when the broker does not get there in time.
    private func awaitAcknowledgement(publisher: ZMQSocket, positions: BrokerPositionClient, target: UInt64, stopper: LoopStopper) throws -> Bool? {
        let deadline = monotonicSeconds() + settings.acknowledgeTimeout
        var stalls = 0
        var last: UInt64 = 0
        while monotonicSeconds() < deadline {
            guard let logged = try positions.position(of: settings.producerID, stopper: stopper) else { return nil }
            report.acknowledged = logged
            if logged >= target { return true }
            if try drainSubscriptions(publisher) { return false }
            // Unchanged across several checks while nothing is in flight: the tail was lost.
            stalls = logged == last ? stalls + 1 : 0
            last = logged
            if stalls >= 5 { return false }
            if try waitOrStop(stopper, seconds: 0.1) { return nil }
        }
        throw PipelineError.notAcknowledged(producer: settings.producerID, acknowledged: report.acknowledged, sent: target, seconds: settings.acknowledgeTimeout)
    }

    /// Waits on the stopper for up to `seconds` (pacing, not synchronisation); true when stopped.
    private func waitOrStop(_ stopper: LoopStopper, seconds: Double) throws -> Bool {
        var poller = Poller()
        _ = poller.add(stopper.receiver)
        return !(try poller.poll(timeoutMilliseconds: max(1, Int(seconds * 1000)))).isEmpty
    }
}

/// Asks the broker's replay endpoint how far its log got for a producer.
final class BrokerPositionClient {
    let context: ZMQContext
    let endpoint: String
    let logger: Logger
    let security: Security?
    private var socket: ZMQSocket?
    private var handshakes: HandshakeWatch?

    init(context: ZMQContext, endpoint: String, security: Security?, logger: Logger) {
        self.context = context
        self.endpoint = endpoint
        self.security = security
        self.logger = logger
    }

    func close() {
        handshakes?.close()
        handshakes = nil
        socket?.close()
        socket = nil
    }

    /// The last producer sequence the broker logged for `producer`; nil when stopped. Keeps asking
    /// (on a fresh socket each time) while the broker does not answer.
    func position(of producer: String, stopper: LoopStopper) throws -> UInt64? {
        var warned = false
        while true {
            if socket == nil { (socket, handshakes) = try ConsumerStream.makeRequester(context: context, endpoint: endpoint, security: security) }
            let socket = socket!
            try socket.send([Array("POSITION".utf8), Array(producer.utf8)], dontWait: true)
            var poller = Poller()
            let replyIndex = poller.add(socket)
            let stopIndex = poller.add(stopper.receiver)
            let deadline = monotonicSeconds() + 2
            while monotonicSeconds() < deadline {
                let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, Int((deadline - monotonicSeconds()) * 1000))))
                if ready.contains(where: { $0.index == stopIndex }) { return nil }
                try handshakes?.check()
                if ready.contains(where: { $0.index == replyIndex }) {
                    while let reply = try socket.receive(dontWait: true) {
                        let frames = reply.map(\.bytes)
                        if frames.first == Array("ERROR".utf8) {
                            throw PipelineError.brokerError(frames.count > 1 ? String(decoding: frames[1], as: UTF8.self) : "unknown")
                        }
                        if frames.count == 3, frames[0] == Array("POSITION".utf8), let logged = ControlProtocol.readU64(frames[1]) {
                            return logged
                        }
                    }
                }
            }
            if !warned {
                logger.warning("The broker does not answer position requests; asking again until it does", metadata: ["zmq.endpoint": "\(endpoint)"])
                warned = true
            }
            close()
        }
    }
}
