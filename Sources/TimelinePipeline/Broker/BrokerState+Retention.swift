import Logging
import Timeline

extension BrokerState {
    /// How often the broker looks for segments to delete.
    static let retentionInterval = Duration.seconds(1)

    /// Deletes the log's old segments when retention says so, at most once a `retentionInterval`.
    /// A broker of a pair never deletes what its peer has not copied yet (when it has heard how far
    /// the peer got).
    mutating func applyRetention(now: ContinuousClock.Instant) {
        let retention = settings.retention
        guard retention.deletes, now >= nextRetention else { return }
        nextRetention = now + BrokerState.retentionInterval
        var keepFrom: UInt64?
        if let peer = pair?.star.peer { keepFrom = peer.lastSequence + 1 }
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
