// CRC-32C throughput: the CPU's instructions (CChecksum) against the Swift slicing-by-8 tables,
// over the same 64 MiB in one process, as one buffer and as log-record-sized pieces. Rounds
// alternate the two paths so that load from elsewhere spreads over both; the median round counts.
//
//     swift build -c release --product CRC32CBenchmark && .build/release/CRC32CBenchmark [--rounds N]

import Foundation
import TimelinePipeline

let size = 64 << 20
let recordSize = 256
var rounds = 7
if let index = CommandLine.arguments.firstIndex(of: "--rounds"), index + 1 < CommandLine.arguments.count,
   let value = Int(CommandLine.arguments[index + 1]), value > 0 {
    rounds = value
}

guard CRC32C.isHardwareAccelerated else {
    print("this CPU has no CRC-32C instructions (timeline_crc32c_hardware() is 0): nothing to compare")
    exit(2)
}

var generator = SystemRandomNumberGenerator()
var buffer = [UInt8](repeating: 0, count: size)
buffer.withUnsafeMutableBytes { bytes in
    for offset in stride(from: 0, to: size, by: 8) {
        bytes.storeBytes(of: generator.next(), toByteOffset: offset, as: UInt64.self)
    }
}

typealias Checksum = (UnsafeRawBufferPointer, UInt32) -> UInt32

/// Seconds for one pass over the buffer, in one call or one call per `piece` bytes, and the CRCs
/// combined so that the work cannot be dropped.
func pass(_ checksum: Checksum, over buffer: [UInt8], piece: Int?) -> (seconds: Double, result: UInt32) {
    let clock = ContinuousClock()
    var result: UInt32 = 0
    let elapsed = clock.measure {
        buffer.withUnsafeBytes { bytes in
            guard let piece else {
                result = checksum(bytes, 0)
                return
            }
            for start in stride(from: 0, to: bytes.count, by: piece) {
                result ^= checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + piece, bytes.count)]), 0)
            }
        }
    }
    let (seconds, attoseconds) = elapsed.components
    return (Double(seconds) + Double(attoseconds) / 1e18, result)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

let hardware: Checksum = { CRC32C.hardwareChecksum($0, seed: $1) }
let software: Checksum = { CRC32C.softwareChecksum($0, seed: $1) }
let mebibytes = Double(size) / Double(1 << 20)

print("CRC-32C over \(Int(mebibytes)) MiB, \(rounds) rounds, median")
for (label, piece) in [("one buffer", nil), ("\(recordSize)-byte records", recordSize)] as [(String, Int?)] {
    var hardwareSeconds: [Double] = []
    var softwareSeconds: [Double] = []
    _ = pass(hardware, over: buffer, piece: piece)
    _ = pass(software, over: buffer, piece: piece)
    for _ in 0..<rounds {
        let fast = pass(hardware, over: buffer, piece: piece)
        let slow = pass(software, over: buffer, piece: piece)
        guard fast.result == slow.result else {
            print("\(label): the two paths disagree (\(fast.result) against \(slow.result))")
            exit(1)
        }
        hardwareSeconds.append(fast.seconds)
        softwareSeconds.append(slow.seconds)
    }
    let hardwareRate = mebibytes / median(hardwareSeconds)
    let softwareRate = mebibytes / median(softwareSeconds)
    let ratio = hardwareRate / softwareRate
    print("\(label): hardware \(Int(hardwareRate.rounded())) MiB/s, Swift tables \(Int(softwareRate.rounded())) MiB/s, ratio \((ratio * 10).rounded() / 10)")
}
