import Logging
import SystemPackage

extension EventLog {
    /// Up to `maxCount` records after sequence `after`, at most about `maxBytes` of them.
    public func read(after: UInt64, maxCount: Int, maxBytes: Int = 4 << 20) throws(StorageError) -> [LogRecord] {
        var records: [LogRecord] = []
        var failure: StorageError?
        try walk(after: after, maxBytes: maxBytes) { _, record in
            guard let record else { return true }
            do throws(LogRecordError) {
                records.append(try LogRecord(payload: LogRecordFormat.payload(ofRecord: record)))
            } catch {
                failure = StorageError(path: path, operation: "read (\(error.problem))", code: .ioError)
                return false
            }
            return records.count < maxCount
        }
        if let failure { throw failure }
        return records
    }

    /// The records after sequence `after`, as they lie in the file (this log's framing, checksums
    /// included), for a replay that hands them on whole. Takes up to `maxCount` records whose topic
    /// starts with one of `prefixes` (every record when there are none), about `maxBytes` at most,
    /// and scans at most `maxScanned` records. Returns the bytes, how many records they hold, and
    /// the last sequence scanned: the reader's new position even when the filter took nothing.
    public func readChunk(after: UInt64, maxCount: Int, prefixes: [[UInt8]] = [], maxBytes: Int = 1 << 20,
                          maxScanned: Int = 100_000) throws(StorageError) -> (bytes: [UInt8], count: Int, scannedThrough: UInt64) {
        var bytes: [UInt8] = []
        // One allocation for the whole reply (it stops at the first record that reaches maxBytes).
        bytes.reserveCapacity(min(maxBytes, Int(min(recordBytes, Int64(Int.max / 2)))) + 64 << 10)
        var count = 0
        var scanned = after
        var scannedCount = 0
        try walk(after: after, maxBytes: maxBytes) { sequence, record in
            scanned = sequence
            scannedCount += 1
            guard let record else { return scannedCount < maxScanned }
            if prefixes.isEmpty || prefixes.contains(where: { LogRecordFormat.topic(ofRecord: record).starts(with: $0) }) {
                bytes.append(contentsOf: record)
                count += 1
            }
            return count < maxCount && bytes.count < maxBytes && scannedCount < maxScanned
        }
        return (bytes, count, scanned)
    }

    /// A segment as reads see it: its file, how far it goes, and where a read of one of its records starts.
    struct SegmentSpan {
        var first: UInt64
        var last: UInt64
        var file: OpenFile
        var end: Int64
        var offsets: SegmentOffsets
    }

    /// The segment holding `sequence` (which the log holds), its file opened and its index read
    /// when it is a closed segment not read lately.
    func span(holding sequence: UInt64) throws(StorageError) -> SegmentSpan {
        if sequence >= index.offsets.first {
            return SegmentSpan(first: index.offsets.first, last: index.lastSequence, file: activeFile, end: fileSize, offsets: index.offsets)
        }
        var low = 0, high = closed.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if closed[middle].first <= sequence { low = middle } else { high = middle - 1 }
        }
        return try openClosed(low)
    }

    /// Opens the closed segment at `slot` for reading: its file and its sparse index (read from its
    /// index file, or rebuilt from its records when that is missing or does not hold together).
    func openClosed(_ slot: Int) throws(StorageError) -> SegmentSpan {
        readClock += 1
        var segment = closed[slot]
        if segment.file == nil {
            segment.file = try OpenFile.open(SegmentName.file(segment.first, SegmentName.records, in: folder))
        }
        if segment.offsets == nil {
            let indexPath = SegmentName.file(segment.first, SegmentName.index, in: folder)
            if let bytes = try AtomicFile.read(indexPath.string),
               let offsets = LogSegmentFiles.decodeOffsets(bytes, first: segment.first, size: segment.size),
               offsets.offsets.count == SegmentOffsets.entryCount(first: segment.first, last: segment.last) {
                segment.offsets = offsets
            } else {
                logger.warning("Rebuilding the index of a segment of the event log from its records", metadata: ["log.path": "\(indexPath)"])
                var scanned = LogIndex(segmentFirst: segment.first, positions: [:])
                _ = try EventLog.scan(segment.file!, end: segment.size, into: &scanned, cutTail: false, logger: logger)
                // A damaged record stops the scan: the index would cover only the records before
                // it, and reads past them would be misnumbered. Only a whole segment is served.
                guard scanned.lastSequence == segment.last else {
                    closed[slot] = segment
                    throw StorageError(path: SegmentName.file(segment.first, SegmentName.records, in: folder).string,
                                       operation: "read (the segment should hold records \(segment.first)-\(segment.last) but holds whole ones "
                                           + "only through \(scanned.lastSequence); its index is missing or damaged)", code: .ioError)
                }
                segment.offsets = scanned.offsets
                try? AtomicFile.write(LogSegmentFiles.encode(scanned.offsets), to: indexPath.string)
            }
        }
        segment.lastRead = readClock
        closed[slot] = segment
        closeIdleSegments()
        return SegmentSpan(first: segment.first, last: segment.last, file: segment.file!, end: segment.size, offsets: segment.offsets!)
    }

    /// Closes the files of the closed segments read least lately, beyond `openSegmentLimit`.
    func closeIdleSegments() {
        let open = closed.indices.filter { closed[$0].file != nil }
        guard open.count > EventLog.openSegmentLimit else { return }
        for slot in open.sorted(by: { closed[$0].lastRead < closed[$1].lastRead }).prefix(open.count - EventLog.openSegmentLimit) {
            closed[slot].file = nil
        }
    }

    /// Calls `visit` with each record after sequence `after` (the whole record, prefix included,
    /// valid during the call; nil for a record that fails its checksum) until it returns false,
    /// the log ends, or about `maxBytes` were read. Reads begin at the oldest record the log
    /// still holds.
    private func walk(after: UInt64, maxBytes: Int, _ visit: (UInt64, UnsafeRawBufferPointer?) -> Bool) throws(StorageError) {
        try flush()
        guard after < lastSequence else { return }
        var sequence = max(after + 1, firstSequence)
        var span = try span(holding: sequence)
        var offset: Int64
        if let cursor = readCursors[sequence], cursor.segment == span.first {
            offset = cursor.offset
        } else if let start = span.offsets.start(at: sequence) {
            (sequence, offset) = start
        } else {
            throw StorageError(path: span.file.path.string, operation: "read (the segment holds no readable record)", code: .ioError)
        }
        var window = LogFileWindow(span.file.fd, file: span.file.path, end: span.end, capacity: 256 << 10)
        var bytes = 0
        while sequence <= lastSequence, bytes < maxBytes {
            if sequence > span.last {
                span = try self.span(holding: sequence)
                guard span.offsets.start(at: sequence) != nil else {
                    throw StorageError(path: span.file.path.string, operation: "read (the segment holds no readable record)", code: .ioError)
                }
                offset = 0
                window = LogFileWindow(span.file.fd, file: span.file.path, end: span.end, capacity: 256 << 10)
            }
            let record: UnsafeRawBufferPointer
            switch try window.loadRecord(at: offset) {
            case .success(let whole):
                record = whole
            case .failure(let error):
                throw StorageError(path: span.file.path.string, operation: "read (\(error.problem) at offset \(offset))", code: .ioError)
            }
            let current = sequence
            offset += Int64(record.count)
            sequence += 1
            guard current > after else { continue }
            // The disk may have changed under the log since it was opened: check what is sent.
            guard LogRecordFormat.isIntact(record) else {
                // Serving it would hand out damaged data, and refusing the whole read would stop
                // every consumer at this point for good: skip it, loudly. The framing (its length)
                // still leads to the next record, whose own checksum vouches for it.
                damagedRecordsSkipped += 1
                logger.error("A record of the event log fails its checksum; it is skipped, not served", metadata: [
                    "log.path": "\(span.file.path)", "log.sequence": "\(current)", "log.offset": "\(offset - Int64(record.count))",
                ])
                if !visit(current, nil) { break }
                continue
            }
            // A segment whose records are not the ones its name says would number them wrongly.
            if let stamped = try? LogRecordFormat.fields(ofPayload: LogRecordFormat.payload(ofRecord: record)).sequence, stamped != current {
                throw StorageError(path: span.file.path.string, operation: "read (the record at offset \(offset - Int64(record.count)) "
                                       + "has sequence \(stamped) where \(current) belongs)", code: .ioError)
            }
            bytes += record.count
            if !visit(current, record) { break }
        }
        if readCursors.count > 64 { readCursors.removeAll(keepingCapacity: true) }
        if sequence <= span.last { readCursors[sequence] = (span.first, offset) }
    }
}
