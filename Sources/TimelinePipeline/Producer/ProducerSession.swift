import Logging
import Timeline
import ZeroMQ

/// One run of a producer worker: its publisher socket, its client of the broker's replay
/// endpoint, its `SendLedger` and `BatchSizer`, and the buffers it encodes into. Made and used on
/// the worker's thread only.
final class ProducerSession {
    private let settings: ProducerSettings
    private let supply: any EventSupply
    private let stopper: LoopStopper
    private let logger: Logger
    private let publish: (ProducerReport) -> Void
    private let publisher: ZMQSocket
    private let handshakes: HandshakeWatch?
    private let broker: ControlClient
    private var ledger: SendLedger
    private var sizer: BatchSizer

    // One header and one body buffer, reused for every event: only the producer sequence in the
    // header changes, and the body is encoded over the last one.
    private var header: [UInt8]
    private var batchHeader: [UInt8]
    private var body: [UInt8] = []
    private var batchBody: [UInt8] = []

    /// How a send ended.
    private enum Sent { case sent, rewound, stopped }

    init(settings: ProducerSettings, supply: any EventSupply, context: ZMQContext, stopper: LoopStopper, logger: Logger,
         publish: @escaping (ProducerReport) -> Void) throws {
        self.settings = settings
        self.supply = supply
        self.stopper = stopper
        self.logger = logger
        self.publish = publish
        ledger = SendLedger(producerID: settings.producerID, logged: 0)
        sizer = BatchSizer(maxEvents: settings.rate == nil ? settings.eventsPerMessage : 1, maxBytes: settings.maxBatchBytes)
        header = WireHeader(producer: settings.producerID).encoded()
        batchHeader = WireHeader(encoding: .batch, producer: settings.producerID).encoded()
        body.reserveCapacity(1024)

        publisher = try ZMQSocket(context: context, type: .xpub)
        do {
            try publisher.setXPubVerbose(true)
            try publisher.setXPubNoDrop(true)
            try publisher.setSendHighWaterMark(settings.sendHighWaterMark)
            try publisher.setSendTimeout(milliseconds: 200)
            try publisher.setLinger(milliseconds: 2_000)
            try secureClient(publisher, settings.security)
            handshakes = settings.security == nil ? nil : try HandshakeWatch(socket: publisher, endpoint: settings.frontend)
        } catch {
            publisher.close()
            throw error
        }
        do {
            try publisher.connect(settings.frontend)
            broker = try ControlClient(context: context, endpoint: settings.replay, role: "endpoints.replay", security: settings.security,
                                       retry: .untilAnswered, logger: logger)
        } catch {
            handshakes?.close()
            publisher.close()
            if error is PipelineError { throw error }
            throw PipelineError.endpoint(role: "endpoints.frontend", endpoint: settings.frontend, reason: "\(error)")
        }
    }

    func close() {
        broker.close()
        handshakes?.close()
        publisher.close()
    }

    /// Publishes until the broker has logged every event (or, for an open-ended supply, until
    /// stopped). Returns false when stopped early.
    func run() throws -> Bool {
        // Wait for the broker's subscription: the pipe is up.
        guard let connected = try waitForSubscription() else { return false }
        guard connected else { throw PipelineError.noBroker(endpoint: settings.frontend, seconds: settings.connectTimeout.inSeconds) }
        guard let logged = try brokerPosition() else { return false }
        if logged > 0 {
            logger.info("Resuming after the broker's last logged event of this producer", metadata: [
                "producer.id": "\(settings.producerID)", "producer.sequence": "\(logged)",
            ])
        }
        ledger = SendLedger(producerID: settings.producerID, logged: logged)
        publish(ledger.report)
        let start = ContinuousClock.now
        let startIndex = logged

        while true {
            publish(ledger.report)
            if stopper.isStopped { return false }
            // A new subscription means a (re)connected broker: ask where its log stands.
            if try drainSubscriptions() {
                guard try resync("subscription") else { return false }
            }
            let events = supply.events(from: Int(ledger.next), limit: 256)
            if events.isEmpty {
                if supply.isOpenEnded {
                    _ = supply.waitForMore(beyond: Int(ledger.next), timeout: 0.2)
                    continue
                }
                // Everything handed over: wait until the broker's log has all of it.
                guard let done = try awaitAcknowledgement(target: UInt64(supply.count)) else { return false }
                if done { break }
                guard try resync("missing after the last send") else { return false }
                continue
            }
            let outcome = settings.rate == nil && settings.eventsPerMessage > 1
                ? try publishBatched(events)
                : try publishPaced(events, start: start, startIndex: startIndex)
            if outcome == .stopped { return false }
        }
        publish(ledger.report)
        logger.info("Producer finished: the broker logged every event", metadata: [
            "producer.id": "\(settings.producerID)", "producer.sent": "\(ledger.report.sent)", "producer.resent": "\(ledger.report.resent)",
            "producer.acknowledged": "\(ledger.report.acknowledged)",
        ])
        return true
    }

    /// As fast as possible: several events a message, within the sizer's limits.
    private func publishBatched(_ events: [TimelineEvent]) throws -> Sent {
        var first = ledger.next + 1
        var count = 0
        batchBody.removeAll(keepingCapacity: true)
        /// Sends the batch collected so far.
        func flush() throws -> Sent {
            guard count > 0 else { return .sent }
            WireHeader.stamp(producerSequence: first, into: &batchHeader)
            let outcome = try send([], batchHeader, batchBody)
            guard outcome == .sent else { return outcome }
            ledger.sent(first, through: first + UInt64(count) - 1)
            sizer.delivered()
            first = ledger.next + 1
            count = 0
            batchBody.removeAll(keepingCapacity: true)
            return .sent
        }
        for event in events {
            EventJSON.encode(event, into: &body)
            let topic = Array(event.topic.utf8)
            if !sizer.fits(count: count, batchBytes: batchBody.count, eventBytes: topic.count + body.count + 6) {
                let outcome = try flush()
                guard outcome == .sent else { return outcome }
            }
            WireBatch.append(topic: topic, body: body, to: &batchBody)
            count += 1
        }
        return try flush()
    }

    /// Each event on its own, at the configured rate when there is one.
    private func publishPaced(_ events: [TimelineEvent], start: ContinuousClock.Instant, startIndex: UInt64) throws -> Sent {
        for event in events {
            if let rate = settings.rate, rate > 0 {
                // Signed: after a resync the broker's position may lie before where this run began.
                let due = start + .seconds(Double(Int64(ledger.next) - Int64(startIndex)) / rate)
                if ContinuousClock.now < due, try waitOrStop(ContinuousClock.now.duration(to: due)) { return .stopped }
            }
            let sequence = ledger.next + 1
            WireHeader.stamp(producerSequence: sequence, into: &header)
            EventJSON.encode(event, into: &body)
            let outcome = try send(Array(event.topic.utf8), header, body)
            guard outcome == .sent else { return outcome }
            ledger.sent(sequence, through: sequence)
        }
        return .sent
    }

    /// Sends one message, waiting out a full queue; a broker that reconnects meanwhile rewinds
    /// the producer to the broker's position.
    private func send(_ topic: [UInt8], _ header: [UInt8], _ body: [UInt8]) throws -> Sent {
        var blockedSince: ContinuousClock.Instant?
        var warned = false
        defer {
            if warned, let blockedSince {
                logger.info("Sends to the broker go through again", metadata: [
                    "producer.id": "\(settings.producerID)", "producer.blockedSeconds": "\(blockedSince.duration(to: .now).inSeconds)",
                ])
            }
        }
        while true {
            if try publisher.send(topic, header, body) { return .sent }
            // The send timed out: the broker is slow or gone. Look for a reconnect, or a stop.
            if stopper.isStopped { return .stopped }
            let since = blockedSince ?? .now
            blockedSince = since
            if !warned, since.duration(to: .now) >= .seconds(2) {
                warned = true
                logger.warning("The broker takes no messages; waiting for it (nothing is dropped)", metadata: [
                    "producer.id": "\(settings.producerID)", "zmq.endpoint": "\(settings.frontend)",
                    "producer.queued": "\(settings.sendHighWaterMark)",
                ])
            }
            if try drainSubscriptions() {
                guard try resync("subscription while blocked") else { return .stopped }
                return .rewound
            }
        }
    }

    /// Asks the broker where its log stands for this producer and goes on from there, with
    /// smaller batches when sent events went missing. False when stopped.
    private func resync(_ reason: String) throws -> Bool {
        guard let logged = try brokerPosition() else { return false }
        let highestSent = ledger.highestSent
        if ledger.resume(after: logged), sizer.lost() {
            logger.info("Sent events went missing; sending smaller batches", metadata: [
                "producer.id": "\(settings.producerID)", "producer.eventsPerMessage": "\(sizer.events)", "producer.batchBytes": "\(sizer.bytes)",
            ])
        }
        logger.info("The broker reconnected; resuming from its log", metadata: [
            "producer.id": "\(settings.producerID)", "producer.logged": "\(logged)", "producer.sent": "\(highestSent)", "reason": "\(reason)",
        ])
        publish(ledger.report)
        return true
    }

    /// The last producer sequence the broker logged for this producer; nil when stopped. Keeps
    /// asking while the broker does not answer.
    private func brokerPosition() throws -> UInt64? {
        guard let answer = try broker.call(BrokerCommand.position(producer: settings.producerID), answer: BrokerAnswer.self, stopper: stopper) else {
            return nil
        }
        guard case .position(let producerSequence, _) = answer else {
            throw ControlClientError.malformedReply(endpoint: settings.replay, reason: "a reply other than POSITION to POSITION")
        }
        return producerSequence
    }

    /// Waits for the first subscription; nil when stopped, false on timeout.
    private func waitForSubscription() throws -> Bool? {
        let deadline = ContinuousClock.now + settings.connectTimeout
        var poller = Poller()
        let pubIndex = poller.add(publisher)
        let stopIndex = poller.add(stopper.receiver)
        while ContinuousClock.now < deadline {
            let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, ContinuousClock.now.duration(to: deadline).pollMilliseconds)))
            if ready.contains(where: { $0.index == stopIndex }) { return nil }
            try handshakes?.check()
            if ready.contains(where: { $0.index == pubIndex }), try drainSubscriptions() { return true }
        }
        return false
    }

    /// Reads pending subscription messages; true when one was a subscribe.
    private func drainSubscriptions() throws -> Bool {
        var subscribed = false
        while let message = try publisher.receive(dontWait: true) {
            if message.first?.bytes.first == 1 { subscribed = true }
        }
        return subscribed
    }

    /// Polls the broker's position for this producer until it reaches `target`. true when reached,
    /// false when the broker's log fell behind what was sent (a broker restart lost the tail), nil
    /// when stopped. Throws when the broker does not get there in time.
    private func awaitAcknowledgement(target: UInt64) throws -> Bool? {
        let deadline = ContinuousClock.now + settings.acknowledgeTimeout
        var stalls = 0
        var last: UInt64 = 0
        while ContinuousClock.now < deadline {
            guard let logged = try brokerPosition() else { return nil }
            ledger.acknowledged(logged)
            publish(ledger.report)
            if logged >= target { return true }
            if try drainSubscriptions() { return false }
            // Unchanged across several checks while nothing is in flight: the tail was lost.
            stalls = logged == last ? stalls + 1 : 0
            last = logged
            if stalls >= 5 { return false }
            if try waitOrStop(.milliseconds(100)) { return nil }
        }
        throw PipelineError.notAcknowledged(producer: settings.producerID, acknowledged: ledger.report.acknowledged, sent: target,
                                            seconds: settings.acknowledgeTimeout.inSeconds)
    }

    /// Waits on the stopper for up to `duration` (pacing, not synchronisation); true when stopped.
    private func waitOrStop(_ duration: Duration) throws -> Bool {
        var poller = Poller()
        _ = poller.add(stopper.receiver)
        return !(try poller.poll(timeoutMilliseconds: max(1, duration.pollMilliseconds))).isEmpty
    }
}
