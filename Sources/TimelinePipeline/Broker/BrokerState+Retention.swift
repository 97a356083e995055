import Logging
import Timeline

extension BrokerState {
    /// How often the broker looks for segments to delete.
    static let retentionInterval = Duration.seconds(1)

    /// Saves the consumers' reported positions when they changed, and deletes the log's old
    /// segments when retention says so, at most once a `retentionInterval`.
    /// A broker of a pair never deletes what its peer has not copied yet (when it has heard how far
    /// the peer got).
    mutating func applyRetention(now: ContinuousClock.Instant) {
        let retention = settings.retention
        guard now >= nextRetention else { return }
        nextRetention = now + BrokerState.retentionInterval
        saveConsumerPositions()
        guard retention.deletes else { return }
        var keepFrom: UInt64?
        if let peer = pair?.star.peer { keepFrom = peer.lastSequence + 1 }
        if retention.keepUnread {
            // The slowest named consumer; one never heard from holds everything.
            let slowest = retention.consumers.map { ($0, consumerPositions[$0] ?? 0) }.min { $0.1 < $1.1 }!
            keepFrom = min(keepFrom ?? .max, slowest.1 + 1)
            noteRetentionHeld(by: slowest.0, at: slowest.1)
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
        guard consumerPositions[consumer] != sequence else { return }
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
