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
            // An empty active segment has no marks; records logged before the log kept receive
            // times have none either, and count as received before any time asked for.
            if marks.isEmpty, slot == closed.count, fileSize == 0 { continue }
            // Marks never go back in time: the first at or after the time, by bisection.
            var low = 0, high = marks.count
            while low < high {
                let middle = (low + high) / 2
                if marks[middle].milliseconds >= milliseconds { high = middle } else { low = middle + 1 }
            }
            guard low < marks.count else { return answer }
            answer = marks[low].sequence - 1
            if low > 0 { return answer }
        }
        // Every mark is at or after the time; records before the oldest mark have none.
        return answer
    }

    /// The receive time of the newest record of the closed segment at `slot` (nil when none was
    /// marked: a segment from before the log kept times). Read once from its times file.
    func newestReceiveTime(ofClosed slot: Int) throws(StorageError) -> Int64? {
        if let known = closed[slot].newestTime { return known }
        let newest = try receiveTimes(ofClosed: slot).last?.milliseconds
        closed[slot].newestTime = .some(newest)
        return newest
    }

    /// The time marks of the closed segment at `slot`, read from its times file (not kept: a lookup
    /// by time is rare, and the marks of every segment would grow with the log).
    func receiveTimes(ofClosed slot: Int) throws(StorageError) -> [TimeMark] {
        let segment = closed[slot]
        let path = SegmentName.file(segment.first, SegmentName.times, in: folder)
        return LogSegmentFiles.decodeTimes(try AtomicFile.read(path.string) ?? [], first: segment.first, last: segment.last).marks
    }
}
