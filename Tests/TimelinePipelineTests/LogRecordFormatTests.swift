import Testing
import Timeline
@testable import TimelinePipeline

@Suite("The event log's record format")
struct LogRecordFormatTests {
    static let header = WireHeader(producerSequence: 7, producer: "p").encoded()

    /// Appends one record of the given fields to `buffer`.
    static func append(topic: [UInt8], header: [UInt8] = header, body: [UInt8], sequence: UInt64, to buffer: inout [UInt8]) throws(LogRecordError) {
        let result = topic.withUnsafeBytes { topic in
            header.withUnsafeBytes { header in
                body.withUnsafeBytes { body in
                    Result { () throws(LogRecordError) in
                        try LogRecordFormat.append(topic: topic, header: header, body: body, sequence: sequence, to: &buffer)
                    }
                }
            }
        }
        try result.get()
    }

    /// Each record's topic, header, body and integrity.
    static func fields(_ bytes: [UInt8], verify: Bool = true) throws -> [([UInt8], [UInt8], [UInt8], Bool)] {
        var fields: [([UInt8], [UInt8], [UInt8], Bool)] = []
        try bytes.withUnsafeBytes { raw in
            try LogRecordFormat.forEachRecord(in: raw, verify: verify) { record, intact in
                fields.append((Array(record.topic), Array(record.header), Array(record.body), intact))
            }
        }
        return fields
    }

    @Test("A record is laid out as the documented framing, with the sequence stamped in the header")
    func layout() throws {
        var bytes: [UInt8] = []
        try Self.append(topic: Array("t".utf8), body: [0xAB, 0xCD], sequence: 0x0102_0304_0506_0708, to: &bytes)
        var header = Self.header
        WireHeader.stamp(sequence: 0x0102_0304_0506_0708, into: &header)
        var payload: [UInt8] = [0, 1, 0x74, 0, UInt8(header.count)] + header + [0, 0, 0, 2, 0xAB, 0xCD]
        payload = [0, 0, 0, UInt8(payload.count)] + Array(bigEndian: CRC32C.checksum(payload)) + payload
        #expect(bytes == payload)
    }

    @Test("Records round-trip: every field back, in order, empty ones included, and all intact")
    func roundTrip() throws {
        let cases: [([UInt8], [UInt8])] = [([], []), (Array("visit/KP".utf8), Array("{}".utf8)), ([1], [UInt8](repeating: 9, count: 70_000))]
        var bytes: [UInt8] = []
        for (index, (topic, body)) in cases.enumerated() {
            try Self.append(topic: topic, body: body, sequence: UInt64(index + 1), to: &bytes)
        }
        let parsed = try Self.fields(bytes)
        #expect(parsed.map(\.0) == cases.map(\.0))
        #expect(parsed.map(\.2) == cases.map(\.1))
        #expect(parsed.allSatisfy { $0.3 })
        #expect(try parsed.map { try WireHeader.decode($0.1).sequence } == [1, 2, 3])
        #expect(try parsed.map { try WireHeader.decode($0.1).producerSequence } == [7, 7, 7])
        try bytes.withUnsafeBytes { raw in
            let length = try LogRecordFormat.payloadLength(at: 0, in: raw)
            let record = try LogRecordFormat.record(at: 0, length: length, in: raw)
            #expect(LogRecordFormat.topic(ofRecord: record).isEmpty)
            #expect(try LogRecordFormat.verifiedFields(ofRecord: record).sequence == 1)
            #expect(try LogRecord(payload: LogRecordFormat.payload(ofRecord: record)).sequence == 1)
        }
    }

    @Test("Bytes cut anywhere inside a record give an error naming the record's start and what is missing")
    func truncated() throws {
        var bytes: [UInt8] = []
        try Self.append(topic: Array("a".utf8), body: Array("first".utf8), sequence: 1, to: &bytes)
        let second = bytes.count
        try Self.append(topic: Array("b".utf8), body: Array("second".utf8), sequence: 2, to: &bytes)
        let length = bytes.count - second - 8
        for cut in (second + 1)..<bytes.count {
            let expected: LogRecordError.Problem = cut - second < 8
                ? .incompletePrefix(available: cut - second)
                : .overrun(length: length, available: cut - second - 8)
            #expect(throws: LogRecordError(expected, at: second)) { try Self.fields(Array(bytes[..<cut])) }
        }
        #expect(try Self.fields(Array(bytes[..<second])).count == 1)
    }

    @Test("A length out of range, fields that overrun the record, and bytes after the body are each named")
    func malformed() throws {
        #expect(throws: LogRecordError(.lengthOutOfRange(3), at: 0)) { try Self.fields([0, 0, 0, 3, 0, 0, 0, 0, 1, 2, 3]) }
        #expect(throws: LogRecordError(.lengthOutOfRange(16 << 20 + 1), at: 0)) { try Self.fields(Array(bigEndian: UInt32(16 << 20 + 1)) + [0, 0, 0, 0]) }
        // A topic length of 9 in a payload of 8 bytes.
        let overrun: [UInt8] = [0, 0, 0, 8, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0]
        #expect {
            try Self.fields(overrun, verify: false)
        } throws: { error in
            guard let error = error as? LogRecordError, case .fieldOverrun(let codec) = error.problem else { return false }
            return codec.field == "topic" && "\(error)".contains("topic")
        }
        let trailing: [UInt8] = [0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF]
        #expect(throws: LogRecordError(.trailingBytes(1), at: 0)) { try Self.fields(trailing, verify: false) }
    }

    @Test("A changed byte fails the checksum; verification can be left off")
    func checksum() throws {
        var bytes: [UInt8] = []
        try Self.append(topic: Array("a".utf8), body: Array("body".utf8), sequence: 1, to: &bytes)
        bytes[bytes.count - 1] ^= 0x01
        #expect(try Self.fields(bytes).map(\.3) == [false])
        #expect(try Self.fields(bytes, verify: false).map(\.3) == [true])
        #expect(throws: LogRecordError(.checksumMismatch, at: 0)) {
            try bytes.withUnsafeBytes { try LogRecordFormat.verifiedFields(ofRecord: $0) }
        }
    }

    @Test("A message too large for the format is refused and leaves the buffer as it was")
    func tooLarge() throws {
        var bytes: [UInt8] = [1, 2, 3]
        #expect(throws: LogRecordError(.tooLarge(topic: 70_000, header: Self.header.count, body: 0), at: 3)) {
            try Self.append(topic: [UInt8](repeating: 0, count: 70_000), body: [], sequence: 1, to: &bytes)
        }
        #expect(throws: LogRecordError.self) {
            try Self.append(topic: [], body: [UInt8](repeating: 0, count: EventLog.maximumRecordSize), sequence: 1, to: &bytes)
        }
        #expect(bytes == [1, 2, 3])
    }
}
