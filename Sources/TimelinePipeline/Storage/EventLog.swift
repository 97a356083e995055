import Foundation
import SystemPackage
import Logging
import Timeline

/// One record of the event log: a message as the broker published it.
public struct LogRecord: Sendable, Equatable {
    public var sequence: UInt64
    public var topic: [UInt8]
    /// The wire header, with the broker's sequence stamped in.
    public var header: [UInt8]
    public var body: [UInt8]

    public init(sequence: UInt64, topic: [UInt8], header: [UInt8], body: [UInt8]) {
        self.sequence = sequence
        self.topic = topic
        self.header = header
        self.body = body
    }

    public var frames: [[UInt8]] { [topic, header, body] }
}

/// The broker's durable record of every message it accepted, in sequence order: the source of
/// replays for late joiners and for consumers that missed messages.
///
/// One file, `events.log`, of records framed as
/// `u32 length | u32 CRC-32C | u16 topic length | topic | u16 header length | header | u32 body length | body`
/// (big-endian). Sequences are consecutive from 1. On open, the file is checked record by record; a
/// torn or corrupt tail (a crash in the middle of a write) is cut off and logged, never replayed.
///
/// Appends are written with `write(2)` before the broker forwards them, so a process crash loses
/// nothing that a consumer has seen. `sync()` (fsync) runs on the broker's fsync interval and at
/// shutdown; a power failure can lose at most that interval.
public final class EventLog {
    public static let fileName = "events.log"
    /// Records above this size are refused (they would also be refused on the wire).
    public static let maximumRecordSize = 16 << 20
    /// Every this many records, the file offset is kept in memory to start reads near any sequence.
    static let indexStride: UInt64 = 256

    public let path: String
    public private(set) var lastSequence: UInt64 = 0
    /// The highest producer sequence logged for each producer id, for resuming producers and dropping repeats.
    public private(set) var producerPositions: [String: UInt64] = [:]
    public private(set) var recordCount: UInt64 = 0
    public private(set) var fileSize: Int64 = 0

    private let fd: Int32
    private var sparseIndex: [Int64] = []
    private var pending: [UInt8] = []
    /// Bytes written and bytes known synced, shared with a `LogSyncer` on another thread.
    private let durability: Durability
    private var readCursors: [UInt64: Int64] = [:]
    private let logger: Logger

    /// Opens (or creates) the log in `folder`, checks it, and cuts a torn tail.
    public init(folder: String, logger: Logger) throws(StorageError) {
        try AtomicFile.prepareFolder(folder)
        path = (folder as NSString).appendingPathComponent(EventLog.fileName)
        self.logger = logger
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError(path: path, operation: "open") }
        durability = Durability(fd: fd, path: path)
        do {
            try recover()
        } catch {
            close(fd)
            throw error
        }
        durability.markSynced(upTo: fileSize)
    }

    deinit {
        try? flush()
        close(fd)
    }

    /// Reads the whole file, rebuilding the index and producer positions, and truncates at the
    /// first record that is incomplete, fails its checksum, or breaks the sequence.
    private func recover() throws(StorageError) {
        var offset: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var bufferStart: Int64 = 0
        var bufferCount = 0
        let end = Int64(lseek(fd, 0, SEEK_END))
        guard end >= 0 else { throw StorageError(path: path, operation: "lseek") }

        func ensure(_ count: Int, at position: Int64) throws(StorageError) -> Bool {
            if position >= bufferStart, position + Int64(count) <= bufferStart + Int64(bufferCount) { return true }
            if count > buffer.count { buffer = [UInt8](repeating: 0, count: count) }
            bufferStart = position
            bufferCount = 0
            while bufferCount < buffer.count {
                let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + bufferCount, $0.count - bufferCount, off_t(position) + off_t(bufferCount)) }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw StorageError(path: path, operation: "read")
                }
                if got == 0 { break }
                bufferCount += got
            }
            return bufferCount >= count
        }

        var problem: String?
        while offset < end {
            guard try ensure(8, at: offset) else { problem = "an incomplete record header"; break }
            let base = Int(offset - bufferStart)
            let length = Int(EventLog.u32(buffer, base))
            let checksum = EventLog.u32(buffer, base + 4)
            guard length >= 8, length <= EventLog.maximumRecordSize else { problem = "a record length of \(length)"; break }
            guard try ensure(8 + length, at: offset) else { problem = "an incomplete record"; break }
            let start = Int(offset - bufferStart) + 8
            let computed = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
            guard computed == checksum else { problem = "a checksum mismatch"; break }
            guard let record = EventLog.parsePayload(buffer[start..<(start + length)]) else { problem = "a malformed record"; break }
            guard record.sequence == lastSequence + 1 else { problem = "sequence \(record.sequence) after \(lastSequence)"; break }
            note(record: record, offset: offset)
            offset += Int64(8 + length)
        }
        if let problem {
            logger.warning("Cut the torn tail of the event log", metadata: [
                "log.path": "\(path)", "log.offset": "\(offset)", "log.bytesCut": "\(end - offset)", "reason": "\(problem)",
            ])
            guard ftruncate(fd, off_t(offset)) == 0 else { throw StorageError(path: path, operation: "ftruncate") }
            guard fsync(fd) == 0 else { throw StorageError(path: path, operation: "fsync") }
        }
        fileSize = offset
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw StorageError(path: path, operation: "lseek") }
    }

    private func note(record: LogRecord, offset: Int64) {
        if (record.sequence - 1) % EventLog.indexStride == 0 { sparseIndex.append(offset) }
        lastSequence = record.sequence
        recordCount += 1
        if let header = try? WireHeader.decode(record.header), !header.producer.isEmpty, header.producerSequence > 0 {
            producerPositions[header.producer] = max(producerPositions[header.producer] ?? 0, header.producerSequence)
        }
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
        let sequence = lastSequence + 1
        precondition(header.count >= WireHeader.minimumSize)
        let payloadLength = 2 + topic.count + 2 + header.count + 4 + body.count
        guard payloadLength <= EventLog.maximumRecordSize, topic.count <= 0xFFFF, header.count <= 0xFFFF else {
            throw StorageError(path: path, operation: "append (record too large)", code: .messageTooLong)
        }
        let recordOffset = fileSize + Int64(pending.count)
        let lengthAt = pending.count
        EventLog.put32(UInt32(payloadLength), into: &pending)
        EventLog.put32(0, into: &pending)
        let payloadStart = pending.count
        EventLog.put16(UInt16(topic.count), into: &pending)
        pending.append(contentsOf: topic)
        EventLog.put16(UInt16(header.count), into: &pending)
        let headerAt = pending.count
        pending.append(contentsOf: header)
        for index in 0..<8 { pending[headerAt + 2 + index] = UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(index))) }
        EventLog.put32(UInt32(body.count), into: &pending)
        pending.append(contentsOf: body)
        let checksum = pending.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
        EventLog.set32(checksum, at: lengthAt + 4, in: &pending)

        if (sequence - 1) % EventLog.indexStride == 0 { sparseIndex.append(recordOffset) }
        lastSequence = sequence
        recordCount += 1
        if !producer.isEmpty, producerSequence > 0 {
            producerPositions[producer] = max(producerPositions[producer] ?? 0, producerSequence)
        }
        return sequence
    }

    /// Records found damaged (failing their checksum) while serving reads, and skipped.
    public private(set) var damagedRecordsSkipped: UInt64 = 0

    /// Bytes appended and not yet written.
    public var pendingBytes: Int { pending.count }

    /// Records that a producer's message was seen and rejected, so its position moves past it. Kept
    /// in memory only: after a restart the producer resends it, and it is rejected again.
    public func skip(producer: String, producerSequence: UInt64) {
        if producerSequence == (producerPositions[producer] ?? 0) + 1 {
            producerPositions[producer] = producerSequence
        }
    }

    /// Writes appended records to the file (one `write(2)` for the batch).
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
        var written = 0
        while written < pending.count {
            let result = pending.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                let error = StorageError(path: path, operation: "write")
                // Keep the file consistent with memory: drop what did not reach it.
                rollBack(keepingWrittenBytes: written)
                throw error
            }
            written += result
        }
        fileSize += Int64(pending.count)
        durability.noteWritten(upTo: fileSize)
    }

    /// After a failed write, truncate the partial record and forget the unwritten ones, so the next
    /// append continues a consistent log.
    private func rollBack(keepingWrittenBytes written: Int) {
        _ = ftruncate(fd, off_t(fileSize))
        _ = lseek(fd, off_t(fileSize), SEEK_SET)
        pending.removeAll(keepingCapacity: true)
        // Recompute the in-memory view from the file, which now ends at the last good record.
        lastSequence = 0
        recordCount = 0
        sparseIndex.removeAll()
        producerPositions.removeAll()
        readCursors.removeAll()
        try? recover()
        _ = written
    }

    /// fsync, when anything was written since the last one.
    public func sync() throws(StorageError) {
        try flush()
        try durability.sync()
    }

    /// What a `LogSyncer` needs to fsync this log from another thread while appends go on.
    var syncHandle: Durability { durability }

    /// How far the file was written and how far it is known durable. `sync()` may run on any
    /// thread: fsync on Linux makes durable everything written before it started, and appends can
    /// continue meanwhile, so the broker's loop never waits for the disk.
    final class Durability: @unchecked Sendable {
        private let fd: Int32
        let path: String
        private let lock = NSLock()
        private var written: Int64 = 0
        private var synced: Int64 = 0

        init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
        }

        func noteWritten(upTo size: Int64) {
            lock.withLock { written = size }
        }

        func markSynced(upTo size: Int64) {
            lock.withLock {
                written = size
                synced = size
            }
        }

        /// Whether bytes were written since the last sync.
        var isDirty: Bool { lock.withLock { written != synced } }

        func sync() throws(StorageError) {
            let target = lock.withLock { written != synced ? written : nil }
            guard let target else { return }
            if fsync(fd) != 0 { throw StorageError(path: path, operation: "fsync") }
            lock.withLock { synced = max(synced, target) }
        }
    }

    /// Up to `maxCount` records after sequence `after`, at most about `maxBytes` of them.
    public func read(after: UInt64, maxCount: Int, maxBytes: Int = 4 << 20) throws(StorageError) -> [LogRecord] {
        var records: [LogRecord] = []
        var failure: StorageError?
        try walk(after: after, maxBytes: maxBytes) { _, record in
            guard let record else { return true }
            guard let parsed = EventLog.parsePayload(record[8...]) else {
                failure = StorageError(path: path, operation: "read (malformed record)", code: .ioError)
                return false
            }
            records.append(parsed)
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
            if prefixes.isEmpty || prefixes.contains(where: { EventLog.topic(of: record).starts(with: $0) }) {
                bytes.append(contentsOf: record)
                count += 1
            }
            return count < maxCount && bytes.count < maxBytes && scannedCount < maxScanned
        }
        return (bytes, count, scanned)
    }

    /// Calls `body` with the topic, header and body of each record in `bytes` (records in this log's
    /// framing, as `readChunk` returns them), and whether the record's checksum matches. Throws when
    /// the framing itself is broken (a length that overruns the bytes).
    static func forEachRecord(in bytes: UnsafeRawBufferPointer, verify: Bool = true,
                              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer, Bool) throws -> Void) throws {
        var offset = 0
        func u16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        func u32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        while offset < bytes.count {
            guard bytes.count - offset >= 8 + 2 else { throw PipelineError.brokerError("a replay chunk ends inside a record") }
            let length = u32(offset)
            let end = offset + 8 + length
            guard length >= 8, end <= bytes.count else { throw PipelineError.brokerError("a replay chunk record of length \(length) overruns the chunk") }
            let checksum = UInt32(u32(offset + 4))
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<end])
            let intact = !verify || CRC32C.checksum(payload) == checksum
            var at = offset + 8
            let topicLength = u16(at)
            at += 2
            guard at + topicLength + 2 <= end else { throw PipelineError.brokerError("a malformed record in a replay chunk") }
            let topic = UnsafeRawBufferPointer(rebasing: bytes[at..<(at + topicLength)])
            at += topicLength
            let headerLength = u16(at)
            at += 2
            guard at + headerLength + 4 <= end else { throw PipelineError.brokerError("a malformed record in a replay chunk") }
            let header = UnsafeRawBufferPointer(rebasing: bytes[at..<(at + headerLength)])
            at += headerLength
            let bodyLength = u32(at)
            at += 4
            guard at + bodyLength == end else { throw PipelineError.brokerError("a malformed record in a replay chunk") }
            try body(topic, header, UnsafeRawBufferPointer(rebasing: bytes[at..<end]), intact)
            offset = end
        }
    }

    /// The topic of a record given with its 8-byte length and checksum prefix.
    static func topic(of record: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let length = Int(record[8]) << 8 | Int(record[9])
        return UnsafeRawBufferPointer(rebasing: record[10..<min(record.count, 10 + length)])
    }

    /// Calls `visit` with each record after sequence `after` (its bytes with the 8-byte prefix,
    /// valid during the call; nil for a record that fails its checksum) until it returns false,
    /// the log ends, or about `maxBytes` were read.
    private func walk(after: UInt64, maxBytes: Int, _ visit: (UInt64, UnsafeRawBufferPointer?) -> Bool) throws(StorageError) {
        try flush()
        guard after < lastSequence else { return }
        var sequence: UInt64
        var offset: Int64
        if let cursor = readCursors[after + 1] {
            sequence = after + 1
            offset = cursor
        } else {
            let slot = Int(after / EventLog.indexStride)
            sequence = UInt64(slot) * EventLog.indexStride + 1
            offset = sparseIndex[slot]
        }
        var bytes = 0
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        var chunkStart: Int64 = -1
        var chunkCount = 0
        func load(_ count: Int) throws(StorageError) {
            if chunkStart >= 0, offset >= chunkStart, offset + Int64(count) <= chunkStart + Int64(chunkCount) { return }
            if count > chunk.count { chunk = [UInt8](repeating: 0, count: count) }
            chunkStart = offset
            chunkCount = 0
            while chunkCount < chunk.count, chunkStart + Int64(chunkCount) < fileSize {
                let got = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + chunkCount, $0.count - chunkCount, off_t(chunkStart) + off_t(chunkCount)) }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw StorageError(path: path, operation: "read")
                }
                if got == 0 { break }
                chunkCount += got
            }
            guard chunkCount >= count else { throw StorageError(path: path, operation: "read (log shorter than its index)", code: .ioError) }
        }
        while sequence <= lastSequence, bytes < maxBytes {
            try load(8)
            let length = Int(EventLog.u32(chunk, Int(offset - chunkStart)))
            guard length >= 8 else { throw StorageError(path: path, operation: "read (malformed record)", code: .ioError) }
            try load(8 + length)
            let start = Int(offset - chunkStart)
            offset += Int64(8 + length)
            let current = sequence
            sequence += 1
            if current > after {
                // The disk may have changed under the log since it was opened: check what is sent.
                let intact = chunk.withUnsafeBytes { bytes in
                    CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(start + 8)..<(start + 8 + length)])) == EventLog.u32(chunk, start + 4)
                }
                guard intact else {
                    // Serving it would hand out damaged data, and refusing the whole read would stop
                    // every consumer at this point for good: skip it, loudly. The framing (its length)
                    // still leads to the next record, whose own checksum vouches for it.
                    damagedRecordsSkipped += 1
                    logger.error("A record of the event log fails its checksum; it is skipped, not served", metadata: [
                        "log.path": "\(path)", "log.sequence": "\(current)", "log.offset": "\(offset - Int64(8 + length))",
                    ])
                    if !visit(current, nil) { break }
                    continue
                }
                bytes += 8 + length
                let more = chunk.withUnsafeBytes { visit(current, UnsafeRawBufferPointer(rebasing: $0[start..<(start + 8 + length)])) }
                if !more { break }
            }
        }
        if readCursors.count > 64 { readCursors.removeAll(keepingCapacity: true) }
        readCursors[sequence] = offset
    }

    static func parsePayload(_ payload: UnsafeRawBufferPointer.SubSequence) -> LogRecord? {
        parsePayload(ArraySlice(payload))
    }

    static func parsePayload(_ payload: ArraySlice<UInt8>) -> LogRecord? {
        var index = payload.startIndex
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard payload.endIndex - index >= count else { return nil }
            defer { index += count }
            return payload[index..<(index + count)]
        }
        guard let topicLength = take(2).map({ Int($0.first!) << 8 | Int($0.last!) }), let topic = take(topicLength),
              let headerLength = take(2).map({ Int($0.first!) << 8 | Int($0.last!) }), let header = take(headerLength),
              let bodyLengthBytes = take(4) else { return nil }
        let bodyLength = bodyLengthBytes.reduce(0) { $0 << 8 | Int($1) }
        guard let body = take(bodyLength), index == payload.endIndex, header.count >= WireHeader.minimumSize else { return nil }
        let sequence = header.dropFirst(2).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return LogRecord(sequence: sequence, topic: Array(topic), header: Array(header), body: Array(body))
    }

    private static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    private static func put32(_ value: UInt32, into bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 24)); bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8)); bytes.append(UInt8(truncatingIfNeeded: value))
    }

    private static func set32(_ value: UInt32, at index: Int, in bytes: inout [UInt8]) {
        bytes[index] = UInt8(value >> 24); bytes[index + 1] = UInt8(truncatingIfNeeded: value >> 16)
        bytes[index + 2] = UInt8(truncatingIfNeeded: value >> 8); bytes[index + 3] = UInt8(truncatingIfNeeded: value)
    }

    private static func put16(_ value: UInt16, into bytes: inout [UInt8]) {
        bytes.append(UInt8(value >> 8)); bytes.append(UInt8(truncatingIfNeeded: value))
    }
}
