import SystemPackage

extension EventLog {
    /// The last sequence whose record the broker received before `milliseconds` (Unix time, ms):
    /// a replay from that time reads the records after it. The log's last sequence when every
    /// record came before then; the sequence before the oldest record the log still holds when
    /// every one came at or after it. Records logged before the log kept receive times (a log
    /// from before segments) count as received before any time.
    ///
    /// A record's receive time is that of the batch it was written in (`TimeMark`), to the
    /// millisecond. The segments are searched from the newest back, so a time far in the past
    /// reads the (small) times file of every segment once.
    public func lastSequence(receivedBefore milliseconds: Int64) throws(StorageError) -> UInt64 {
        try flush()
        var answer = lastSequence
        for slot in stride(from: closed.count, through: 0, by: -1) {
            let marks = slot == closed.count ? times : try receiveTimes(ofClosed: slot)
            // An empty active segment has no marks; records logged before the log kept times
            // have none either, and count as received before any time asked for.
            if marks.isEmpty, slot == closed.count, fileSize == 0 { continue }
            guard let at = marks.firstIndex(where: { $0.milliseconds >= milliseconds }) else { return answer }
            answer = marks[at].sequence - 1
            if at > 0 { return answer }
        }
        // Every mark is at or after the time; records before the oldest mark have none.
        return answer
    }

    /// The receive time of the newest record of the closed segment at `slot` (nil when none was
    /// marked: a segment from before the log kept times).
    func newestReceiveTime(ofClosed slot: Int) throws(StorageError) -> Int64? {
        try receiveTimes(ofClosed: slot).last?.milliseconds
    }

    /// The time marks of the closed segment at `slot`, read from its times file the first time.
    func receiveTimes(ofClosed slot: Int) throws(StorageError) -> [TimeMark] {
        if let times = closed[slot].times { return times }
        let segment = closed[slot]
        let path = SegmentName.file(segment.first, SegmentName.times, in: folder)
        let marks = LogSegmentFiles.decodeTimes(try AtomicFile.read(path.string) ?? [], first: segment.first, last: segment.last).marks
        closed[slot].times = marks
        return marks
    }
}
