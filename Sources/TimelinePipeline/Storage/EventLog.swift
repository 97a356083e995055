import Logging
import SystemPackage
import Timeline

/// The broker's durable record of every message it accepted, in sequence order: the source of
/// replays for late joiners and for consumers that missed messages.
///
/// One file, `events.log`, of records in the framing of `LogRecordFormat`. Sequences are
/// consecutive from 1. On open, the file is checked record by record and a torn or corrupt tail (a
/// crash in the middle of a write) is cut off and logged, never replayed (`EventLog+Recovery`).
///
/// Appends collect in memory and reach the file at `flush()`, one write for the batch, before the
/// broker forwards them, so a process crash loses nothing that a consumer has seen. `sync()`
/// (fsync) runs on the broker's fsync interval, from a `LogSyncer`, and at shutdown; a power
/// failure can lose at most that interval (`LogDurability`). Reads for replays are in
/// `EventLog+Reading`.
public final class EventLog {
    public static let fileName = "events.log"
    /// Records above this size are refused (they would also be refused on the wire).
    public static let maximumRecordSize = LogRecordFormat.largestPayload

    public let path: String
    let file: FilePath
    let fd: FileDescriptor
    let logger: Logger
    private(set) var index: LogIndex
    /// How long the file is: every record written, none of those pending.
    public private(set) var fileSize: Int64
    private var pending: [UInt8] = []
    /// Bytes written and bytes known synced, shared with a `LogSyncer` on another thread.
    private let durability: Durability
    /// Where the record after each of the last few reads starts, so that a reader going on from
    /// where it stopped does not walk from the nearest indexed record again.
    var readCursors: [UInt64: Int64] = [:]
    /// Records found damaged (failing their checksum) while serving reads, and skipped.
    public internal(set) var damagedRecordsSkipped: UInt64 = 0

    public var lastSequence: UInt64 { index.lastSequence }
    /// The highest producer sequence logged for each producer id, for resuming producers and dropping repeats.
    public var producerPositions: [String: UInt64] { index.producerPositions }
    public var recordCount: UInt64 { index.recordCount }

    /// Opens (or creates) the log in `folder`, checks it, and cuts a torn tail.
    public init(folder: String, logger: Logger) throws(StorageError) {
        try AtomicFile.prepareFolder(folder)
        file = FilePath(folder).appending(EventLog.fileName)
        path = file.string
        self.logger = logger
        fd = try FileDescriptor.openForUpdate(file)
        do throws(StorageError) {
            (index, fileSize) = try EventLog.recover(fd, file: file, logger: logger)
        } catch {
            try? fd.close()
            throw error
        }
        durability = Durability(fd: fd, path: path, synced: fileSize)
    }

    deinit {
        try? flush()
        try? fd.close()
    }

    /// Appends a message with the next sequence, stamping that sequence into its header, and returns
    /// the sequence. The bytes reach the file at the next `flush()`.
    @discardableResult
    public func append(topic: [UInt8], header: inout [UInt8], body: [UInt8], producer: String, producerSequence: UInt64) throws(StorageError) -> UInt64 {
        let result = topic.withUnsafeBytes { topic in
            header.withUnsafeBytes { header in
                body.withUnsafeBytes { body in
                    Result { () throws(StorageError) -> UInt64 in
                        try append(topic: topic, header: header, body: body, producer: producer, producerSequence: producerSequence)
                    }
                }
            }
        }
        let sequence = try result.get()
        WireHeader.stamp(sequence: sequence, into: &header)
        return sequence
    }

    /// Appends a message from frames in place, stamping the sequence into the logged copy of the
    /// header. The bytes reach the file at the next `flush()`.
    @discardableResult
    public func append(topic: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                       producer: String, producerSequence: UInt64) throws(StorageError) -> UInt64 {
        let sequence = index.lastSequence + 1
        let offset = fileSize + Int64(pending.count)
        do throws(LogRecordError) {
            try LogRecordFormat.append(topic: topic, header: header, body: body, sequence: sequence, to: &pending)
        } catch {
            throw StorageError(path: path, operation: "append (\(error.problem))", code: .messageTooLong)
        }
        index.add(sequence: sequence, offset: offset)
        index.advance(producer: producer, to: producerSequence)
        return sequence
    }

    /// Stages whole records that were checked elsewhere (a replicated chunk), with the index that
    /// counts them.
    func appendPending(_ records: UnsafeRawBufferPointer, index staged: LogIndex) {
        pending.append(contentsOf: records)
        index = staged
    }

    /// Reads the file again after it was cut short, rebuilding the index and producer positions.
    func reopenAfterCut() throws(StorageError) {
        pending.removeAll(keepingCapacity: true)
        (index, fileSize) = try EventLog.recover(fd, file: file, logger: logger)
        durability.noteCut(to: fileSize)
    }

    /// Bytes appended and not yet written.
    public var pendingBytes: Int { pending.count }

    /// Records that a producer's message was seen and rejected, so its position moves past it. Kept
    /// in memory only: after a restart the producer resends it, and it is rejected again.
    public func skip(producer: String, producerSequence: UInt64) {
        index.skip(producer: producer, producerSequence: producerSequence)
    }

    /// Writes appended records to the file (one write for the batch).
    public func flush() throws(StorageError) {
        guard !pending.isEmpty else { return }
        try writePending()
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes appended records to the file, then hands `written` the records just written (in this
    /// log's framing, valid during the call): the broker publishes them from there, after they are
    /// in the file and without copying them out first.
    public func flush(_ written: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !pending.isEmpty else { return }
        try writePending()
        defer { pending.removeAll(keepingCapacity: true) }
        try pending.withUnsafeBytes { try written($0) }
    }

    private func writePending() throws(StorageError) {
        do throws(StorageError) {
            try fileCall("write", file) { try fd.writeAll(toAbsoluteOffset: fileSize, pending) }
        } catch {
            rollBack()
            throw error
        }
        fileSize += Int64(pending.count)
        durability.noteWritten(upTo: fileSize)
    }

    /// After a failed write, cut what part of the batch reached the file and forget the batch, so
    /// the next append continues a consistent log: the in-memory view is read again from the
    /// file, which ends at the last good record.
    private func rollBack() {
        pending.removeAll(keepingCapacity: true)
        readCursors.removeAll()
        do throws(StorageError) {
            // Should the cut fail, recovery keeps the whole records of the batch that did reach the file.
            try? fileCall("ftruncate", file) { try fd.resize(to: fileSize) }
            (index, fileSize) = try EventLog.recover(fd, file: file, logger: logger)
        } catch {
            logger.error("Could not read the event log again after a failed write", metadata: ["log.path": "\(path)", "error": "\(error)"])
        }
    }

    /// fsync, when anything was written since the last one.
    public func sync() throws(StorageError) {
        try flush()
        try durability.sync()
    }

    /// What a `LogSyncer` needs to fsync this log from another thread while appends go on.
    var syncHandle: Durability { durability }

    /// Calls `body` with the topic, header and body of each record in `bytes` (records in this log's
    /// framing, as `readChunk` returns them), and whether the record's checksum matches (always
    /// true without `verify`). Throws `LogRecordError` when the framing itself is broken (a length
    /// that overruns the bytes).
    static func forEachRecord(in bytes: UnsafeRawBufferPointer, verify: Bool = true,
                              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, Bool) throws -> Void) throws {
        try LogRecordFormat.forEachRecord(in: bytes, verify: verify) { fields, intact in
            try body(fields.topic, fields.header, fields.body, intact)
        }
    }
}
