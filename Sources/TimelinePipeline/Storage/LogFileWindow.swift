import SystemPackage

/// A window onto the event log's file: a buffer holding the bytes from `start`, read again from
/// the wanted offset whenever a record does not lie wholly in it. Recovery and reads walk the
/// file record by record through one, a large read at a time.
struct LogFileWindow: ~Copyable {
    private let fd: FileDescriptor
    private let file: FilePath
    /// Reads stop here: the end of the file as the log knows it.
    private let end: Int64
    private var buffer: UnsafeMutableRawBufferPointer
    /// The file offset of the buffer's first byte, and how many bytes it holds.
    private(set) var start: Int64 = 0
    private var count = 0

    init(_ fd: FileDescriptor, file: FilePath, end: Int64, capacity: Int) {
        self.fd = fd
        self.file = file
        self.end = end
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    /// The bytes in the window; valid until the next `load`.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[..<count]) }

    /// Where file offset `offset` lies in `bytes`.
    @inline(__always)
    func position(of offset: Int64) -> Int { Int(offset - start) }

    /// Brings the `length` bytes at `offset` into the window, or as many as the file holds.
    @inline(__always)
    mutating func load(_ length: Int, at offset: Int64) throws(StorageError) {
        if offset >= start, offset + Int64(length) <= start + Int64(count) { return }
        if length > buffer.count {
            buffer.deallocate()
            buffer = .allocate(byteCount: length, alignment: 16)
        }
        start = offset
        count = 0
        let wanted = Int(max(0, min(Int64(buffer.count), end - offset)))
        count = try fileCall("read", file) {
            try fd.readFully(fromAbsoluteOffset: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted]))
        }
    }

    /// Brings the record at `offset` into the window whole and returns it (prefix included), or
    /// what is wrong with its framing: a length out of range, or a file that ends inside it.
    mutating func loadRecord(at offset: Int64) throws(StorageError) -> Result<UnsafeRawBufferPointer, LogRecordError> {
        try load(LogRecordFormat.prefixSize, at: offset)
        let length: Int
        do throws(LogRecordError) {
            length = try LogRecordFormat.payloadLength(at: position(of: offset), in: bytes)
        } catch {
            return .failure(error)
        }
        try load(LogRecordFormat.prefixSize + length, at: offset)
        return Result { () throws(LogRecordError) in try LogRecordFormat.record(at: position(of: offset), length: length, in: bytes) }
    }
}
