import Logging
import SystemPackage
import Timeline

/// A chunk of records from the active broker that cannot be appended as it is: the passive
/// broker's log stays as it was and the replication session starts again.
public struct ReplicationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

extension EventLog {
    /// Appends records copied from the active broker's log (this log's framing, back to back) as
    /// they are: the same sequences, the same bytes. Every record's checksum is verified and its
    /// sequence must follow this log's last; on the first that fails, nothing of the chunk is kept.
    /// Returns how many records were appended; they reach the file at the next `flush()`.
    @discardableResult
    public func appendReplicated(_ records: UnsafeRawBufferPointer) throws -> Int {
        precondition(pendingBytes == 0, "replicated records go into a log with nothing else pending")
        var staged = index
        var offset = fileSize
        var producers = ProducerIDCache()
        var count = 0
        var problem: String?
        // A run of one producer's records moves its position once, at the run's end.
        var producer = "", producerSequence: UInt64 = 0
        do {
            try LogRecordFormat.forEachWholeRecord(in: records) { record in
                let (fields, sequence) = try LogRecordFormat.verifiedFields(ofRecord: record)
                guard sequence == staged.lastSequence + 1 else {
                    problem = "record \(count + 1) of the chunk has sequence \(sequence), but this log's next is \(staged.lastSequence + 1)"
                    return false
                }
                staged.add(sequence: sequence, offset: offset)
                if let header = try? WireHeader.decode(fields.header, cache: &producers), !header.producer.isEmpty {
                    if header.producer != producer {
                        staged.advance(producer: producer, to: producerSequence)
                        producer = header.producer
                        producerSequence = 0
                    }
                    producerSequence = max(producerSequence, header.producerSequence)
                }
                offset += Int64(record.count)
                count += 1
                return true
            }
        } catch let error as LogRecordError {
            problem = "record \(count + 1) of the chunk is damaged: \(error)"
        }
        staged.advance(producer: producer, to: producerSequence)
        if let problem { throw ReplicationError(message: problem) }
        appendPending(records, index: staged)
        return count
    }

    /// The CRC-32C in the prefix of the record with `sequence`, or nil when the log has no such
    /// record (sequence 0 included, and records retention deleted). The two brokers compare it to
    /// check that their logs agree up to that record.
    public func checksum(ofRecord sequence: UInt64) throws(StorageError) -> UInt32? {
        try flush()
        guard sequence >= firstSequence, sequence > 0, sequence <= lastSequence else { return nil }
        let span = try span(holding: sequence)
        guard let offset = try offset(ofRecord: sequence, in: span) else { return nil }
        var window = LogFileWindow(span.file.fd, file: span.file.path, end: span.end, capacity: 64 << 10)
        switch try window.loadRecord(at: offset) {
        case .success(let record): return ByteReader.integer(record, at: 4, as: UInt32.self)
        case .failure: return nil
        }
    }

    /// Cuts every record after `sequence`, writes the cut records (whole, in this log's framing)
    /// to `asideFile` first and syncs it, then removes the segments after the one the cut falls
    /// in, truncates that one, syncs, and reads the log again. Returns how many records were cut.
    /// Nothing is cut without first being kept aside.
    public func cut(after sequence: UInt64, asideFile: String) throws(StorageError) -> UInt64 {
        try flush()
        guard sequence < lastSequence else { return 0 }
        guard sequence >= firstSequence - 1 else {
            throw StorageError(path: path, operation: "cut after sequence \(sequence) (retention deleted the records before \(firstSequence); "
                                   + "a log cannot be cut back before what it holds)", code: .invalidArgument)
        }
        let from = sequence + 1
        let cutCount = lastSequence - sequence
        let target = try span(holding: from)
        guard let start = try offset(ofRecord: from, in: target) else {
            throw StorageError(path: target.file.path.string, operation: "cut after sequence \(sequence) (record \(from) cannot be read)", code: .ioError)
        }
        // Every cut byte, from the target segment on, goes aside before anything is removed.
        var bytes: [UInt8] = []
        var spans = [target]
        while spans[spans.count - 1].last < lastSequence { spans.append(try span(holding: spans[spans.count - 1].last + 1)) }
        for (position, span) in spans.enumerated() {
            let from = position == 0 ? start : 0
            var part = [UInt8](repeating: 0, count: Int(span.end - from))
            let read = try fileCall("read", span.file.path) {
                try part.withUnsafeMutableBytes { try span.file.fd.readFully(fromAbsoluteOffset: from, into: $0) }
            }
            bytes += part[..<read]
        }
        try AtomicFile.write(bytes, to: asideFile)
        // Newest first, so that a crash midway leaves a log whose last segment is where the cut stopped.
        for span in spans.dropFirst().reversed() {
            LogSegmentFiles.remove(span.first, in: folder)
        }
        // The removals reach the disk before the truncation: never a cut segment with later ones back.
        try AtomicFile.syncFolder(of: target.file.path.string)
        try fileCall("ftruncate", target.file.path) { try target.file.fd.resize(to: start) }
        try fileCall("fsync", target.file.path) { try target.file.fd.sync() }
        // The target is the last segment now, to be read again; an index of it written at a
        // close would not hold together any more.
        SegmentName.file(target.first, SegmentName.index, in: folder).removeFile()
        try AtomicFile.syncFolder(of: target.file.path.string)
        try reload()
        logger.warning("Cut records from the event log and kept them aside", metadata: [
            "log.path": "\(path)", "log.cutAfter": "\(sequence)", "log.recordsCut": "\(cutCount)", "log.asideFile": "\(asideFile)",
        ])
        return cutCount
    }

    /// Where the record with `sequence` starts in the segment `span`.
    private func offset(ofRecord sequence: UInt64, in span: SegmentSpan) throws(StorageError) -> Int64? {
        guard var (current, offset) = span.offsets.start(at: sequence) else { return nil }
        var window = LogFileWindow(span.file.fd, file: span.file.path, end: span.end, capacity: 256 << 10)
        while current < sequence {
            switch try window.loadRecord(at: offset) {
            case .success(let record): offset += Int64(record.count)
            case .failure: return nil
            }
            current += 1
        }
        return offset
    }
}
