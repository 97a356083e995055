import Logging
import Timeline
import ZeroMQ

/// Everything of the broker that changes, kept behind the broker's one lock: the log, the
/// counters, the subscriptions, and what admitting messages needs (the last producer id read,
/// the rate-limited warnings, the dead-letter file).
struct BrokerState {
    let log: EventLog
    let settings: BrokerSettings
    let logger: Logger
    var counters = BrokerCounters()
    var subscriptions = 0
    /// Connections on the backend now (SUB sockets, and anything else that connected there), from
    /// its monitor's events: one of the signals of `publishesEvents`.
    var subscriberConnections = 0

    /// Whether records are published one message each on the backend: while a connection is
    /// counted there or a subscription is (either alone could be missed: the monitor drops events
    /// when its queue is full, a client can send unsubscriptions it never subscribed), and always
    /// on a transport that reports no connections (`inproc`).
    var publishesEvents: Bool {
        subscriberConnections > 0 || subscriptions > 0 || !(settings.backend.hasPrefix("tcp://") || settings.backend.hasPrefix("ipc://"))
    }
    /// The last producer id read from a header, reused while the same producer keeps sending.
    var producerIDs = ProducerIDCache()
    let warnings: RateLimitedLog
    let deadLetters: DeadLetterFile
    /// Set for a broker of a pair (`BrokerState+Pair`).
    var pair: PairSession?
    /// Set while the log cannot be written: when to try again.
    var logPausedUntil: ContinuousClock.Instant?
    /// Whether the last write of the log failed (for logging the failure and the recovery once).
    var logWritesFailing = false
    /// When retention is next applied.
    var nextRetention = ContinuousClock.now
    /// When the broker started: a broker of a pair deletes nothing until it has heard its peer, or
    /// for `BrokerState.peerGrace` when it does not.
    let startedAt = ContinuousClock.now
    /// The last sequence each durable consumer reported as passed (`CONSUMED`), kept in
    /// `consumers.json`, and whether that file is behind.
    var consumerPositions: [String: UInt64] = [:]
    var consumerPositionsDirty = false
    /// The last sequence every consumer that reported one (`CONSUMED`) passed, since the broker
    /// started: at most 64 names, in memory only.
    var reportedPositions: [String: (sequence: UInt64, heard: ContinuousClock.Instant)] = [:]
    /// The consumer retention last waited for, to log each change once.
    var retentionHeldBy: String?
    /// `FOLLOW` requests waiting for records (`BrokerState+Follow`).
    var heldFollows: [HeldFollow] = []

    init(log: EventLog, settings: BrokerSettings, logger: Logger, pair: PairSession? = nil) {
        self.log = log
        self.pair = pair
        self.settings = settings
        self.logger = logger
        warnings = RateLimitedLog(logger: logger)
        deadLetters = DeadLetterFile(folder: settings.dataDirectory, logger: logger)
        consumerPositions = BrokerState.loadConsumerPositions(folder: settings.dataDirectory, logger: logger)
    }

    var statistics: BrokerStatistics {
        var statistics = BrokerStatistics(lastSequence: log.lastSequence, producers: log.producerPositions.count, subscriptions: subscriptions,
                                          counters: counters, deadLettersLost: deadLetters.lost)
        statistics.deadLettered = deadLetters.written
        statistics.pair = pairStatistics
        statistics.subscriberConnections = subscriberConnections
        statistics.followersWaiting = heldFollows.count
        // From the first failed write until one succeeds (retries in between included).
        statistics.logPaused = logWritesFailing
        statistics.log = LogStatistics(firstSequence: log.firstSequence, segments: log.segmentCount, bytes: log.recordBytes,
                                       segmentsDeleted: counters.segmentsDeleted)
        statistics.consumers = consumerPositions.isEmpty ? nil : consumerPositions
        // Consumers repeat their report every 30 s: one not heard for 5 minutes is gone.
        let recent = reportedPositions.filter { $0.value.heard.duration(to: .now) < .seconds(300) }.mapValues(\.sequence)
        statistics.reported = recent.isEmpty ? nil : recent
        statistics.residentBytes = ProcessFigures.residentBytes()
        statistics.disk = DiskSpace.of(settings.dataDirectory)
        return statistics
    }

    // MARK: - Admitting producer messages

    /// Checks one producer message and appends it to the log's pending batch, or counts, reports
    /// and dead-letters it.
    mutating func admit(_ parts: ReceivedParts) throws {
        guard parts.count == 3 else {
            reject("frames", "Dropped a message with the wrong number of frames", error: WireError.wrongFrameCount(parts.count),
                   producer: "", body: parts[parts.count - 1], metadata: ["message.frames": "\(parts.count)"])
            return
        }
        let topic = parts[0], body = parts[2]
        let header: WireHeader
        do {
            header = try WireHeader.decode(parts[1], cache: &producerIDs)
        } catch {
            reject("header", "Dropped a message with a bad header", error: error, producer: "", body: body)
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
                    let (sequence, overflow) = header.producerSequence.addingReportingOverflow(index)
                    guard !overflow else { throw WireError.malformed("batch event \(index): the producer sequence runs past 2^64") }
                    single.producerSequence = sequence
                    WireHeader.stamp(producerSequence: single.producerSequence, into: &eventHeader)
                }
                index += 1
                try eventHeader.withUnsafeBytes { try admitEvent(topic: topic, headerBytes: $0, header: single, body: body) }
            }
        } catch let error as WireError {
            reject("batch", "Dropped the rest of a batch that cannot be read (its framing or numbering is broken)", error: error, producer: header.producer, body: body,
                   metadata: ["batch.admitted": "\(index)"])
        }
    }

    /// Checks one event and appends it to the log's pending batch, or counts, reports and
    /// dead-letters it.
    private mutating func admitEvent(topic: UnsafeRawBufferPointer, headerBytes: UnsafeRawBufferPointer, header: WireHeader,
                                     body: UnsafeRawBufferPointer) throws {
        // The body must be an event, on its own topic: the log holds nothing a consumer would reject.
        do {
            try WireMessage.validate(topic: topic, header: header, body: body)
        } catch {
            reject("body", "Dropped a message whose event does not decode", error: error, producer: header.producer, body: body,
                   metadata: ["producer.sequence": "\(header.producerSequence)"])
            // A numbered producer's sequence moves on past the rejected message, so its next
            // good message is not taken for a gap.
            if !header.producer.isEmpty, header.producerSequence > 0 {
                log.skip(producer: header.producer, producerSequence: header.producerSequence)
                if pair?.holding == true {
                    let last = log.lastSequence
                    pair!.window.skip(producer: header.producer, producerSequence: header.producerSequence, after: last)
                }
            }
            return
        }
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

    /// Counts a malformed message, logs it (at most once per five seconds per kind) and keeps it
    /// in the dead-letter file.
    private mutating func reject(_ kind: String, _ message: Logger.Message, error: any Error, producer: String,
                                 body: UnsafeRawBufferPointer, metadata: Logger.Metadata = [:]) {
        counters.malformedDropped += 1
        var metadata = metadata
        metadata["error"] = "\(error)"
        if !producer.isEmpty { metadata["producer.id"] = "\(producer)" }
        warnings.warning(kind, message, metadata: metadata)
        deadLetters.write(reason: "\(error)", sequence: 0, producer: producer, body: Array(body))
    }

    // MARK: - A log that cannot be written

    /// How long the broker waits before it reads producers' messages again after a failed write.
    static let logRetryInterval = Duration.seconds(1)

    /// A write of the log failed (a full disk, an I/O error): the broker stops reading producers'
    /// messages for a while and tries again then; it logs the first failure of a run of them and
    /// the recovery, and keeps serving consumers and replays meanwhile.
    mutating func pauseLog(_ error: StorageError) {
        counters.logWriteFailures += 1
        logPausedUntil = .now + BrokerState.logRetryInterval
        if !logWritesFailing {
            logWritesFailing = true
            logger.error("The event log cannot be written: producers wait until it can; consumers and replays go on", metadata: [
                "log.path": "\(log.path)", "error": "\(error)", "log.lastSequence": "\(log.lastSequence)",
            ])
        }
    }

    /// A write succeeded after failures.
    mutating func noteLogWritten() {
        guard logWritesFailing else { return }
        logWritesFailing = false
        logger.notice("The event log can be written again: taking producers' messages", metadata: [
            "log.lastSequence": "\(log.lastSequence)", "log.writeFailures": "\(counters.logWriteFailures)",
        ])
    }

    // MARK: - Answering control requests

    /// The answer to one request on the replay endpoint.
    mutating func answer(_ command: BrokerCommand) -> BrokerAnswer {
        switch command {
        case .head:
            return .head(last: visibleLastSequence)
        case .consumed(let consumer, let sequence):
            noteConsumed(consumer, through: min(sequence, visibleLastSequence))
            return .head(last: visibleLastSequence)
        case .stats:
            return .stats(json: JSONCoding.encode(statistics))
        case .position(let producer):
            return .position(producerSequence: acknowledgedPosition(of: producer), last: visibleLastSequence)
        case .replay(let asked):
            counters.replayRequests += 1
            do {
                let query = try startingAtTime(asked)
                if let trimmed = trimmedAnswer(after: query.after) { return trimmed }
                let (frames, collected, scanned) = try replayFrames(query)
                counters.recordsReplayed += UInt64(collected)
                return .batch(last: visibleLastSequence, scannedThrough: scanned, frames: frames)
            } catch {
                logger.error("Could not read the event log for a replay", metadata: ["error": "\(error)"])
                return .error("the broker could not read its log")
            }
        case .chunk(let query):
            counters.replayRequests += 1
            let (answer, records) = chunk(query)
            counters.recordsReplayed += UInt64(records)
            return answer
        case .follow(let query, _):
            // Answered at once, as a CHUNK: the broker's loop holds those that wait (`follow(_:…)`).
            counters.followRequests += 1
            return followChunk(query).answer
        }
    }

    /// The answer to a `CHUNK` (or a `FOLLOW` that does not wait), and how many records it holds.
    mutating func chunk(_ asked: ReplayQuery) -> (BrokerAnswer, records: Int) {
        do {
            let query = try startingAtTime(asked)
            let visible = visibleLastSequence
            guard query.after < visible else { return (.chunk(last: visible, scannedThrough: query.after, records: []), 0) }
            if let trimmed = trimmedAnswer(after: query.after) { return (trimmed, 0) }
            let chunk = try log.readChunk(after: query.after, maxCount: min(Int(query.maxCount), settings.maxChunkRecords), prefixes: query.prefixes,
                                          maxScanned: Int(min(visible - query.after, 100_000)))
            return (.chunk(last: visible, scannedThrough: chunk.scannedThrough, records: chunk.bytes), chunk.count)
        } catch {
            logger.error("Could not read the event log for a replay", metadata: ["error": "\(error)"])
            return (.error("the broker could not read its log"), 0)
        }
    }

    /// `TRIMMED` when a reader asks for records after `after` and retention deleted some of them:
    /// it must not take the records that are left for all there were.
    private func trimmedAnswer(after: UInt64) -> BrokerAnswer? {
        let first = log.firstSequence
        guard after < visibleLastSequence, after < first - 1 else { return nil }
        return .trimmed(first: first, last: visibleLastSequence)
    }

    /// The records of a `REPLAY`, as topic, header and body frames, how many, and the last
    /// sequence looked at. A filtered reader may skip many records: it scans on until the batch
    /// fills or the log ends.
    private func replayFrames(_ query: ReplayQuery) throws -> (frames: [[UInt8]], count: Int, scannedThrough: UInt64) {
        let limit = min(Int(query.maxCount), settings.maxReplayBatch)
        var frames: [[UInt8]] = []
        var scanned = query.after
        var collected = 0
        let visible = visibleLastSequence
        while collected < limit, scanned < visible {
            let records = try log.read(after: scanned, maxCount: limit)
            if records.isEmpty { break }
            for record in records where record.sequence <= visible {
                scanned = record.sequence
                if query.prefixes.isEmpty || query.prefixes.contains(where: { record.topic.starts(with: $0) }) {
                    frames += record.frames
                    collected += 1
                    if collected == limit { break }
                }
            }
            if query.prefixes.isEmpty { break }
        }
        return (frames, collected, scanned)
    }

    /// A query whose start time is turned into a sequence: it starts after the last record received
    /// before that time, when that lies past `after`. Never past the last sequence clients may see:
    /// a broker of a pair can lose a record the other has not copied, and its sequence go to another.
    private func startingAtTime(_ query: ReplayQuery) throws(StorageError) -> ReplayQuery {
        guard let since = query.since else { return query }
        var query = query
        query.after = max(query.after, min(try log.lastSequence(receivedBefore: since), visibleLastSequence))
        query.since = nil
        return query
    }
}
