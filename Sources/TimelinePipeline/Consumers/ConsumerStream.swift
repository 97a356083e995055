import Logging
import Timeline
import ZeroMQ

/// How a consumer gets the records that come after what it has: by asking the broker's log
/// (`FOLLOW`), or from a SUB socket on the broker's backend.
public enum ConsumerFeed: String, Sendable, CaseIterable {
    /// `FOLLOW` requests on the replay endpoint: a pull, as a Kafka consumer's fetch. Each reply
    /// carries every record logged since the last one (up to a chunk), in one frame; at the head
    /// of the log the request waits at the broker until records come. Nothing can be dropped on
    /// the way, and a consumer that falls behind slows nobody.
    case follow
    /// The Clone pattern: a SUB socket takes one message per event, and gaps (messages PUB/SUB
    /// dropped) are fetched from the log. The broker sends each record once per subscriber.
    case subscribe
}

/// Where a consumer finds the broker, or the two brokers of a pair, and how it reads it: the
/// replay client fails over between the replay endpoints; with the `subscribe` feed the
/// subscriber connects to every backend (a passive broker publishes nothing).
public struct ConsumerEndpoints: Sendable {
    public var backends: [String]
    public var replays: [String]
    public var feed: ConsumerFeed

    public init(backends: [String], replays: [String], feed: ConsumerFeed = .follow) {
        self.backends = backends
        self.replays = replays
        self.feed = feed
    }

    /// One broker.
    public init(backend: String, replay: String, feed: ConsumerFeed = .follow) {
        self.init(backends: [backend], replays: [replay], feed: feed)
    }
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

/// A consumer's view of the broker's log: delivers every message after a starting position
/// exactly once and in order.
///
/// With the `follow` feed (the default) it catches up with `CHUNK`s, then keeps one `FOLLOW`
/// request at the broker, sending the next before applying the records of the last, so that the
/// broker reads (or waits at the head) while this consumer works. Records of a reply that did not
/// reach the broker's head count as replayed (the consumer is behind), the others as live.
///
/// With the `subscribe` feed it is the ZeroMQ Guide's Clone pattern, whatever PUB/SUB drops: it
/// subscribes first, then fetches from the broker's log everything between its position and the
/// broker's head, then applies live messages. A live message that skips ahead reveals a gap (a slow
/// joiner, a full queue, a restarted broker) and the gap is fetched from the log before the message
/// is applied; one at or below the position is a repeat and is dropped. When no live message comes
/// for a while it asks the broker for its head, so that a loss at the very end is found too. The
/// bookkeeping is `StreamProgress` and `CatchUpPlan`; this type adds the sockets.
///
/// Owned by one thread (the consumer's loop): not Sendable.
public final class ConsumerStream {
    public let endpoints: ConsumerEndpoints
    public let topics: [String]
    /// How long without live traffic before asking for the head (`subscribe` feed).
    public var idleCheckInterval: Duration = .milliseconds(100)
    /// The longest a `FOLLOW` waits at the broker for records (`follow` feed); at most a quarter
    /// of the time the replay client waits for an answer, so that a held request is not taken for
    /// a silent broker when the broker's loop is slow to answer. `step`'s timeout is kept to
    /// within this.
    public var followWait: Duration = .milliseconds(250)
    /// Records asked for per chunk.
    public var batchSize: UInt32 = 20_000
    /// What to do when records this stream needs were deleted by the broker's retention: go on
    /// from the oldest record the log holds, with a warning (a live feed), or stop with
    /// `PipelineError.logTrimmed` naming the missing sequences (the default: statistics must
    /// never be silently wrong).
    public var skipsDeletedRecords = false
    /// Where the stream's figures go for `/metrics`: noted after every step and every chunk of a
    /// catch-up (nothing per event).
    public var metrics: ConsumerMetrics?
    /// Where a catch-up shows how far it got (records applied out of the broker's head), when it
    /// takes longer than a second.
    let progressDisplay: ProgressDisplay
    let logger: Logger

    private var progress: StreamProgress
    /// The SUB socket of the `subscribe` feed.
    private let subscriber: ZMQSocket?
    /// The `FOLLOW` sent ahead, and the position it asks after.
    private var followAhead: (after: UInt64, pending: ControlClient.Pending<BrokerCommand>, sent: ContinuousClock.Instant, wait: Duration)?
    private let broker: ControlClient
    private var lastLive = ContinuousClock.now
    private var producerIDs = ProducerIDCache()
    /// The broker whose log was found to end before this stream's position, once warned about.
    private var warnedBehind: String?
    /// The last position reported with `CONSUMED`, said again every `reportRepeat` while nothing
    /// new is saved, so the broker knows an idle consumer is still there.
    private var lastReport: (consumer: String, sequence: UInt64, at: ContinuousClock.Instant)?
    static let reportRepeat: Duration = .seconds(30)

    public init(context: ZMQContext, endpoints: ConsumerEndpoints, topics: [String], position: StreamPosition,
                receiveHighWaterMark: Int32 = 10_000, maxMessageBytes: Int64 = 1 << 20, security: Security? = nil,
                retry: RetryPolicy = .untilAnswered, catchUpProgress: ProgressDisplay = .off, logger: Logger) throws {
        self.endpoints = endpoints
        self.topics = topics
        progressDisplay = catchUpProgress
        self.logger = logger
        progress = StreamProgress(position: position)
        subscriber = endpoints.feed == .subscribe
            ? try Self.subscribe(context: context, endpoints: endpoints, topics: topics, receiveHighWaterMark: receiveHighWaterMark,
                                 maxMessageBytes: maxMessageBytes, security: security)
            : nil
        do {
            broker = try ControlClient(context: context, endpoints: endpoints.replays, role: "endpoints.replay", security: security,
                                       retry: retry, logger: logger)
        } catch {
            subscriber?.close()
            throw error
        }
        followWait = min(followWait, broker.attemptTimeout / 4)
    }

    /// The SUB socket of the `subscribe` feed, subscribed and connected to every backend.
    private static func subscribe(context: ZMQContext, endpoints: ConsumerEndpoints, topics: [String], receiveHighWaterMark: Int32,
                                  maxMessageBytes: Int64, security: Security?) throws -> ZMQSocket {
        let subscriber = try ZMQSocket(context: context, type: .sub)
        do {
            try subscriber.setReceiveHighWaterMark(receiveHighWaterMark)
            try subscriber.setMaxMessageSize(maxMessageBytes)
            // TCP keepalive, not ZMTP heartbeats: see `BrokerSettings.keepaliveIdleSeconds`. A
            // consumer catching up from the log stops reading this socket for as long as that takes.
            try subscriber.setTCPKeepalive(idle: 10, interval: 2, count: 3)
            try secureClient(subscriber, security)
            for topic in topics.isEmpty ? [""] : topics { try subscriber.subscribe(topic) }
        } catch {
            subscriber.close()
            throw error
        }
        for backend in endpoints.backends {
            do {
                try subscriber.connect(backend)
            } catch {
                subscriber.close()
                throw PipelineError.endpoint(role: "endpoints.backend", endpoint: backend, reason: "\(error)")
            }
        }
        return subscriber
    }

    /// Where the stream stands: the last sequence applied and the highest producer sequence seen
    /// per producer.
    public var position: StreamPosition { progress.position }

    public var counters: StreamCounters { progress.counters }

    /// Tells the broker that `consumer` passed `sequence` for good (it is checkpointed), without
    /// waiting for the answer: with `broker.retention.keepUnread` the broker keeps what comes after.
    public func reportConsumed(_ consumer: String, through sequence: UInt64) {
        lastReport = (consumer, sequence, .now)
        do {
            try broker.notify(BrokerCommand.consumed(consumer: consumer, sequence: sequence))
        } catch {
            logger.debug("Could not report the consumed position to the broker", metadata: ["error": "\(error)"])
        }
    }

    /// Goes on from `position` instead (a consumer that restored its state from a snapshot).
    public func reposition(to position: StreamPosition) {
        progress.reposition(to: position)
    }

    public func close() {
        subscriber?.close()
        broker.close()
    }

    /// The socket polled for live messages with the `subscribe` feed.
    public var liveSocket: ZMQSocket? { subscriber }

    /// Starts at the broker's current head, skipping history (a live-only monitor).
    public func startAtHead(stopper: LoopStopper) throws -> Bool {
        guard let head = try requestHead(stopper: stopper) else { return false }
        progress.skip(through: head)
        heard(head: head)
        noteFigures()
        return true
    }

    /// Hands the position and counters to `metrics`.
    private func noteFigures() {
        metrics?.observe(position: progress.sequence, counters: progress.counters)
    }

    /// One turn of a consumer's loop: waits up to `timeout` (never much longer than the follow
    /// wait or the idle check interval) for new records and delivers them. With the `subscribe`
    /// feed, when the socket stayed quiet, checks the broker's head. Returns false when the
    /// stopper fired.
    public func step(stopper: LoopStopper, timeout: Duration? = nil, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        defer {
            noteFigures()
            if let report = lastReport, report.at.duration(to: .now) >= Self.reportRepeat {
                reportConsumed(report.consumer, through: report.sequence)
            }
        }
        guard let subscriber else { return try follow(stopper: stopper, timeout: timeout, deliver: deliver) }
        var poller = Poller()
        let liveIndex = poller.add(subscriber)
        let stopIndex = poller.add(stopper.receiver)
        let wait = min(max(.zero, timeout ?? idleCheckInterval), idleCheckInterval)
        let ready = try poller.poll(timeoutMilliseconds: wait.pollMilliseconds + 1)
        if ready.contains(where: { $0.index == stopIndex }) { return false }
        if ready.contains(where: { $0.index == liveIndex }) {
            return try drainLive(stopper: stopper, deliver: deliver)
        }
        return try checkIdle(stopper: stopper, deliver: deliver)
    }

    /// Delivers the live messages waiting on `liveSocket` (after fetching any gap they reveal).
    /// Returns false when the stopper fired.
    public func drainLive(stopper: LoopStopper, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        guard let subscriber else { return true }
        var drained = 0
        while drained < 4096 {
            // Each message is handled in place, in the frames libzmq received it in.
            guard let handled = try subscriber.receiveParts(dontWait: true, { parts in
                try handleLive(parts, stopper: stopper, deliver: deliver)
            }) else { break }
            drained += 1
            guard handled else { return false }
        }
        lastLive = .now
        return true
    }

    /// Called when the live socket has been quiet: every `idleCheckInterval`, asks the broker for
    /// its head and fetches whatever this stream has not seen (a loss at the very end of a burst).
    public func checkIdle(stopper: LoopStopper, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        guard lastLive.duration(to: .now) >= idleCheckInterval else { return true }
        lastLive = .now
        guard let head = try requestHead(stopper: stopper) else { return !stopper.isStopped }
        heard(head: head)
        if head > progress.sequence {
            return try catchUp(through: head, stopper: stopper, deliver: deliver)
        }
        return true
    }

    /// Fetches from the log until the position reaches `target` (the broker's head when nil).
    /// Logs what it recovered: a repaired gap, or the history a new consumer caught up on.
    ///
    /// With `since` (milliseconds since the Unix epoch), the broker skips the records it received
    /// before then, and the position moves past them unseen: a feed that starts at a time.
    public func catchUp(through target: UInt64? = nil, since: Int64? = nil, stopper: LoopStopper,
                        deliver: (StreamMessage) throws -> Void) throws -> Bool {
        let start = progress.sequence
        let replayedBefore = progress.counters.replayed
        var plan = CatchUpPlan(target: target)
        // The time matters for the first request only: its answer moves the position past
        // everything received before it.
        let startTime = since
        var since = since
        // The request for the next chunk, sent before the current one is applied so that the
        // broker reads it meanwhile: catching up keeps both processes busy.
        var prefetched: (after: UInt64, pending: ControlClient.Pending<BrokerCommand>)?
        var reporter = ProgressReporter(title: "catching up", unit: "records", total: 0, display: progressDisplay)
        defer { reporter.finish() }
        while plan.needsMore(at: progress.sequence) {
            let answer: BrokerAnswer?
            if let ahead = prefetched, ahead.after == progress.sequence {
                answer = try broker.await(ahead.pending, answer: BrokerAnswer.self, stopper: stopper)
            } else {
                answer = try broker.call(chunkCommand(after: progress.sequence, since: since), answer: BrokerAnswer.self, stopper: stopper)
            }
            prefetched = nil
            guard let answer else { return false }
            since = nil
            if case .trimmed(let first, let head) = answer {
                try passDeletedRecords(first: first, head: head)
                plan.applied(position: progress.sequence)
                continue
            }
            guard case .chunk(let head, let scannedThrough, let records) = answer else {
                throw ControlClientError.malformedReply(endpoint: broker.endpoint, reason: "a reply other than CHUNK to CHUNK")
            }
            heard(head: head)
            if let after = plan.received(head: head, scannedThrough: scannedThrough, position: progress.sequence),
               let pending = try broker.send(chunkCommand(after: after, since: since)) {
                prefetched = (after, pending)
            }
            try records.withUnsafeBytes { records in
                // The broker checks each record's checksum as it reads it from disk; TCP and
                // ZeroMQ carry it intact from there.
                try EventLog.forEachRecord(in: records, verify: false) { topic, header, body, _ in
                    guard let message = decode(topic: topic, header: header, body: body), progress.isNew(message.sequence) else { return }
                    try apply(message, replayed: true, deliver: deliver)
                }
            }
            progress.skip(through: scannedThrough)
            plan.applied(position: progress.sequence)
            noteFigures()
            reporter.update(done: progress.sequence - start, total: max(head, progress.sequence) - start)
        }
        let recovered = progress.counters.replayed - replayedBefore
        if recovered > 0 {
            if target != nil { progress.countRepairedGap() }
            var metadata: Logger.Metadata = [
                "stream.from": "\(start + 1)", "stream.through": "\(progress.sequence)",
                "stream.recovered": "\(recovered)", "stream.head": "\(progress.counters.head)",
            ]
            if let startTime { metadata["stream.since"] = "\(startTime)" }
            logger.info(target == nil ? "Caught up from the broker's log" : "Repaired a gap from the broker's log", metadata: metadata)
        }
        return true
    }

    /// One `FOLLOW` answered: the records after this stream's position, or none when the broker
    /// had nothing new within the wait. The next request leaves before these records are applied.
    private func follow(stopper: LoopStopper, timeout: Duration?, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        let wait = min(max(.milliseconds(1), timeout ?? followWait), followWait)
        let position = progress.sequence
        var asked = (sent: ContinuousClock.now, wait: wait)
        let answer: BrokerAnswer?
        do {
            if let ahead = followAhead, ahead.after == position {
                asked = (ahead.sent, ahead.wait)
                answer = try broker.await(ahead.pending, answer: BrokerAnswer.self, stopper: stopper)
            } else {
                answer = try broker.call(followCommand(after: position, wait: wait), answer: BrokerAnswer.self, stopper: stopper)
            }
        } catch ControlClientError.refused(let endpoint, let message) where message.contains("'FOLLOW'") {
            throw ControlClientError.refused(endpoint: endpoint, message: message
                + " (the broker is older than this consumer: upgrade the brokers first, or run the consumer with --feed subscribe)")
        }
        followAhead = nil
        guard let answer else { return false }
        switch answer {
        case .trimmed(let first, let head):
            try passDeletedRecords(first: first, head: head)
            return true
        case .chunk(let head, let scannedThrough, let records):
            heard(head: head)
            let waited = asked.sent.duration(to: .now)
            if records.isEmpty, scannedThrough <= position, waited < asked.wait / 2 {
                // Nothing, long before the wait was over: a broker that holds no more requests
                // (too many clients). Wait out the rest here rather than ask again at once.
                return try !pause(asked.wait - waited, stopper: stopper)
            }
            let through = max(scannedThrough, position)
            if let pending = try broker.send(followCommand(after: through, wait: wait)) { followAhead = (through, pending, .now, wait) }
            // A reply that stops short of the head leaves the stream behind: it is catching up.
            let replayed = scannedThrough < head
            try records.withUnsafeBytes { records in
                try EventLog.forEachRecord(in: records, verify: false) { topic, header, body, _ in
                    guard let message = decode(topic: topic, header: header, body: body), progress.isNew(message.sequence) else { return }
                    try apply(message, replayed: replayed, deliver: deliver)
                }
            }
            progress.skip(through: scannedThrough)
            return true
        default:
            throw ControlClientError.malformedReply(endpoint: broker.endpoint, reason: "a reply other than CHUNK or TRIMMED to FOLLOW")
        }
    }

    /// Waits `duration` or until the stopper fires (true then).
    private func pause(_ duration: Duration, stopper: LoopStopper) throws -> Bool {
        var poller = Poller()
        _ = poller.add(stopper.receiver)
        return !(try poller.poll(timeoutMilliseconds: max(1, duration.pollMilliseconds))).isEmpty
    }

    /// The broker's log begins at `first`, after this stream's position: the records between were
    /// deleted by retention. A live feed goes on from `first`; anything else stops.
    private func passDeletedRecords(first: UInt64, head: UInt64) throws {
        guard first > progress.sequence + 1 else {
            throw ControlClientError.malformedReply(endpoint: broker.endpoint,
                                                    reason: "TRIMMED with first sequence \(first), not past this stream's position \(progress.sequence) + 1")
        }
        heard(head: head)
        let missing = (progress.sequence + 1)...(first - 1)
        guard skipsDeletedRecords else { throw PipelineError.logTrimmed(position: progress.sequence, first: first, head: head) }
        logger.warning("The broker's retention deleted records this stream had not read; it goes on from the oldest one kept", metadata: [
            "stream.missingFrom": "\(missing.lowerBound)", "stream.missingThrough": "\(missing.upperBound)", "log.firstSequence": "\(first)",
        ])
        progress.skip(through: first - 1)
    }

    private func handleLive(_ parts: ReceivedParts, stopper: LoopStopper, deliver: (StreamMessage) throws -> Void) throws -> Bool {
        guard parts.count == 3 else {
            progress.countMalformed()
            return true
        }
        guard let message = decode(topic: parts[0], header: parts[1], body: parts[2]) else { return true }
        switch progress.classify(live: message.sequence) {
        case .duplicate:
            return true
        case .gap(let through):
            // Either messages were lost, or (with a topic filter) they were on other topics: the log knows.
            guard try catchUp(through: through, stopper: stopper, deliver: deliver) else { return false }
            if !progress.isNew(message.sequence) { return true }
        case .apply:
            break
        }
        try apply(message, replayed: false, deliver: deliver)
        return true
    }

    private func apply(_ message: StreamMessage, replayed: Bool, deliver: (StreamMessage) throws -> Void) throws {
        var message = message
        message.replayed = replayed
        try deliver(message)
        progress.applied(message.sequence, producer: message.header.producer, producerSequence: message.header.producerSequence, replayed: replayed)
    }

    private func decode(topic: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> StreamMessage? {
        guard let header = try? WireHeader.decode(header, cache: &producerIDs), header.sequence > 0 else {
            progress.countMalformed()
            return nil
        }
        return StreamMessage(sequence: header.sequence, header: header, topicBytes: topic, bodyBytes: body, replayed: false)
    }

    /// Notes the head of the broker that answered. A head below this stream's position means
    /// that broker's log lacks what this stream already applied: a broker of a pair that took over
    /// before it had copied everything (possible only with asynchronous replication). The stream
    /// keeps its position, and says so once per broker.
    private func heard(head: UInt64) {
        progress.heard(head: head)
        guard head < progress.sequence else {
            if warnedBehind == broker.endpoint { warnedBehind = nil }
            return
        }
        guard warnedBehind != broker.endpoint else { return }
        warnedBehind = broker.endpoint
        logger.warning("The broker's log ends before this consumer's position; events it logs up to there will not be seen", metadata: [
            "zmq.endpoint": "\(broker.endpoint)", "broker.lastSequence": "\(head)", "stream.sequence": "\(progress.sequence)",
        ])
    }

    // MARK: - Requests to the broker

    private func requestHead(stopper: LoopStopper) throws -> UInt64? {
        guard let answer = try broker.call(BrokerCommand.head, answer: BrokerAnswer.self, stopper: stopper) else { return nil }
        guard case .head(let last) = answer else {
            throw ControlClientError.malformedReply(endpoint: broker.endpoint, reason: "a reply other than HEAD to HEAD")
        }
        return last
    }

    private func chunkCommand(after: UInt64, since: Int64?) -> BrokerCommand {
        .chunk(ReplayQuery(after: after, maxCount: batchSize, prefixes: prefixes, since: since))
    }

    private func followCommand(after: UInt64, wait: Duration) -> BrokerCommand {
        .follow(ReplayQuery(after: after, maxCount: batchSize, prefixes: prefixes), waitMilliseconds: UInt32(clamping: wait.pollMilliseconds))
    }

    private var prefixes: [[UInt8]] { topics.filter { !$0.isEmpty }.map { Array($0.utf8) } }
}
