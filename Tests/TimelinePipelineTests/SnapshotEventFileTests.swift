import Foundation
import SystemPackage
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("The snapshot events file")
struct SnapshotEventFileTests {
    @Test("Records read back in order, with their sequences; a buffer not yet written is not on file")
    func recordsRoundTrip() throws {
        let folder = TemporaryFolder()
        let file = try SnapshotEventFile(folder: folder.path, bufferLimit: 4_096)
        try file.reset()
        let lines = (0..<2_000).map { Array(EventJSON.encode(SyntheticEvents.event($0, seed: 5)).utf8) }
        for (index, line) in lines.enumerated() {
            file.append(sequence: UInt64(index * 2 + 1), json: line)
            if file.isBufferFull { try file.writeBuffer() }
        }
        #expect(file.count == 2_000)
        #expect(file.writtenCount < 2_000)
        try file.sync()
        #expect(file.writtenCount == 2_000)
        #expect(file.bufferedCount == 0)
        var read: [(UInt64, [UInt8])] = []
        let end = try file.scan { record in
            read.append((record.sequence, Array(record.json)))
            return true
        }
        let expected = SnapshotEventFile.ScanEnd(offset: try file.fileSize(), count: 2_000, problem: nil)
        #expect(end == expected)
        let sequences: [UInt64] = (0..<2_000).map { UInt64($0 * 2 + 1) }
        #expect(read.map(\.0) == sequences)
        #expect(read.map(\.1) == lines)
    }

    @Test("Reading stops at a record cut short or whose checksum fails, and says why")
    func scanStopsAtDamage() throws {
        let folder = TemporaryFolder()
        let file = try SnapshotEventFile(folder: folder.path)
        try file.reset()
        for index in 0..<10 { file.append(sequence: UInt64(index + 1), json: Array("{\"n\":\(index)}".utf8)) }
        try file.sync()
        let whole = try file.fileSize()
        let recordSize = (whole - SnapshotEventFile.headerSize) / 10

        try FileHandle(forWritingAtPath: file.path.string)!.truncate(atOffset: UInt64(whole - 3))
        let short = try file.scan { _ in true }
        #expect(short.count == 9)
        #expect(short.offset == whole - recordSize)
        #expect(short.problem?.hasPrefix("an incomplete record") == true)

        var bytes = try Data(contentsOf: URL(fileURLWithPath: file.path.string))
        bytes[Int(SnapshotEventFile.headerSize + recordSize * 4 + 12)] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: file.path.string))
        let damaged = try file.scan { _ in true }
        let expected = SnapshotEventFile.ScanEnd(offset: SnapshotEventFile.headerSize + recordSize * 4, count: 4, problem: "a checksum mismatch")
        #expect(damaged == expected)
    }
}
