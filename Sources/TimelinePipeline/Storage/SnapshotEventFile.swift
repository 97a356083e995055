import SystemPackage
import Timeline

/// The snapshot writer's events file, `snapshots/events.bin`: every distinct event the writer has
/// taken, once, in the order it took them, as the JSON a snapshot holds for it. A snapshot copies
/// these bytes, so the writer keeps no event in memory.
///
/// `TLSNEV01`, then records `u32 length | u32 CRC-32C | u64 sequence | event JSON`, big-endian.
/// `length` counts the bytes after the 8-byte prefix, which the CRC-32C covers; `sequence` is the
/// broker sequence of the message that brought the event (for events carried over from a snapshot
/// file, that snapshot's sequence), so sequences never go down along the file.
///
/// Appends go to a buffer, written at `bufferLimit` and by `sync` (which also fsyncs). A write that
/// fails is cut back to the last whole record and its records stay in the buffer for the next try,
/// so the file only ever holds whole records, plus, after a crash, a torn tail that `scan` finds.
///
/// Owned by one thread: the snapshot writer's loop. Closed in `deinit`.
final class SnapshotEventFile {
    static let fileName = "events.bin"
    static let magic = Array("TLSNEV01".utf8)
    static let headerSize = Int64(8)
    static let prefixSize = 8
    /// A record holds its sequence and at least `{}`.
    static let smallestPayload = 8 + 2
    /// Events are a few hundred bytes; a length beyond this is damage, not an event.
    static let largestPayload = 16 << 20

    let path: FilePath
    private let fd: FileDescriptor
    /// Bytes of whole records on file, the header included: where the next write goes.
    private(set) var writtenLength = headerSize
    /// Records on file, and records in the buffer.
    private(set) var writtenCount = 0
    private(set) var bufferedCount = 0
    private var buffer: [UInt8] = []
    let bufferLimit: Int

    /// Opens (or creates) the file. Its records are not read: `scan` then `cut`, or `reset`, before
    /// appending.
    init(folder: String, bufferLimit: Int = 256 << 10) throws(StorageError) {
        path = FilePath(folder).appending(Self.fileName)
        fd = try FileDescriptor.openForUpdate(path)
        self.bufferLimit = bufferLimit
    }

    deinit {
        try? fd.close()
    }

    /// The file's size as the system reports it.
    func fileSize() throws(StorageError) -> Int64 {
        try fileCall("stat", path) { try fd.stat().size }
    }

    /// Every record, written or buffered.
    var count: Int { writtenCount + bufferedCount }

    /// Whether the buffer is due to be written.
    var isBufferFull: Bool { buffer.count >= bufferLimit }

    /// One record read back.
    struct Record {
        var sequence: UInt64
        var json: UnsafeRawBufferPointer
    }

    /// Where reading stopped, and why when it was not the end of the bytes asked for.
    struct ScanEnd: Equatable {
        var offset: Int64
        var count: Int
        var problem: String?
    }

    /// Reads the records from the start up to `end` (the file's end when nil), checking each one's
    /// checksum, and calls `body` for each until it returns false. Stops at the first record that
    /// is cut short or damaged, saying so in `problem`; a file without the header has no records.
    func scan(to end: Int64? = nil, _ body: (Record) throws -> Bool) throws -> ScanEnd {
        let size = try fileSize()
        let limit = min(end ?? size, size)
        var header = ChunkedFileReader(fd, path: path, from: 0, to: limit, chunkSize: 64)
        guard try header.require(Int(Self.headerSize)), header.withAvailable({ $0.starts(with: Self.magic) }) else {
            return ScanEnd(offset: 0, count: 0, problem: size == 0 ? nil : "no events file header")
        }
        var reader = ChunkedFileReader(fd, path: path, from: Self.headerSize, to: limit)
        var count = 0
        while true {
            guard try reader.require(Self.prefixSize) else {
                let problem = reader.available == 0 ? nil : "an incomplete record header (\(reader.available) of 8 bytes)"
                return ScanEnd(offset: reader.offset, count: count, problem: problem)
            }
            let length = reader.withAvailable { Int(ByteReader.integer($0, at: 0, as: UInt32.self)) }
            guard length >= Self.smallestPayload, length <= Self.largestPayload else {
                return ScanEnd(offset: reader.offset, count: count, problem: "a record length of \(length)")
            }
            guard try reader.require(Self.prefixSize + length) else {
                return ScanEnd(offset: reader.offset, count: count,
                               problem: "an incomplete record (length \(length), \(reader.available - Self.prefixSize) bytes left)")
            }
            let keepGoing = try reader.withAvailable { bytes -> Bool? in
                let payload = UnsafeRawBufferPointer(rebasing: bytes[Self.prefixSize..<(Self.prefixSize + length)])
                guard CRC32C.checksum(payload) == ByteReader.integer(bytes, at: 4, as: UInt32.self) else { return nil }
                let sequence = ByteReader.integer(payload, at: 0, as: UInt64.self)
                return try body(Record(sequence: sequence, json: UnsafeRawBufferPointer(rebasing: payload[8...])))
            }
            guard let keepGoing else {
                return ScanEnd(offset: reader.offset, count: count, problem: "a checksum mismatch")
            }
            if !keepGoing { return ScanEnd(offset: reader.offset, count: count, problem: nil) }
            reader.consume(Self.prefixSize + length)
            count += 1
        }
    }

    /// Keeps the first `count` records, which end at `offset` (as `scan` found them), and removes
    /// everything after them from the file.
    func cut(at offset: Int64, count: Int) throws(StorageError) {
        precondition(offset >= Self.headerSize && buffer.isEmpty)
        try fileCall("ftruncate", path) { try fd.resize(to: offset) }
        try fileCall("fsync", path) { try fd.sync() }
        writtenLength = offset
        writtenCount = count
    }

    /// Empties the file: the header and no record.
    func reset() throws(StorageError) {
        buffer.removeAll()
        bufferedCount = 0
        try fileCall("ftruncate", path) { try fd.resize(to: 0) }
        try fileCall("write", path) { try fd.writeAll(toAbsoluteOffset: 0, Self.magic) }
        try fileCall("fsync", path) { try fd.sync() }
        writtenLength = Self.headerSize
        writtenCount = 0
    }

    /// Adds a record to the buffer.
    func append(sequence: UInt64, json: [UInt8]) {
        Self.appendRecord(sequence: sequence, json: json, to: &buffer)
        bufferedCount += 1
    }

    /// Appends one record's bytes, as the file holds them.
    static func appendRecord(sequence: UInt64, json: some Collection<UInt8>, to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.appendInteger(UInt32(8 + json.count))
        bytes.appendInteger(UInt32(0))
        bytes.appendInteger(sequence)
        bytes.append(contentsOf: json)
        let checksum = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + prefixSize)...])) }
        bytes.setInteger(checksum, at: start + 4)
    }

    /// Writes the buffered records after the last whole one. On failure the file is cut back to
    /// where it was and the records stay buffered.
    func writeBuffer() throws(StorageError) {
        guard !buffer.isEmpty else { return }
        do throws(StorageError) {
            try fileCall("write", path) { try fd.writeAll(toAbsoluteOffset: writtenLength, buffer) }
        } catch {
            try? fileCall("ftruncate", path) { try fd.resize(to: writtenLength) }
            throw error
        }
        writtenLength += Int64(buffer.count)
        writtenCount += bufferedCount
        bufferedCount = 0
        // A buffer that grew while writes failed is let go of; one of the usual size is reused.
        if buffer.capacity > 2 * bufferLimit { buffer = [] } else { buffer.removeAll(keepingCapacity: true) }
    }

    /// Writes the buffer and makes every record durable.
    func sync() throws(StorageError) {
        try writeBuffer()
        try fileCall("fsync", path) { try fd.sync() }
    }

    /// Calls `body` with the JSON of each record written, in order (`sync` first for all of them).
    /// Throws when a record does not read back whole.
    func forEachWritten(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let end = try scan(to: writtenLength) { record in
            try body(record.json)
            return true
        }
        guard end.problem == nil, end.count == writtenCount else {
            throw PipelineError.state(path: path.string, reason: "\(end.problem ?? "fewer records than written") at byte \(end.offset)")
        }
    }
}
