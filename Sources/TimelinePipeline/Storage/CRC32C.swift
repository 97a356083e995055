internal import CChecksum

/// CRC-32C (Castagnoli), the checksum on every record of the event log and on the aggregator's
/// state: it catches torn and corrupted records, not deliberate tampering.
///
/// On a CPU with CRC-32C instructions (SSE4.2 on x86-64, the CRC32 extension on ARMv8) the C
/// target `CChecksum` computes it eight bytes per instruction. Elsewhere, slicing-by-8 in Swift:
/// eight tables let the loop take eight bytes per step instead of one. Both give the same results,
/// so the files they check are the same whichever wrote them. `package` for the benchmark
/// (`Benchmarks/crc32c`).
package enum CRC32C {
    /// Whether `checksum` runs on the CPU's instructions (`timeline_crc32c_hardware()`), decided
    /// once per process.
    package static let isHardwareAccelerated = timeline_crc32c_hardware() != 0

    /// `tables[k][b]`: the CRC of byte `b` followed by `k` zero bytes.
    private static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for index in 0..<256 {
            var crc = UInt32(index)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[index] = crc
        }
        for index in 0..<256 {
            for slice in 1..<8 {
                let previous = tables[(slice - 1) * 256 + index]
                tables[slice * 256 + index] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
            }
        }
        return tables
    }()

    /// The CRC of `bytes`; passing the CRC of earlier bytes as `seed` continues it, so
    /// `checksum(b, seed: checksum(a)) == checksum(a + b)`.
    package static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        isHardwareAccelerated ? hardwareChecksum(bytes, seed: seed) : softwareChecksum(bytes, seed: seed)
    }

    /// `checksum` on the CPU's instructions (`timeline_crc32c`); a bit at a time, slowly, when
    /// `isHardwareAccelerated` is false.
    package static func hardwareChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        timeline_crc32c(seed, bytes.baseAddress, bytes.count)
    }

    /// `checksum` with the slicing-by-8 tables: the fallback, and the reference for the hardware
    /// path in tests.
    package static func softwareChecksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        var crc = ~seed
        tables.withUnsafeBufferPointer { table in
            var index = 0
            let count = bytes.count
            while count - index >= 8 {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                let low = UInt32(truncatingIfNeeded: word) ^ crc
                let high = UInt32(truncatingIfNeeded: word >> 32)
                crc = table[7 * 256 + Int(low & 0xFF)] ^ table[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ table[5 * 256 + Int((low >> 16) & 0xFF)] ^ table[4 * 256 + Int(low >> 24)]
                    ^ table[3 * 256 + Int(high & 0xFF)] ^ table[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ table[1 * 256 + Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        return ~crc
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
