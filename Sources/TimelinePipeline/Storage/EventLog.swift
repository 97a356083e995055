import Logging
import SystemPackage
import Timeline

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The broker's durable record of every message it accepted, in sequence order: the source of
/// replays for late joiners and for consumers that missed messages.
///
/// The folder `log/` of the data folder holds the log in segments, each named by its first
/// record's sequence in 20 digits: `…0001.log` the records, in the framing of `LogRecordFormat`;
/// `.index` its sparse index (written when the segment is closed); `.times` the broker's receive
/// time of each batch written to it; `.producers` the producers' positions before its first
/// record. Sequences are consecutive from 1. Appends go to the last segment; once it holds
/// `segmentBytes`, the next batch starts a new one. Only the last segment is ever read whole on
/// open, and not even that after a clean close (`EventLog+Recovery`); a torn or corrupt tail (a
/// crash in the middle of a write) is cut off and logged, never replayed.
///
/// Appends collect in memory and reach the file at `flush()`, one write for the batch, before the
/// broker forwards them, so a process crash loses nothing that a consumer has seen. `sync()`
/// (fsync) runs on the broker's fsync interval, from a `LogSyncer`, and at shutdown; a power
/// failure can lose at most that interval (`LogDurability`). Reads for replays are in
/// `EventLog+Reading`, receive times in `EventLog+ReceiveTime`.
public final class EventLog {
    /// The log's folder, inside the data folder.
    public static let folderName = "log"
    /// The one file of the log before it had segments; moved into the log's folder as its first
    /// segment when found.
    static let singleFileName = "events.log"
    /// Records above this size are refused (they would also be refused on the wire).
    public static let maximumRecordSize = LogRecordFormat.largestPayload
    public static let defaultSegmentBytes: Int64 = 64 << 20
    /// Closed segments whose files stay open for reads at once; more are closed, least recent first.
    static let openSegmentLimit = 8

    /// The log's folder.
    public let path: String
    let folder: FilePath
    let logger: Logger
    /// The size at which a segment is closed and the next batch starts a new one.
    public let segmentBytes: Int64
    /// The time now, in milliseconds since the Unix epoch (the system's clock unless a test gives another).
    let clock: () -> Int64

    /// The segments before the active one, oldest first.
    var closed: [ClosedSegment] = []
    /// The active segment's records and receive times.
    private(set) var activeFile: OpenFile
    private(set) var timesFile: OpenFile
    private var timesSize: Int64 = 0
    /// The active segment's receive times.
    private(set) var times: [TimeMark] = []
    private(set) var index: LogIndex
    /// How long the active segment is: every record written, none of those pending.
    public private(set) var fileSize: Int64
    private var pending: [UInt8] = []
    /// The sequence of the first pending record.
    private var pendingFirst: UInt64 = 0
    /// The index as it was before the pending records were counted: what a failed write goes back to.
    private var committed: LogIndex?
    /// Bytes written and bytes known synced, shared with a `LogSyncer` on another thread.
    private let durability: Durability
    /// Where the record after each of the last few reads starts (its segment's first sequence and
    /// its offset), so that a reader going on from where it stopped does not walk from the nearest
    /// indexed record again.
    var readCursors: [UInt64: (segment: UInt64, offset: Int64)] = [:]
    /// Records found damaged (failing their checksum) while serving reads, and skipped.
    public internal(set) var damagedRecordsSkipped: UInt64 = 0
    /// Whether the last attempt to start a new segment failed (it is tried again after each write).
    private var rollFailing = false
    /// A counter for choosing which closed segments' files to close.
    var readClock: UInt64 = 0

    public var lastSequence: UInt64 { index.lastSequence }
    /// The highest producer sequence logged for each producer id, for resuming producers and dropping repeats.
    public var producerPositions: [String: UInt64] { index.producerPositions }
    /// The oldest record's sequence (1 until retention deletes segments).
    public var firstSequence: UInt64 { closed.first?.first ?? index.offsets.first }
    public var recordCount: UInt64 { lastSequence >= firstSequence ? lastSequence - firstSequence + 1 : 0 }
    /// How many segment files the log has, the active one included.
    public var segmentCount: Int { closed.count + 1 }
    /// The bytes of every segment's records.
    public var recordBytes: Int64 { closedBytes + fileSize }
    /// The bytes of the closed segments' records.
    var closedBytes: Int64 = 0

    /// Opens (or creates) the log in the data folder `folder`, checks its last segment, and cuts a
    /// torn tail. A log of one file from before segments is moved into place as the first segment.
    public init(folder: String, segmentBytes: Int64 = EventLog.defaultSegmentBytes, logger: Logger,
                clock: @escaping () -> Int64 = EventLog.systemMilliseconds) throws(StorageError) {
        try AtomicFile.prepareFolder(folder)
        self.folder = FilePath(folder).appending(EventLog.folderName)
        path = self.folder.string
        self.logger = logger
        self.segmentBytes = segmentBytes
        self.clock = clock
        try AtomicFile.prepareFolder(path)
        try EventLog.moveSingleFile(from: FilePath(folder), into: self.folder, logger: logger)
        (closed, closedBytes, activeFile, timesFile, timesSize, times, index, fileSize) = try EventLog.load(self.folder, logger: logger).fields
        durability = Durability(files: [activeFile, timesFile], synced: fileSize)
    }

    deinit {
        try? flush()
    }

    /// The records file of the segment starting at `first`, in the log of the data folder `dataFolder`.
    static func recordsFile(first: UInt64, dataFolder: String) -> String {
        SegmentName.file(first, SegmentName.records, in: FilePath(dataFolder).appending(folderName)).string
    }

    /// The system's clock in milliseconds since the Unix epoch.
    public static func systemMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000 + Int64(now.tv_nsec) / 1_000_000
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
        if pending.isEmpty {
            pendingFirst = sequence
            committed = index
        }
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
        if pending.isEmpty {
            pendingFirst = index.lastSequence + 1
            committed = index
        }
        pending.append(contentsOf: records)
        index = staged
    }

    /// Reads the log's folder again (after a cut, or a failed write), rebuilding the index and
    /// producer positions from the last segment.
    func reload() throws(StorageError) {
        pending.removeAll(keepingCapacity: true)
        committed = nil
        readCursors.removeAll()
        (closed, closedBytes, activeFile, timesFile, timesSize, times, index, fileSize) = try EventLog.load(folder, logger: logger).fields
        durability.switchTo([activeFile, timesFile], size: fileSize)
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

    /// Writes the pending batch's receive time, then the batch, then starts a new segment when this
    /// one is full. The time goes first: a crash between the two leaves a mark past the last record,
    /// which opening drops, never a batch without its time.
    private func writePending() throws(StorageError) {
        let timesBefore = (size: timesSize, count: times.count)
        do throws(StorageError) {
            try markReceived(pendingFirst)
            try fileCall("write", activeFile.path) { try activeFile.fd.writeAll(toAbsoluteOffset: fileSize, pending) }
        } catch {
            rollBack(timesSize: timesBefore.size, timesCount: timesBefore.count)
            throw error
        }
        committed = nil
        fileSize += Int64(pending.count)
        durability.noteWritten(upTo: fileSize)
        if fileSize >= segmentBytes { startSegment() }
    }

    /// Notes that the records from `sequence` on were received now, unless the last mark has this
    /// time already. The time never goes back, whatever the clock does.
    private func markReceived(_ sequence: UInt64) throws(StorageError) {
        let latest = times.last?.milliseconds ?? (closed.isEmpty ? nil : (try? newestReceiveTime(ofClosed: closed.count - 1)) ?? nil) ?? Int64.min
        let now = clock()
        guard times.isEmpty || now > latest else { return }
        let mark = TimeMark(sequence: sequence, milliseconds: max(now, latest))
        try fileCall("write", timesFile.path) { try timesFile.fd.writeAll(toAbsoluteOffset: timesSize, LogSegmentFiles.encode(mark)) }
        timesSize += 16
        times.append(mark)
    }

    /// After a failed write, forget the batch: the index goes back to what it was before it, and
    /// what part of it reached the files is cut, so the next append continues a consistent log.
    /// Should a cut fail, the next write overwrites those bytes from the same offset, and opening
    /// cuts anything left past the last whole record.
    private func rollBack(timesSize before: Int64, timesCount: Int) {
        pending.removeAll(keepingCapacity: true)
        readCursors.removeAll()
        if let committed { index = committed }
        committed = nil
        times.removeLast(times.count - timesCount)
        timesSize = before
        try? fileCall("ftruncate", activeFile.path) { try activeFile.fd.resize(to: fileSize) }
        try? fileCall("ftruncate", timesFile.path) { try timesFile.fd.resize(to: before) }
    }

    /// Closes the active segment and starts the next, empty. A failure (a full disk) is logged
    /// once and leaves the log appending to the segment it has; the next write tries again.
    private func startSegment() {
        do throws(StorageError) {
            try roll()
            if rollFailing {
                rollFailing = false
                logger.notice("Started a new segment of the event log after failing to", metadata: ["log.path": "\(path)", "log.segment": "\(index.offsets.first)"])
            }
        } catch {
            if !rollFailing {
                rollFailing = true
                logger.error("Could not start a new segment of the event log; appending to the full one meanwhile", metadata: [
                    "log.path": "\(path)", "error": "\(error)", "log.segmentBytes": "\(fileSize)",
                ])
            }
        }
    }

    /// Syncs the active segment, writes its index and the producers' positions the next segment
    /// starts from, then creates the next segment's files. Nothing of the next segment is left
    /// behind when a step fails.
    private func roll() throws(StorageError) {
        let current = index.offsets.first
        let next = index.lastSequence + 1
        try durability.sync()
        try AtomicFile.write(LogSegmentFiles.encode(index.offsets), to: SegmentName.file(current, SegmentName.index, in: folder).string)
        let positions = LogSegmentFiles.ProducerPositions(through: index.lastSequence, positions: index.producerPositions)
        let nextRecords = SegmentName.file(next, SegmentName.records, in: folder)
        let nextTimes = SegmentName.file(next, SegmentName.times, in: folder)
        let newFile: OpenFile, newTimes: OpenFile
        do throws(StorageError) {
            try AtomicFile.write(JSONCoding.encode(positions), to: SegmentName.file(next, SegmentName.producers, in: folder).string)
            newTimes = try OpenFile.open(nextTimes)
            try fileCall("ftruncate", nextTimes) { try newTimes.fd.resize(to: 0) }
            newFile = try OpenFile.open(nextRecords)
            try fileCall("ftruncate", nextRecords) { try newFile.fd.resize(to: 0) }
            try AtomicFile.syncFolder(of: nextRecords.string)
        } catch {
            // The records file goes first: a log opened later must not take it for the active segment.
            nextRecords.removeFile()
            nextTimes.removeFile()
            SegmentName.file(next, SegmentName.producers, in: folder).removeFile()
            throw error
        }
        closed.append(ClosedSegment(first: current, last: index.lastSequence, size: fileSize, file: activeFile, offsets: index.offsets,
                                    newestTime: .some(times.last?.milliseconds)))
        closedBytes += fileSize
        activeFile = newFile
        timesFile = newTimes
        timesSize = 0
        times = []
        fileSize = 0
        index.startSegment()
        readCursors.removeAll()
        durability.switchTo([activeFile, timesFile], size: 0)
        closeIdleSegments()
        logger.debug("Started a new segment of the event log", metadata: ["log.segment": "\(next)", "log.segments": "\(segmentCount)"])
    }

    /// fsync, when anything was written since the last one.
    public func sync() throws(StorageError) {
        try flush()
        try durability.sync()
    }

    /// Flushes and syncs the log and records what the next open needs to read nothing but the last
    /// record: the active segment's index, its length, and the producers' positions.
    public func close() throws(StorageError) {
        try sync()
        try AtomicFile.write(LogSegmentFiles.encode(index.offsets), to: SegmentName.file(index.offsets.first, SegmentName.index, in: folder).string)
        let clean = LogSegmentFiles.CleanShutdown(segment: index.offsets.first, size: fileSize, lastSequence: index.lastSequence,
                                                  lastOffset: index.lastOffset, positions: index.producerPositions)
        try AtomicFile.write(JSONCoding.encode(clean), to: folder.appending(LogSegmentFiles.CleanShutdown.fileName).string)
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
