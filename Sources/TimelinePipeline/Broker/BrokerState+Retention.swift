import Logging
import Timeline

extension BrokerState {
    /// How often the broker looks for segments to delete.
    static let retentionInterval = Duration.seconds(1)
    /// How long a broker of a pair that has not heard its peer since it started waits before its
    /// retention deletes anything (without knowing what the peer has copied).
    static let peerGrace = Duration.seconds(60)

    /// The first sequence the slowest durable consumer named in `broker.retention.consumers`
    /// still needs, with `keepUnread` on (a consumer never heard from needs everything).
    var consumersKeepFrom: UInt64? {
        let retention = settings.retention
        guard retention.keepUnread, !retention.consumers.isEmpty else { return nil }
        return retention.consumers.map { consumerPositions[$0] ?? 0 }.min()! + 1
    }

    /// Saves the consumers' reported positions when they changed, and deletes the log's old
    /// segments when retention says so, at most once a `retentionInterval`.
    ///
    /// A broker of a pair deletes nothing before it has heard its peer (for `peerGrace` at most),
    /// never what a peer it hears has not copied yet, and, when passive, nothing the active
    /// broker's durable consumers still need. A peer silent for longer than the peer timeout is
    /// not waited for: it copies on from the active broker's oldest record when it comes back, or
    /// stops saying it cannot.
    mutating func applyRetention(now: ContinuousClock.Instant) {
        let retention = settings.retention
        guard now >= nextRetention else { return }
        nextRetention = now + BrokerState.retentionInterval
        saveConsumerPositions()
        guard retention.deletes else { return }
        var keepFrom: UInt64?
        if let pair {
            // What the peer has not copied stays; until it is heard from, for a while, everything.
            guard let peer = pair.star.peer else {
                if now - startedAt < BrokerState.peerGrace { return }
                return applyRetention(keepFrom: consumersKeepFrom, holder: nil)
            }
            if !pair.star.isPeerSilent(now: now) { keepFrom = peer.lastSequence + 1 }
            if pair.star.state != .active {
                // Its consumers report to the active broker, which says what they still need.
                if retention.keepUnread { keepFrom = min(keepFrom ?? .max, peer.keepFrom ?? 1) }
                return applyRetention(keepFrom: keepFrom, holder: nil)
            }
        }
        if let consumers = consumersKeepFrom { keepFrom = min(keepFrom ?? .max, consumers) }
        applyRetention(keepFrom: keepFrom, holder: consumersKeepFrom)
    }

    /// Deletes what retention allows, never from `keepFrom` on; `holder` is the consumers' floor,
    /// for saying which consumer holds retention back.
    private mutating func applyRetention(keepFrom: UInt64?, holder: UInt64?) {
        let retention = settings.retention
        if let holder, let slowest = retention.consumers.first(where: { (consumerPositions[$0] ?? 0) + 1 == holder }) {
            noteRetentionHeld(by: slowest, at: holder - 1)
        }
        let deleted = log.deleteOldSegments(maxBytes: retention.bytes, maxAge: retention.seconds.map { Int64($0 * 1_000) },
                                            now: EventLog.systemMilliseconds(), keepFrom: keepFrom)
        for segment in deleted {
            counters.segmentsDeleted += 1
            logger.info("Deleted a segment of the event log (retention)", metadata: [
                "log.segmentFirst": "\(segment.first)", "log.segmentLast": "\(segment.last)", "log.segmentBytes": "\(segment.bytes)",
                "reason": "\(segment.reason)", "log.firstSequence": "\(log.firstSequence)",
            ])
        }
    }
}

extension BrokerState {
    static let consumersFileName = "consumers.json"

    /// A durable consumer's report: it passed `sequence` for good.
    mutating func noteConsumed(_ consumer: String, through sequence: UInt64) {
        // Every name is shown (STATS, metrics) while it is heard, up to a bound (any client may
        // send one): the name heard longest ago makes room for a new one.
        if consumer.utf8.count <= 100 {
            if reportedPositions[consumer] == nil, reportedPositions.count >= 64,
               let stalest = reportedPositions.min(by: { $0.value.heard < $1.value.heard })?.key {
                reportedPositions.removeValue(forKey: stalest)
            }
            reportedPositions[consumer] = (sequence, .now)
        }
        // Only the consumers retention waits for are kept on disk.
        guard settings.retention.consumers.contains(consumer), consumerPositions[consumer] != sequence else { return }
        consumerPositions[consumer] = sequence
        consumerPositionsDirty = true
    }

    /// Logs when the consumer that keeps old segments from retention changes (or first does).
    private mutating func noteRetentionHeld(by consumer: String, at sequence: UInt64) {
        guard log.closed.first.map({ $0.last > sequence }) == true else { return }
        guard retentionHeldBy != consumer else { return }
        retentionHeldBy = consumer
        logger.notice("Retention keeps the records a durable consumer has not passed (broker.retention.keepUnread)", metadata: [
            "consumer.name": "\(consumer)", "consumer.sequence": "\(sequence)", "log.firstSequence": "\(log.firstSequence)",
        ])
    }

    /// Writes `consumers.json` when a position changed since it was last written.
    mutating func saveConsumerPositions() {
        guard consumerPositionsDirty else { return }
        do {
            try AtomicFile.write(JSONCoding.encode(consumerPositions), to: settings.dataDirectory + "/" + BrokerState.consumersFileName)
            consumerPositionsDirty = false
        } catch {
            warnings.warning("consumers", "Could not save the consumers' positions; they are kept in memory and saved again later", metadata: [
                "error": "\(error)",
            ])
        }
    }

    static func loadConsumerPositions(folder: String, logger: Logger) -> [String: UInt64] {
        let path = folder + "/" + consumersFileName
        guard let bytes = try? AtomicFile.read(path) else { return [:] }
        guard let positions = try? JSONCoding.decode([String: UInt64].self, from: bytes) else {
            logger.warning("The consumers' positions file cannot be read; retention waits until each consumer reports again", metadata: ["file.path": "\(path)"])
            return [:]
        }
        return positions
    }
}
