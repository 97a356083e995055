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
        bytes.reserveCapacity(min(maxBytes, Int(fileSize)) + 64 << 10)
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

    /// Calls `visit` with each record after sequence `after` (the whole record, prefix included,
    /// valid during the call; nil for a record that fails its checksum) until it returns false,
    /// the log ends, or about `maxBytes` were read.
    private func walk(after: UInt64, maxBytes: Int, _ visit: (UInt64, UnsafeRawBufferPointer?) -> Bool) throws(StorageError) {
        try flush()
        guard after < lastSequence else { return }
        var (sequence, offset) = index.start(after: after)
        if let cursor = readCursors[after + 1] { (sequence, offset) = (after + 1, cursor) }
        var window = LogFileWindow(fd, file: file, end: fileSize, capacity: 256 << 10)
        var bytes = 0
        while sequence <= lastSequence, bytes < maxBytes {
            let record: UnsafeRawBufferPointer
            switch try window.loadRecord(at: offset) {
            case .success(let whole):
                record = whole
            case .failure(let error):
                throw StorageError(path: path, operation: "read (\(error.problem))", code: .ioError)
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
                    "log.path": "\(path)", "log.sequence": "\(current)", "log.offset": "\(offset - Int64(record.count))",
                ])
                if !visit(current, nil) { break }
                continue
            }
            bytes += record.count
            if !visit(current, record) { break }
        }
        if readCursors.count > 64 { readCursors.removeAll(keepingCapacity: true) }
        readCursors[sequence] = offset
    }
}
