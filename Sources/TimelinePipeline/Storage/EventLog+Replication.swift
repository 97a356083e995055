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
    /// record (sequence 0 included). The two brokers compare it to check that their logs agree up
    /// to that record.
    public func checksum(ofRecord sequence: UInt64) throws(StorageError) -> UInt32? {
        guard sequence > 0, sequence <= lastSequence else { return nil }
        guard let offset = try offset(ofRecord: sequence) else { return nil }
        var window = LogFileWindow(fd, file: file, end: fileSize, capacity: 64 << 10)
        switch try window.loadRecord(at: offset) {
        case .success(let record): return ByteReader.integer(record, at: 4, as: UInt32.self)
        case .failure: return nil
        }
    }

    /// Cuts every record after `sequence`, writes the cut records (whole, in this log's framing)
    /// to `asideFile` first and syncs it, then truncates and syncs the log and reads it again.
    /// Returns how many records were cut. Nothing is cut without first being kept aside.
    public func cut(after sequence: UInt64, asideFile: String) throws(StorageError) -> UInt64 {
        try flush()
        guard sequence < lastSequence else { return 0 }
        guard let start = try offset(ofRecord: sequence + 1) else { return 0 }
        let cutCount = lastSequence - sequence
        var bytes = [UInt8](repeating: 0, count: Int(fileSize - start))
        let read = try fileCall("read", file) {
            try bytes.withUnsafeMutableBytes { try fd.readFully(fromAbsoluteOffset: start, into: $0) }
        }
        bytes.removeSubrange(read...)
        try AtomicFile.write(bytes, to: asideFile)
        try fileCall("ftruncate", file) { try fd.resize(to: start) }
        try fileCall("fsync", file) { try fd.sync() }
        readCursors.removeAll()
        try reopenAfterCut()
        logger.warning("Cut records from the event log and kept them aside", metadata: [
            "log.path": "\(path)", "log.cutAfter": "\(sequence)", "log.recordsCut": "\(cutCount)", "log.asideFile": "\(asideFile)",
        ])
        return cutCount
    }

    /// Where the record with `sequence` starts in the file.
    private func offset(ofRecord sequence: UInt64) throws(StorageError) -> Int64? {
        var (current, offset) = index.start(after: sequence - 1)
        var window = LogFileWindow(fd, file: file, end: fileSize, capacity: 256 << 10)
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
