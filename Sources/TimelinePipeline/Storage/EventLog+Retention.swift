import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension EventLog {
    /// A segment deleted by retention: the records it held, its bytes, and why it went.
    public struct DeletedSegment: Equatable, Sendable {
        public var first: UInt64
        public var last: UInt64
        public var bytes: Int64
        public var reason: String
    }

    /// Deletes whole closed segments, oldest first, while the log's records take more than
    /// `maxBytes` or the oldest segment's newest record was received more than `maxAge`
    /// milliseconds before `now`; never the segment being appended to, and never one that holds
    /// `keepFrom` or a later sequence. Returns what it deleted.
    public func deleteOldSegments(maxBytes: Int64?, maxAge: Int64?, now: Int64, keepFrom: UInt64? = nil) -> [DeletedSegment] {
        var deleted: [DeletedSegment] = []
        var total = recordBytes
        while let oldest = closed.first {
            if let keepFrom, oldest.last >= keepFrom { break }
            var reason: String?
            if let maxBytes, total > maxBytes {
                reason = "the log's \(total) bytes are over broker.retention.bytes (\(maxBytes))"
            } else if let maxAge, let newest = newestTime(ofOldest: oldest) {
                let (age, overflow) = now.subtractingReportingOverflow(newest)
                if !overflow, age > maxAge {
                    reason = "its newest record was received \(age / 1_000) s ago, over broker.retention.seconds (\(maxAge / 1_000))"
                }
            }
            guard let reason else { break }
            LogSegmentFiles.remove(oldest.first, in: folder)
            closed.removeFirst()
            closedBytes -= oldest.size
            total -= oldest.size
            deleted.append(DeletedSegment(first: oldest.first, last: oldest.last, bytes: oldest.size, reason: reason))
        }
        if !deleted.isEmpty { readCursors.removeAll() }
        return deleted
    }

    /// When the oldest closed segment's newest record was received: its last time mark, or for a
    /// segment without marks (from before the log kept them), its file's modification time.
    private func newestTime(ofOldest segment: ClosedSegment) -> Int64? {
        if let marked = try? newestReceiveTime(ofClosed: 0) { return marked }
        let file = SegmentName.file(segment.first, SegmentName.records, in: folder)
        guard let status = try? file.stat() else { return nil }
        return Int64(status.st_mtim.tv_sec) * 1_000 + Int64(status.st_mtim.tv_nsec) / 1_000_000
    }
}
