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

    /// Copies a record out of its payload (the bytes after the 8-byte prefix).
    init(payload: UnsafeRawBufferPointer) throws(LogRecordError) {
        let fields = try LogRecordFormat.fields(ofPayload: payload)
        guard let sequence = fields.sequence else { throw LogRecordError(.shortHeader(fields.header.count), at: 0) }
        self.init(sequence: sequence, topic: Array(fields.topic), header: Array(fields.header), body: Array(fields.body))
    }
}

/// A record of the event log whose framing is broken: what is wrong, and where the record starts.
public struct LogRecordError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable, CustomStringConvertible {
        /// Fewer bytes are left than a record's 8-byte prefix (its length and checksum).
        case incompletePrefix(available: Int)
        /// The length in the prefix is below the smallest record or above the largest.
        case lengthOutOfRange(Int)
        /// The record's length runs past the end of the bytes.
        case overrun(length: Int, available: Int)
        /// A field inside the record runs past the record's end.
        case fieldOverrun(ByteCodecError)
        /// The fields end before the record does.
        case trailingBytes(Int)
        /// The header is shorter than a wire header, so it holds no sequence.
        case shortHeader(Int)
        /// The payload's CRC-32C is not the one in the prefix.
        case checksumMismatch
        /// The message does not fit the format: a topic or header over 65,535 bytes, or a record
        /// over `EventLog.maximumRecordSize`.
        case tooLarge(topic: Int, header: Int, body: Int)

        public var description: String {
            switch self {
            case .incompletePrefix(let available): "an incomplete record header (\(available) of 8 bytes)"
            case .lengthOutOfRange(let length): "a record length of \(length)"
            case .overrun(let length, let available): "an incomplete record (length \(length), \(available) bytes left)"
            case .fieldOverrun(let error): "a malformed record (\(error))"
            case .trailingBytes(let count): "a malformed record (\(count) bytes after its body)"
            case .shortHeader(let count): "a malformed record (a header of \(count) bytes)"
            case .checksumMismatch: "a checksum mismatch"
            case .tooLarge(let topic, let header, let body):
                "a message too large to log (topic \(topic), header \(header), body \(body) bytes)"
            }
        }
    }

    public var problem: Problem
    /// Where the record starts, counted from the start of the bytes being read.
    public var offset: Int

    public init(_ problem: Problem, at offset: Int) {
        self.problem = problem
        self.offset = offset
    }

    public var description: String { "\(problem) at byte \(offset)" }
}

/// The framing of the event log's records, in the file and in replay chunks alike:
///
/// `u32 length | u32 CRC-32C | u16 topic length | topic | u16 header length | header | u32 body length | body`
///
/// big-endian; `length` counts the bytes after the 8-byte prefix (the payload), which the CRC-32C
/// covers. Pure code on buffers: the log does the I/O.
enum LogRecordFormat {
    /// The length and checksum before each payload.
    static let prefixSize = 8
    /// The payload of a record whose three fields are empty.
    static let smallestPayload = 2 + 2 + 4
    /// Payloads above this size are refused (they would also be refused on the wire).
    static let largestPayload = 16 << 20

    /// A record's fields, in place in the bytes they were parsed from.
    struct Fields {
        var topic: UnsafeRawBufferPointer
        var header: UnsafeRawBufferPointer
        var body: UnsafeRawBufferPointer

        /// The broker's sequence stamped in the header; nil when the header is too short to hold one.
        var sequence: UInt64? {
            guard header.count >= WireHeader.minimumSize else { return nil }
            return ByteReader.integer(header, at: WireHeader.sequenceOffset, as: UInt64.self)
        }
    }

    /// The payload length in the prefix of the record at `offset`, checked to be a possible length
    /// (not that the payload is all there).
    @inline(__always)
    static func payloadLength(at offset: Int, in bytes: UnsafeRawBufferPointer) throws(LogRecordError) -> Int {
        guard bytes.count - offset >= prefixSize else {
            throw LogRecordError(.incompletePrefix(available: bytes.count - offset), at: offset)
        }
        let length = Int(ByteReader.integer(bytes, at: offset, as: UInt32.self))
        guard length >= smallestPayload, length <= largestPayload else {
            throw LogRecordError(.lengthOutOfRange(length), at: offset)
        }
        return length
    }

    /// The record at `offset` whose payload length is `length`, checked to lie wholly in `bytes`.
    @inline(__always)
    static func record(at offset: Int, length: Int, in bytes: UnsafeRawBufferPointer) throws(LogRecordError) -> UnsafeRawBufferPointer {
        let available = bytes.count - offset - prefixSize
        guard available >= length else { throw LogRecordError(.overrun(length: length, available: available), at: offset) }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + prefixSize + length)])
    }

    /// The payload of a whole record (prefix included).
    @inline(__always)
    static func payload(ofRecord record: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: record[prefixSize...])
    }

    /// Whether a whole record (prefix included) matches its checksum.
    @inline(__always)
    static func isIntact(_ record: UnsafeRawBufferPointer) -> Bool {
        CRC32C.checksum(payload(ofRecord: record)) == ByteReader.integer(record, at: 4, as: UInt32.self)
    }

    /// The topic, header and body of a payload; throws when they do not fill it exactly.
    @inline(__always)
    static func fields(ofPayload payload: UnsafeRawBufferPointer) throws(LogRecordError) -> Fields {
        let topic = try field(UInt16.self, "topic", at: 0, in: payload)
        let header = try field(UInt16.self, "header", at: topic.upperBound, in: payload)
        let body = try field(UInt32.self, "body", at: header.upperBound, in: payload)
        guard body.upperBound == payload.count else {
            throw LogRecordError(.trailingBytes(payload.count - body.upperBound), at: 0)
        }
        return Fields(topic: UnsafeRawBufferPointer(rebasing: payload[topic]), header: UnsafeRawBufferPointer(rebasing: payload[header]),
                      body: UnsafeRawBufferPointer(rebasing: payload[body]))
    }

    /// Where the field after its big-endian `Length` at `offset` lies. The bounds are checked here
    /// and the length read unchecked, inline: this runs for every record published or replayed,
    /// where `ByteReader`'s reads, each a call, cost a few percent of the broker's throughput.
    @inline(__always)
    private static func field<Length: FixedWidthInteger>(_: Length.Type, _ name: StaticString, at offset: Int,
                                                          in payload: UnsafeRawBufferPointer) throws(LogRecordError) -> Range<Int> {
        let size = MemoryLayout<Length>.size
        guard payload.count - offset >= size else {
            let error = ByteCodecError(field: "\(name) length", offset: offset, needed: size, available: payload.count - offset)
            throw LogRecordError(.fieldOverrun(error), at: 0)
        }
        let start = offset + size
        let length = Int(ByteReader.integer(payload, at: offset, as: Length.self))
        guard payload.count - start >= length else {
            let error = ByteCodecError(field: "\(name)", offset: start, needed: length, available: payload.count - start)
            throw LogRecordError(.fieldOverrun(error), at: 0)
        }
        return start..<(start + length)
    }

    /// The fields and sequence of a whole record (prefix included), checked: its checksum, fields
    /// that fill it, and a header that holds a sequence.
    static func verifiedFields(ofRecord record: UnsafeRawBufferPointer) throws(LogRecordError) -> (Fields, sequence: UInt64) {
        guard isIntact(record) else { throw LogRecordError(.checksumMismatch, at: 0) }
        let fields = try fields(ofPayload: payload(ofRecord: record))
        guard let sequence = fields.sequence else { throw LogRecordError(.shortHeader(fields.header.count), at: 0) }
        return (fields, sequence)
    }

    /// Appends one record to `buffer`, with `sequence` stamped into its copy of the header and its
    /// checksum computed. Refuses a message the format cannot frame, leaving `buffer` as it was.
    @inline(__always)
    static func append(topic: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                       sequence: UInt64, to buffer: inout [UInt8]) throws(LogRecordError) {
        precondition(header.count >= WireHeader.minimumSize)
        let length = smallestPayload + topic.count + header.count + body.count
        guard length <= largestPayload, topic.count <= 0xFFFF, header.count <= 0xFFFF else {
            throw LogRecordError(.tooLarge(topic: topic.count, header: header.count, body: body.count), at: buffer.count)
        }
        let start = buffer.count
        buffer.appendInteger(UInt32(length))
        buffer.appendInteger(UInt32(0))
        buffer.appendInteger(UInt16(topic.count))
        buffer.append(contentsOf: topic)
        buffer.appendInteger(UInt16(header.count))
        let headerStart = buffer.count
        buffer.append(contentsOf: header)
        buffer.setInteger(sequence, at: headerStart + WireHeader.sequenceOffset)
        buffer.appendInteger(UInt32(body.count))
        buffer.append(contentsOf: body)
        let checksum = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(start + prefixSize)...])) }
        buffer.setInteger(checksum, at: start + 4)
    }

    /// Calls `body` with the fields of each record in `bytes` and whether its checksum matches
    /// (always true without `verify`). Throws `LogRecordError` when the framing itself is broken.
    @inline(__always)
    static func forEachRecord(in bytes: UnsafeRawBufferPointer, verify: Bool,
                              _ body: (Fields, Bool) throws -> Void) throws {
        var offset = 0
        while offset < bytes.count {
            let record = try record(at: offset, length: try payloadLength(at: offset, in: bytes), in: bytes)
            let fields: Fields
            do throws(LogRecordError) {
                fields = try LogRecordFormat.fields(ofPayload: payload(ofRecord: record))
            } catch {
                throw LogRecordError(error.problem, at: offset)
            }
            try body(fields, !verify || isIntact(record))
            offset += record.count
        }
    }

    /// Calls `body` with each whole record (prefix included) in `bytes`, its framing checked but not
    /// its checksum, until it returns false. Throws `LogRecordError` when the framing is broken.
    static func forEachWholeRecord(in bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        var offset = 0
        while offset < bytes.count {
            let record = try record(at: offset, length: try payloadLength(at: offset, in: bytes), in: bytes)
            guard try body(record) else { return }
            offset += record.count
        }
    }

    /// The topic of a whole record (prefix included) whose length was checked, or as much of it
    /// as the record holds.
    @inline(__always)
    static func topic(ofRecord record: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let length = Int(ByteReader.integer(record, at: prefixSize, as: UInt16.self))
        let start = prefixSize + 2
        return UnsafeRawBufferPointer(rebasing: record[start..<min(record.count, start + length)])
    }
}
