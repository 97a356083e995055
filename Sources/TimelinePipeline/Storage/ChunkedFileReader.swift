import SystemPackage

/// Reads a file front to back through one buffer of a fixed size, so that going over a file of
/// any length keeps a constant amount of memory (no mapping: mapped pages would count as the
/// process's resident memory). The caller asks for at least `n` unread bytes, reads them in place
/// and consumes what it used.
struct ChunkedFileReader {
    let path: FilePath
    private let fd: FileDescriptor
    private var buffer: [UInt8]
    /// The file offset of `buffer[0]`.
    private var bufferOffset: Int64
    /// `buffer[start..<end]` holds bytes read and not consumed yet.
    private var start = 0
    private var end = 0
    /// Reads stop here (the file's size, or a length the caller gave).
    let limit: Int64

    /// Reads `fd` (which the caller keeps open and closes) from `offset` to `limit`.
    init(_ fd: FileDescriptor, path: FilePath, from offset: Int64, to limit: Int64, chunkSize: Int = 1 << 20) {
        self.fd = fd
        self.path = path
        self.limit = limit
        bufferOffset = offset
        buffer = [UInt8](repeating: 0, count: max(chunkSize, 64))
    }

    /// The file offset of the first unread byte.
    var offset: Int64 { bufferOffset + Int64(start) }

    /// Unread bytes in hand.
    var available: Int { end - start }

    /// Makes at least `count` unread bytes available, reading more as needed; false when the file
    /// (or the limit) ends first, with what is left still available.
    mutating func require(_ count: Int) throws(StorageError) -> Bool {
        if available >= count { return true }
        if start > 0 {
            // Move what is left to the front, then fill the rest.
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
            }
            bufferOffset += Int64(start)
            end -= start
            start = 0
        }
        if buffer.count < count { buffer += [UInt8](repeating: 0, count: count - buffer.count) }
        while end < count {
            let wanted = min(buffer.count - end, Int(clamping: limit - bufferOffset - Int64(end)))
            if wanted <= 0 { return false }
            let got = try fileCall("read", path) {
                try buffer.withUnsafeMutableBytes { raw in
                    try fd.read(fromAbsoluteOffset: bufferOffset + Int64(end), into: UnsafeMutableRawBufferPointer(rebasing: raw[end..<(end + wanted)]))
                }
            }
            if got == 0 { return false }
            end += got
        }
        return true
    }

    /// Calls `body` with the unread bytes in hand (valid only during the call).
    func withAvailable<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    /// Marks `count` bytes of those in hand as read.
    mutating func consume(_ count: Int) {
        precondition(count <= available, "consumed more than was read")
        start += count
    }
}
