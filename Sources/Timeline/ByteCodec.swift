/// The one place the project reads and writes binary integers. Every binary format of the
/// project (the wire header, producer batches, the control protocol, the event log's records, the
/// aggregator's state files) is big-endian, and differs from the others only in its fields.

/// A binary value that is cut short or out of range, with where it went wrong.
public struct ByteCodecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being read (`"u32 body length"`, `"topic"`).
    public var field: String
    /// The offset where the field starts.
    public var offset: Int
    /// How many bytes the field needs, and how many were left.
    public var needed: Int
    public var available: Int

    public init(field: String, offset: Int, needed: Int, available: Int) {
        self.field = field
        self.offset = offset
        self.needed = needed
        self.available = available
    }

    public var description: String {
        "the \(field) at byte \(offset) needs \(needed) bytes, but \(available) are left"
    }
}

/// Reads big-endian integers and runs of bytes from a buffer, front to back, checking every read
/// against the end. The buffers it hands out point into the same memory and are valid as long as
/// that memory is.
@frozen
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    /// Where the next read starts.
    public var offset: Int { position }
    @usableFromInline
    var position: Int

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        position = offset
    }

    /// Bytes not read yet.
    @inlinable
    public var remaining: Int { bytes.count - offset }

    @inlinable
    public var isAtEnd: Bool { offset >= bytes.count }

    /// Reads a big-endian integer of `T`'s width.
    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(as type: T.Type = T.self, _ field: @autoclosure () -> String = "integer") throws(ByteCodecError) -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else {
            throw ByteCodecError(field: field(), offset: offset, needed: size, available: remaining)
        }
        let value = T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        position += size
        return value
    }

    /// The next `count` bytes, in place.
    @inlinable
    public mutating func readBytes(count: Int, _ field: @autoclosure () -> String = "bytes") throws(ByteCodecError) -> UnsafeRawBufferPointer {
        guard count >= 0, bytes.count - offset >= count else {
            throw ByteCodecError(field: field(), offset: offset, needed: count, available: remaining)
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    /// A run of bytes preceded by its length as a big-endian `Length`.
    @inlinable
    public mutating func readLengthPrefixed<Length: FixedWidthInteger>(_ length: Length.Type, _ field: @autoclosure () -> String = "bytes") throws(ByteCodecError) -> UnsafeRawBufferPointer {
        let count = Int(try readInteger(as: Length.self, "\(field()) length"))
        return try readBytes(count: count, field())
    }

    /// Everything not read yet, in place.
    @inlinable
    public mutating func readRest() -> UnsafeRawBufferPointer {
        defer { position = bytes.count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset...])
    }

    /// Skips `count` bytes.
    @inlinable
    public mutating func skip(_ count: Int, _ field: @autoclosure () -> String = "bytes") throws(ByteCodecError) {
        _ = try readBytes(count: count, field())
    }

    /// The big-endian integer at `offset`, for formats whose bounds the caller has checked already.
    @inlinable
    public static func integer<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, at offset: Int, as type: T.Type = T.self) -> T {
        precondition(offset >= 0 && bytes.count - offset >= MemoryLayout<T>.size, "ByteReader.integer reads past the end")
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// The big-endian integer a frame of exactly `T`'s width holds; nil for a frame of any other size.
    @inlinable
    public static func integer<T: FixedWidthInteger>(exactly bytes: [UInt8], as type: T.Type = T.self) -> T? {
        guard bytes.count == MemoryLayout<T>.size else { return nil }
        return bytes.withUnsafeBytes { T(bigEndian: $0.loadUnaligned(as: T.self)) }
    }
}

extension Array where Element == UInt8 {
    /// The big-endian bytes of `value`.
    @inlinable
    public init<T: FixedWidthInteger>(bigEndian value: T) {
        self.init()
        appendInteger(value)
    }

    /// Appends `value` big-endian.
    @inlinable
    public mutating func appendInteger<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// Overwrites the bytes at `index` with `value` big-endian.
    @inlinable
    public mutating func setInteger<T: FixedWidthInteger>(_ value: T, at index: Int) {
        precondition(index >= 0 && count - index >= MemoryLayout<T>.size, "setInteger writes past the end")
        withUnsafeMutableBytes { $0.storeBytes(of: value.bigEndian, toByteOffset: index, as: T.self) }
    }
}
