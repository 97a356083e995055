import Logging
import Timeline
import ZeroMQ

/// One run of a producer worker: its publisher socket, its client of the broker's replay
/// endpoint, its `SendLedger` and `BatchSizer`, and the buffers it encodes into. Made and used on
/// the worker's thread only.
///
/// With a broker pair the publisher is connected to one frontend at a time: the one paired with
/// the replay endpoint that last answered, which is the active broker's. Connecting it to both
/// would not do: a message goes only to subscribers, and with `ZMQ_XPUB_NODROP` a full queue
/// towards a broker that died without closing its connection holds up every send. So the session
/// asks where its events stand (`POSITION`), and when the broker that answers is not the one the
/// publisher sends to, or the publisher's broker unsubscribes (gone, or stepped down), it moves
/// the publisher to the active broker's frontend, waits for that broker's subscription and resumes
/// from its log. The broker drops repeats by producer sequence, so events sent twice are logged
/// once.
final class ProducerSession {
    private let settings: ProducerSettings
    private let supply: any EventSupply
    private let stopper: LoopStopper
    private let logger: Logger
    private let publish: (ProducerReport) -> Void
    private let publisher: ZMQSocket
    private let handshakes: HandshakeWatch?
    private let broker: ControlClient
    /// The frontend the publisher is connected to, by its position in `settings.frontends`.
    private var dataIndex = 0
    /// Whether the broker at `dataIndex` subscribes: the last subscription message was a subscribe.
    private var subscribed = false
    /// When the replay endpoints were last asked where this producer's events stand: which broker
    /// is active, with a pair; how far the broker logged, for a followed file.
    private var lastActiveCheck = ContinuousClock.now
    private var ledger: SendLedger
    private var sizer: BatchSizer
    /// The broker position the last resume started from.
    private var lastResumedAt: UInt64?

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

        guard !settings.frontends.isEmpty, settings.frontends.count == settings.replays.count else {
            throw PipelineError.endpoint(role: "endpoints.frontend", endpoint: settings.frontends.joined(separator: ","),
                                         reason: "\(settings.frontends.count) frontend endpoint(s) for \(settings.replays.count) replay endpoint(s): "
                                             + "the two lists name the same brokers, in the same order")
        }
        publisher = try ZMQSocket(context: context, type: .xpub)
        do {
            try publisher.setXPubVerbose(true)
            try publisher.setXPubNoDrop(true)
            try publisher.setSendHighWaterMark(settings.sendHighWaterMark)
            try publisher.setSendTimeout(milliseconds: 200)
            try publisher.setLinger(milliseconds: 2_000)
            if settings.frontends.count > 1 {
                // A pair: a lost connection ends the pipe, with the broker's subscription, so the
                // producer hears an unsubscribe at once and nothing is queued for a broker that
                // may come back passive.
                try publisher.setImmediate(true)
            }
            try secureClient(publisher, settings.security)
            handshakes = settings.security == nil ? nil
                : try HandshakeWatch(socket: publisher, endpoint: settings.frontends.joined(separator: ","))
        } catch {
            publisher.close()
            throw error
        }
        do {
            try publisher.connect(settings.frontends[0])
            broker = try ControlClient(context: context, endpoints: settings.replays, role: "endpoints.replay", security: settings.security,
                                       retry: .untilAnswered, logger: logger)
        } catch {
            handshakes?.close()
            publisher.close()
            if error is PipelineError { throw error }
            throw PipelineError.endpoint(role: "endpoints.frontend", endpoint: settings.frontends[0], reason: "\(error)")
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
        // Wait for the (active) broker's subscription: the pipe is up.
        guard let connected = try connectToActive() else { return false }
        guard connected else {
            throw PipelineError.noBroker(endpoint: settings.frontends.joined(separator: ", "), seconds: settings.connectTimeout.inSeconds)
        }
        guard let logged = try brokerPosition() else { return false }
        try supply.resume(brokerLogged: Int(logged))
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
            let resubscribed = try drainSubscriptions()
            if !sendsToActive {
                guard try followActive(reason: "the broker unsubscribed or another became active") else { return false }
                continue
            }
            if resubscribed {
                guard try resync("subscription") else { return false }
            }
            // With a pair, ask now and then which broker is active: one that died without closing
            // its connections still looks subscribed. A followed file asks too, single broker or
            // pair, so that it can let go of what the broker has logged.
            if isPair || supply.isOpenEnded || settings.tracksAcknowledgements, lastActiveCheck.duration(to: .now) >= Self.activeCheckInterval {
                guard try checkActive() else { return false }
                if !sendsToActive { continue }
            }
            guard Int(ledger.next) >= supply.firstHeld else {
                // The broker lost events it had logged (a failover with asynchronous replication,
                // a log removed) and those were forgotten here. A producer started again reads the
                // file from the top and goes on from the broker's position.
                throw PipelineError.forgotten(producer: settings.producerID, logged: ledger.next, firstHeld: UInt64(supply.firstHeld))
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
                // Another broker became active: the top of the loop moves to it and resumes there.
                if !sendsToActive { continue }
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
                    "producer.id": "\(settings.producerID)", "zmq.endpoint": "\(settings.frontends[dataIndex])",
                    "producer.queued": "\(settings.sendHighWaterMark)",
                ])
            }
            let resubscribed = try drainSubscriptions()
            if !sendsToActive {
                guard try followActive(reason: "the broker unsubscribed while sends waited") else { return .stopped }
                return .rewound
            }
            if resubscribed {
                guard try resync("subscription while blocked") else { return .stopped }
                return .rewound
            }
            // A broker that takes nothing may be gone without a word (its host cut off): ask the
            // pair which broker is active, and move there if it is the other.
            if isPair, lastActiveCheck.duration(to: .now) >= Self.activeCheckInterval {
                guard try checkActive() else { return .stopped }
                if !sendsToActive {
                    guard try followActive(reason: "another broker became active while sends waited") else { return .stopped }
                    return .rewound
                }
            }
        }
    }

    // MARK: - Following the active broker of a pair

    /// How often a producer of a pair asks which broker is active while it sends.
    static let activeCheckInterval: Duration = .seconds(1)

    /// Whether there are two (or more) brokers to choose from.
    private var isPair: Bool { settings.frontends.count > 1 }

    /// Whether the publisher sends to the broker that last answered on the replay endpoints, and
    /// that broker subscribes.
    private var sendsToActive: Bool { subscribed && dataIndex == broker.endpointIndex }

    /// Asks where this producer's events stand; the replay client turns to the active broker on
    /// the way. False when stopped.
    private func checkActive() throws -> Bool {
        lastActiveCheck = .now
        guard let logged = try brokerPosition() else { return false }
        noteAcknowledged(logged)
        return true
    }

    /// The broker has logged through `logged`: the supply lets go of those events. Not of any
    /// beyond `ledger.next`, the event to send next: after a resync the position the broker reports
    /// may still be moving past it (records of the previous broker copied late), and the events
    /// from `ledger.next` on are asked for again.
    private func noteAcknowledged(_ logged: UInt64) {
        ledger.acknowledged(logged)
        supply.forget(before: Int(min(logged, ledger.next)))
    }

    /// At start: waits for the subscription of the broker (of the active one, with a pair: asking
    /// the replay endpoints which it is) until the connect timeout. Nil when stopped, false when
    /// none showed up in time.
    private func connectToActive() throws -> Bool? {
        let deadline = ContinuousClock.now + settings.connectTimeout
        guard isPair else { return try waitForSubscription(until: deadline) }
        var waited = false
        while ContinuousClock.now < deadline {
            do {
                guard try brokerPosition(deadline: deadline) != nil else { return nil }
            } catch ControlClientError.noAnswer, ControlClientError.noActivePeer {
                return false
            }
            if broker.endpointIndex != dataIndex || waited { try connectPublisher(to: broker.endpointIndex) }
            guard let up = try waitForSubscription(until: min(deadline, .now + .seconds(1))) else { return nil }
            if up, dataIndex == broker.endpointIndex { return true }
            waited = true
        }
        return false
    }

    /// The publisher's broker unsubscribed (gone, or stepped down), or the replay endpoints say
    /// another broker is active: finds the active one, moves the publisher to its frontend, waits
    /// for its subscription and resumes from its log. With one broker, waits for it to subscribe
    /// again. False when stopped.
    private func followActive(reason: String) throws -> Bool {
        logger.info("Waiting for the active broker to take this producer's events", metadata: [
            "producer.id": "\(settings.producerID)", "zmq.endpoint": "\(settings.frontends[dataIndex])", "reason": "\(reason)",
        ])
        var waited = false
        while true {
            if stopper.isStopped { return false }
            if isPair {
                // The replay client turns to the active broker; its frontend is the one to send to.
                guard let logged = try brokerPosition() else { return false }
                noteAcknowledged(logged)
                lastActiveCheck = .now
                // A fresh connection when the subscription did not come: the broker subscribes on
                // every new connection.
                if broker.endpointIndex != dataIndex || waited { try connectPublisher(to: broker.endpointIndex) }
            }
            guard let up = try waitForSubscription(until: .now + .seconds(1)) else { return false }
            if up, dataIndex == broker.endpointIndex { return try resync(reason) }
            waited = true
        }
    }

    /// Points the publisher at frontend `index` on a fresh connection: messages queued for the
    /// previous one are dropped with it (they are sent again from the broker's position).
    private func connectPublisher(to index: Int) throws {
        let from = settings.frontends[dataIndex], to = settings.frontends[index]
        if index != dataIndex {
            logger.info("Sending to another broker", metadata: [
                "producer.id": "\(settings.producerID)", "zmq.endpoint": "\(to)", "producer.from": "\(from)",
            ])
        }
        // Not connected (already dropped) is no matter.
        try? publisher.disconnect(from)
        subscribed = false
        do {
            try publisher.connect(to)
        } catch {
            throw PipelineError.endpoint(role: "endpoints.frontend", endpoint: to, reason: "\(error)")
        }
        dataIndex = index
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
        // Resuming again from the same position (a broker that takes nothing for a while, as with a
        // full disk) is told once, not at every try.
        let again = lastResumedAt == logged
        lastResumedAt = logged
        logger.log(level: again ? .debug : .info, "The broker reconnected; resuming from its log", metadata: [
            "producer.id": "\(settings.producerID)", "producer.logged": "\(logged)", "producer.sent": "\(highestSent)", "reason": "\(reason)",
        ])
        publish(ledger.report)
        return true
    }

    /// The last producer sequence the broker logged for this producer; nil when stopped. Keeps
    /// asking while the broker does not answer (until `deadline` when given), turning to the other
    /// broker of a pair.
    /// Whether the broker says its log cannot be written now (`STATS`: `logPaused`).
    private func brokerLogPaused() throws -> Bool {
        guard case .stats(let json)? = try broker.call(BrokerCommand.stats, answer: BrokerAnswer.self, stopper: stopper) else { return false }
        return (try? JSONCoding.decode(BrokerStatistics.self, from: json))?.logPaused == true
    }

    private func brokerPosition(deadline: ContinuousClock.Instant? = nil) throws -> UInt64? {
        guard let answer = try broker.call(BrokerCommand.position(producer: settings.producerID), answer: BrokerAnswer.self, stopper: stopper,
                                           deadline: deadline) else {
            return nil
        }
        guard case .position(let producerSequence, _) = answer else {
            throw ControlClientError.malformedReply(endpoint: broker.endpoint, reason: "a reply other than POSITION to POSITION")
        }
        return producerSequence
    }

    /// Waits until the publisher's broker subscribes; nil when stopped, false at the deadline.
    private func waitForSubscription(until deadline: ContinuousClock.Instant) throws -> Bool? {
        if subscribed { return true }
        var poller = Poller()
        let pubIndex = poller.add(publisher)
        let stopIndex = poller.add(stopper.receiver)
        while ContinuousClock.now < deadline {
            let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, ContinuousClock.now.duration(to: deadline).pollMilliseconds)))
            if ready.contains(where: { $0.index == stopIndex }) { return nil }
            try handshakes?.check()
            if ready.contains(where: { $0.index == pubIndex }) {
                _ = try drainSubscriptions()
                if subscribed { return true }
            }
        }
        return false
    }

    /// Reads pending subscription messages; true when one was a subscribe. `subscribed` follows
    /// the last one: the publisher emits an unsubscribe when its broker goes away or steps down.
    private func drainSubscriptions() throws -> Bool {
        var subscribe = false
        while let message = try publisher.receive(dontWait: true) {
            switch message.first?.bytes.first {
            case 1:
                subscribe = true
                subscribed = true
            case 0:
                subscribed = false
            default:
                break
            }
        }
        return subscribe
    }

    /// Polls the broker's position for this producer until it reaches `target`. true when reached,
    /// false when the broker's log fell behind what was sent (a broker restart lost the tail), nil
    /// when stopped. Throws when the broker does not get there in time.
    private func awaitAcknowledgement(target: UInt64) throws -> Bool? {
        var deadline = ContinuousClock.now + settings.acknowledgeTimeout
        var stalls = 0
        var last: UInt64 = 0
        var toldPaused = false
        while true {
            if ContinuousClock.now >= deadline {
                // A broker whose log cannot be written (a full disk) says so: the producer keeps
                // its events and waits, however long, instead of giving up.
                guard try brokerLogPaused() else { break }
                if !toldPaused {
                    toldPaused = true
                    logger.warning("The broker cannot write its log (its disk is full?); waiting for it, events kept", metadata: [
                        "producer.id": "\(settings.producerID)", "producer.acknowledged": "\(ledger.report.acknowledged)",
                    ])
                }
                deadline = ContinuousClock.now + settings.acknowledgeTimeout
            }
            guard let logged = try brokerPosition() else { return nil }
            noteAcknowledged(logged)
            publish(ledger.report)
            if logged >= target { return true }
            if try drainSubscriptions() || !sendsToActive { return false }
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
