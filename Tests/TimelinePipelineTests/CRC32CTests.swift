import Testing
@testable import TimelinePipeline

@Suite("CRC-32C")
struct CRC32CTests {
    /// The plain one-byte-at-a-time definition.
    static func reference(_ bytes: [UInt8], seed: UInt32 = 0) -> UInt32 {
        var crc = ~seed
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static let hardwareMissing = "this CPU has no CRC-32C instructions (timeline_crc32c_hardware() is 0)"

    @Test("The check value of \"123456789\" is 0xE3069283")
    func checkValue() {
        let bytes = Array("123456789".utf8)
        #expect(CRC32C.checksum(bytes) == 0xE306_9283)
        #expect(bytes.withUnsafeBytes { CRC32C.softwareChecksum($0) } == 0xE306_9283)
    }

    @Test("Eight bytes at a time gives the bitwise definition's result at every length and alignment, and continues from a seed")
    func slicingAgreesWithTheDefinition() {
        for length in 0..<100 {
            let bytes = Self.randomBytes(length + 3)
            for start in 0..<3 {
                let slice = Array(bytes[start..<(start + length)])
                #expect(bytes.withUnsafeBytes { CRC32C.softwareChecksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) } == Self.reference(slice))
            }
            let split = length / 3
            let first = Array(bytes[..<split]).withUnsafeBytes { CRC32C.softwareChecksum($0) }
            #expect(Array(bytes[split...]).withUnsafeBytes { CRC32C.softwareChecksum($0, seed: first) } == Self.reference(bytes))
        }
    }

    @Test("The CPU's instructions give the check value, and an empty input leaves the seed as it is",
          .enabled(if: CRC32C.isHardwareAccelerated, Comment(rawValue: hardwareMissing)))
    func hardwareCheckValueAndEmptyInput() {
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.hardwareChecksum($0) } == 0xE306_9283)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(CRC32C.hardwareChecksum(empty) == 0)
        #expect(CRC32C.softwareChecksum(empty) == 0)
        for seed: UInt32 in [1, 0xE306_9283, .max, .random(in: 0...(.max))] {
            #expect(CRC32C.hardwareChecksum(empty, seed: seed) == seed)
            #expect(CRC32C.softwareChecksum(empty, seed: seed) == seed)
        }
    }

    @Test("The CPU's instructions and the Swift tables agree at every length up to 300 and some large ones, from every start alignment",
          .enabled(if: CRC32C.isHardwareAccelerated, Comment(rawValue: hardwareMissing)),
          arguments: Array(0...300) + [4_095, 4_096, 65_537, (1 << 20) + 3])
    func hardwareAgreesWithSoftware(length: Int) {
        let bytes = Self.randomBytes(length + 8)
        let seed = UInt32.random(in: 0...(.max))
        bytes.withUnsafeBytes { all in
            for start in 0..<8 {
                let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                #expect(CRC32C.hardwareChecksum(slice) == CRC32C.softwareChecksum(slice), "start \(start)")
                #expect(CRC32C.hardwareChecksum(slice, seed: seed) == CRC32C.softwareChecksum(slice, seed: seed), "start \(start), seed \(seed)")
            }
        }
    }

    @Test("Continuing with the CPU's instructions from a seed gives the checksum of the whole, split anywhere",
          .enabled(if: CRC32C.isHardwareAccelerated, Comment(rawValue: hardwareMissing)))
    func hardwareContinuesFromASeed() {
        let bytes = Self.randomBytes(1_000)
        let whole = bytes.withUnsafeBytes { CRC32C.softwareChecksum($0) }
        bytes.withUnsafeBytes { all in
            for split in [0, 1, 7, 8, 9, 63, 64, 500, 999, 1_000] {
                let first = CRC32C.hardwareChecksum(UnsafeRawBufferPointer(rebasing: all[..<split]))
                #expect(CRC32C.hardwareChecksum(UnsafeRawBufferPointer(rebasing: all[split...]), seed: first) == whole, "split \(split)")
                let mixed = CRC32C.softwareChecksum(UnsafeRawBufferPointer(rebasing: all[..<split]))
                #expect(CRC32C.hardwareChecksum(UnsafeRawBufferPointer(rebasing: all[split...]), seed: mixed) == whole, "split \(split)")
            }
        }
    }
}
