import Testing
import Timeline

@Suite("Byte codec")
struct ByteCodecTests {
    @Test("Integers are written big-endian and read back")
    func integersRoundTrip() throws {
        var bytes: [UInt8] = []
        bytes.appendInteger(UInt8(0xAB))
        bytes.appendInteger(UInt16(0x0102))
        bytes.appendInteger(UInt32(0x0304_0506))
        bytes.appendInteger(UInt64(0x0708_090A_0B0C_0D0E))
        #expect(bytes == [0xAB, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E])
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            var reader = ByteReader(raw)
            #expect(try reader.readInteger(as: UInt8.self) == 0xAB)
            #expect(try reader.readInteger(as: UInt16.self) == 0x0102)
            #expect(try reader.readInteger(as: UInt32.self) == 0x0304_0506)
            #expect(try reader.readInteger(as: UInt64.self) == 0x0708_090A_0B0C_0D0E)
            #expect(reader.isAtEnd)
        }
    }

    @Test("A read past the end throws with the field, offset and sizes, and moves nothing")
    func readPastEndThrows() {
        let bytes: [UInt8] = [0, 0, 0]
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Void in
            var reader = ByteReader(raw)
            #expect(throws: ByteCodecError(field: "body length", offset: 0, needed: 4, available: 3)) {
                try reader.readInteger(as: UInt32.self, "body length")
            }
            #expect(reader.offset == 0)
        }
    }

    @Test("Length-prefixed runs are read in place, and a length that overruns is an error")
    func lengthPrefixed() throws {
        var bytes: [UInt8] = []
        bytes.appendInteger(UInt16(3))
        bytes += Array("abc".utf8)
        bytes.appendInteger(UInt32(10))
        bytes += [1, 2]
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            var reader = ByteReader(raw)
            #expect(Array(try reader.readLengthPrefixed(UInt16.self, "topic")) == Array("abc".utf8))
            #expect(throws: ByteCodecError(field: "body", offset: 9, needed: 10, available: 2)) {
                try reader.readLengthPrefixed(UInt32.self, "body")
            }
        }
    }

    @Test("setInteger overwrites in place, and an exact frame reads as one integer")
    func setAndExact() {
        var bytes = [UInt8](repeating: 0, count: 10)
        bytes.setInteger(UInt64(42), at: 2)
        #expect(bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 42])
        #expect(ByteReader.integer(exactly: [UInt8](bigEndian: UInt64(7)), as: UInt64.self) == 7)
        #expect(ByteReader.integer(exactly: [1, 2, 3], as: UInt64.self) == nil)
    }
}
