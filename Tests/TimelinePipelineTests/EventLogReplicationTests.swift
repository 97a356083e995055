import Foundation
import Logging
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("Event log replication")
struct EventLogReplicationTests {
    let logger = Logger(label: "test")

    /// Appends synthetic event `index`, from producer `a` for even indexes and `b` for odd ones,
    /// with producer sequence `index + 1`.
    @discardableResult
    func append(_ log: EventLog, _ index: Int) throws -> UInt64 {
        let producer = index % 2 == 0 ? "a" : "b"
        let event = SyntheticEvents.event(index, seed: 5)
        var header = WireHeader(producerSequence: UInt64(index + 1), producer: producer).encoded()
        return try log.append(topic: Array(event.topic.utf8), header: &header, body: Array(EventJSON.encode(event).utf8),
                              producer: producer, producerSequence: UInt64(index + 1))
    }

    /// A log in a fresh folder with `count` records, written to its file.
    func filledLog(_ folder: TemporaryFolder, count: Int) throws -> EventLog {
        let log = try EventLog(folder: folder.path, logger: logger)
        for index in 0..<count { try append(log, index) }
        try log.flush()
        return log
    }

    func fileBytes(_ folder: TemporaryFolder) -> [UInt8] {
        Array(FileManager.default.contents(atPath: EventLog.recordsFile(first: 1, dataFolder: folder.path)) ?? Data())
    }

    /// Where each record of a chunk starts, and the chunk's end.
    func recordStarts(_ chunk: [UInt8]) -> [Int] {
        var starts = [0]
        while starts.last! < chunk.count {
            let length = chunk.withUnsafeBytes { Int(ByteReader.integer($0, at: starts.last!, as: UInt32.self)) }
            starts.append(starts.last! + 8 + length)
        }
        return starts
    }

    @Test("Another log's chunks, appended in turn, give a file identical to it, with the same producer positions")
    func copiesByteForByte() throws {
        let sourceFolder = TemporaryFolder(), copyFolder = TemporaryFolder()
        let source = try filledLog(sourceFolder, count: 700)
        let copy = try EventLog(folder: copyFolder.path, logger: logger)
        while copy.lastSequence < source.lastSequence {
            let chunk = try source.readChunk(after: copy.lastSequence, maxCount: 300)
            #expect(try chunk.bytes.withUnsafeBytes { try copy.appendReplicated($0) } == chunk.count)
            try copy.flush()
        }
        #expect(copy.lastSequence == 700 && copy.recordCount == 700)
        let identical = fileBytes(copyFolder) == fileBytes(sourceFolder)
        #expect(identical, "the copy's file has the source's bytes")
        #expect(copy.producerPositions == source.producerPositions)
        #expect(copy.producerPositions == ["a": 699, "b": 700])
        #expect(try copy.read(after: 255, maxCount: 3) == source.read(after: 255, maxCount: 3))
        let reopened = try EventLog(folder: copyFolder.path, logger: logger)
        #expect(reopened.lastSequence == 700)
    }

    @Test("Appending an empty chunk changes nothing")
    func emptyChunk() throws {
        let folder = TemporaryFolder()
        let log = try filledLog(folder, count: 3)
        #expect(try [UInt8]().withUnsafeBytes { try log.appendReplicated($0) } == 0)
        #expect(log.lastSequence == 3 && log.pendingBytes == 0)
    }

    /// Expects `chunk` to be refused by a log with the first `keep` of the source's records, and
    /// the log to stay as it was, in memory and on file.
    func expectRefused(_ chunk: [UInt8], keep: Int, source: EventLog, _ comment: Comment) throws {
        let folder = TemporaryFolder()
        let log = try EventLog(folder: folder.path, logger: logger)
        let first = try source.readChunk(after: 0, maxCount: keep)
        try first.bytes.withUnsafeBytes { _ = try log.appendReplicated($0) }
        try log.flush()
        let before = fileBytes(folder)
        let positions = log.producerPositions
        #expect(throws: ReplicationError.self, comment) { try chunk.withUnsafeBytes { _ = try log.appendReplicated($0) } }
        #expect(log.lastSequence == UInt64(keep), comment)
        #expect(log.recordCount == UInt64(keep), comment)
        #expect(log.pendingBytes == 0, comment)
        #expect(log.producerPositions == positions, comment)
        try log.flush()
        let unchanged = fileBytes(folder) == before
        #expect(unchanged, "the file is as it was: \(comment)")
        // The right chunk still goes in after a refused one.
        let next = try source.readChunk(after: UInt64(keep), maxCount: 5)
        #expect(try next.bytes.withUnsafeBytes { try log.appendReplicated($0) } == 5, comment)
    }

    @Test("A chunk with a flipped byte in any of its records is refused whole, and the log is unchanged")
    func flippedByte() throws {
        let sourceFolder = TemporaryFolder()
        let source = try filledLog(sourceFolder, count: 20)
        let chunk = try source.readChunk(after: 10, maxCount: 5).bytes
        let starts = recordStarts(chunk)
        for record in [0, 2, 4] {
            for position in [4, 12, starts[record + 1] - starts[record] - 1] {  // the checksum, the topic, the body's last byte
                var damaged = chunk
                damaged[starts[record] + position] ^= 0x10
                try expectRefused(damaged, keep: 10, source: source, "record \(record), byte \(position)")
            }
        }
    }

    @Test("A chunk whose sequences do not follow the log's last, or skip one, is refused whole")
    func sequenceGap() throws {
        let sourceFolder = TemporaryFolder()
        let source = try filledLog(sourceFolder, count: 20)
        try expectRefused(try source.readChunk(after: 11, maxCount: 5).bytes, keep: 10, source: source, "starts one late")
        try expectRefused(try source.readChunk(after: 9, maxCount: 5).bytes, keep: 10, source: source, "starts at a record the log has")
        let gap = try source.readChunk(after: 10, maxCount: 3).bytes + source.readChunk(after: 14, maxCount: 2).bytes
        try expectRefused(gap, keep: 10, source: source, "skips sequence 14")
        let repeated = try source.readChunk(after: 10, maxCount: 3).bytes + source.readChunk(after: 12, maxCount: 1).bytes
        try expectRefused(repeated, keep: 10, source: source, "repeats sequence 13")
    }

    @Test("A chunk cut short inside a record is refused whole")
    func truncatedChunk() throws {
        let sourceFolder = TemporaryFolder()
        let source = try filledLog(sourceFolder, count: 20)
        let chunk = try source.readChunk(after: 10, maxCount: 4).bytes
        try expectRefused(Array(chunk.dropLast(3)), keep: 10, source: source, "the last record cut short")
        try expectRefused(chunk + [0, 0, 0], keep: 10, source: source, "a partial prefix after the last record")
    }

    @Test("A record's checksum is the CRC-32C in its prefix; there is none for sequence 0 or past the end")
    func checksums() throws {
        let folder = TemporaryFolder()
        let log = try filledLog(folder, count: 600)
        let file = fileBytes(folder)
        var offset = 0
        for sequence in 1...600 as ClosedRange<UInt64> {
            let (length, prefixCRC) = file.withUnsafeBytes {
                (Int(ByteReader.integer($0, at: offset, as: UInt32.self)), ByteReader.integer($0, at: offset + 4, as: UInt32.self))
            }
            if [1, 2, 255, 256, 257, 512, 513, 599, 600].contains(sequence) {
                let payload = file.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[(offset + 8)..<(offset + 8 + length)])) }
                #expect(try log.checksum(ofRecord: sequence) == prefixCRC, "sequence \(sequence)")
                #expect(prefixCRC == payload)
            }
            offset += 8 + length
        }
        #expect(try log.checksum(ofRecord: 0) == nil)
        #expect(try log.checksum(ofRecord: 601) == nil)
        #expect(try log.checksum(ofRecord: .max) == nil)
        #expect(try EventLog(folder: TemporaryFolder().path, logger: logger).checksum(ofRecord: 1) == nil)
    }

    @Test("Two logs with the same records give the same checksums")
    func checksumsAgreeAcrossCopies() throws {
        let sourceFolder = TemporaryFolder(), copyFolder = TemporaryFolder()
        let source = try filledLog(sourceFolder, count: 30)
        let copy = try EventLog(folder: copyFolder.path, logger: logger)
        try source.readChunk(after: 0, maxCount: 30).bytes.withUnsafeBytes { _ = try copy.appendReplicated($0) }
        try copy.flush()
        for sequence: UInt64 in 1...30 {
            #expect(try copy.checksum(ofRecord: sequence) == source.checksum(ofRecord: sequence))
        }
    }

    /// Cuts a log of `count` records after `after` and checks the file, the aside file, and appends after it.
    func checkCut(count: Int, after: UInt64) throws {
        let folder = TemporaryFolder()
        let log = try filledLog(folder, count: count)
        let whole = fileBytes(folder)
        // (A chunk always holds at least one record, so none are kept for a cut after 0.)
        let kept = after == 0 ? [] : try log.readChunk(after: 0, maxCount: Int(after)).bytes
        let cut = try log.readChunk(after: after, maxCount: count).bytes
        let split = kept + cut == whole
        #expect(split, "the records kept and the records cut make up the file")
        let aside = folder.file("aside.log")

        #expect(try log.cut(after: after, asideFile: aside) == UInt64(count) - after)
        let asideHoldsCut = Array(FileManager.default.contents(atPath: aside) ?? Data()) == cut
        #expect(asideHoldsCut, "the aside file holds exactly the records cut")
        let fileHoldsKept = fileBytes(folder) == kept
        #expect(fileHoldsKept, "the log's file holds exactly the records kept")
        #expect(log.fileSize == Int64(kept.count))
        #expect(log.lastSequence == after && log.recordCount == after)
        // Event i (sequence i + 1) came from a for even i and b for odd i, with producer sequence i + 1.
        var positions: [String: UInt64] = [:]
        if after >= 1 { positions["a"] = after % 2 == 1 ? after : after - 1 }
        if after >= 2 { positions["b"] = after % 2 == 0 ? after : after - 1 }
        #expect(log.producerPositions == positions)
        #expect(try log.read(after: after, maxCount: 10).isEmpty)
        if after > 0 { #expect(try log.checksum(ofRecord: after) != nil) }
        #expect(try log.checksum(ofRecord: after + 1) == nil)

        // Appends continue at the next sequence, and the records read back are the new ones.
        #expect(try append(log, 5_000) == after + 1)
        #expect(try append(log, 5_001) == after + 2)
        try log.flush()
        let records = try log.read(after: after > 0 ? after - 1 : 0, maxCount: 10)
        #expect(records.map(\.sequence) == (after > 0 ? [after, after + 1, after + 2] : [1, 2]))
        #expect(try WireMessage.decode(records.last!.frames).event == SyntheticEvents.event(5_001, seed: 5))
        #expect(log.producerPositions["a"] == 5_001 && log.producerPositions["b"] == 5_002)
        let reopened = try EventLog(folder: folder.path, logger: logger)
        #expect(reopened.lastSequence == after + 2)
    }

    @Test("Cutting after a sequence keeps the cut records aside, truncates the log, and appends continue from there",
          arguments: [(10, 7), (10, 0), (10, 9), (3, 1)] as [(Int, UInt64)])
    func cut(count: Int, after: UInt64) throws {
        try checkCut(count: count, after: after)
    }

    @Test("Cuts on either side of a 256-record index stride find the right record", arguments: [255, 256, 257, 300, 511, 512, 513] as [UInt64])
    func cutAcrossStride(after: UInt64) throws {
        try checkCut(count: 600, after: after)
    }

    @Test("Cutting at or after the last sequence cuts nothing and writes no aside file")
    func cutNothing() throws {
        let folder = TemporaryFolder()
        let log = try filledLog(folder, count: 5)
        let before = fileBytes(folder)
        #expect(try log.cut(after: 5, asideFile: folder.file("aside.log")) == 0)
        #expect(try log.cut(after: 50, asideFile: folder.file("aside.log")) == 0)
        #expect(!FileManager.default.fileExists(atPath: folder.file("aside.log")))
        let unchanged = fileBytes(folder) == before
        #expect(unchanged && log.lastSequence == 5)
    }

    @Test("A cut first writes the records still pending to the file")
    func cutFlushesFirst() throws {
        let folder = TemporaryFolder()
        let log = try filledLog(folder, count: 5)
        try append(log, 5)
        try append(log, 6)
        #expect(log.pendingBytes > 0)
        let aside = folder.file("aside.log")
        #expect(try log.cut(after: 4, asideFile: aside) == 3)
        let asideBytes = Array(FileManager.default.contents(atPath: aside) ?? Data())
        var sequences: [UInt64] = []
        try asideBytes.withUnsafeBytes { bytes in
            try EventLog.forEachRecord(in: bytes) { _, header, _, intact in
                #expect(intact)
                sequences.append(try WireHeader.decode(header).sequence)
            }
        }
        #expect(sequences == [5, 6, 7])
        #expect(log.lastSequence == 4 && log.pendingBytes == 0)
    }
}
