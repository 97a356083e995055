import Logging
import SystemPackage
import Timeline

extension EventLog {
    /// Reads the whole file, rebuilding the index and producer positions, and cuts it at the first
    /// record that is incomplete, fails its checksum, or breaks the sequence. Returns the index and
    /// the length of the file kept.
    static func recover(_ fd: FileDescriptor, file: FilePath, logger: Logger) throws(StorageError) -> (LogIndex, Int64) {
        let end = try fileCall("lseek", file) { try fd.seek(offset: 0, from: .end) }
        var window = LogFileWindow(fd, file: file, end: end, capacity: 1 << 20)
        var index = LogIndex()
        var producers = ProducerIDCache()
        var offset: Int64 = 0
        var problem: String?
        while offset < end {
            let loaded = try window.loadRecord(at: offset)
            let record: UnsafeRawBufferPointer, fields: LogRecordFormat.Fields, sequence: UInt64
            do throws(LogRecordError) {
                record = try loaded.get()
                (fields, sequence) = try LogRecordFormat.verifiedFields(ofRecord: record)
            } catch {
                problem = "\(error.problem)"
                break
            }
            guard sequence == index.lastSequence + 1 else {
                problem = "sequence \(sequence) after \(index.lastSequence)"
                break
            }
            index.add(sequence: sequence, offset: offset)
            if let header = try? WireHeader.decode(fields.header, cache: &producers) {
                index.advance(producer: header.producer, to: header.producerSequence)
            }
            offset += Int64(record.count)
        }
        if let problem {
            logger.warning("Cut the torn tail of the event log", metadata: [
                "log.path": "\(file)", "log.offset": "\(offset)", "log.bytesCut": "\(end - offset)", "reason": "\(problem)",
            ])
            try fileCall("ftruncate", file) { try fd.resize(to: offset) }
            try fileCall("fsync", file) { try fd.sync() }
        }
        return (index, offset)
    }
}
