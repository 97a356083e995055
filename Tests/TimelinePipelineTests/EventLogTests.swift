import Foundation
import Logging
import SystemPackage
import Testing
import Timeline
@testable import TimelinePipeline

/// A fresh folder under the system's temporary folder, removed when the test ends.
final class TemporaryFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "timeline-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
}

@Suite("The event log")
struct EventLogTests {
    let logger = Logger(label: "test")

    func append(_ log: EventLog, _ index: Int, producer: String = "p", producerSequence: UInt64? = nil) throws -> UInt64 {
        let event = SyntheticEvents.event(index, seed: 3)
        var header = WireHeader(producerSequence: producerSequence ?? UInt64(index + 1), producer: producer).encoded()
        return try log.append(topic: Array(event.topic.utf8), header: &header, body: Array(EventJSON.encode(event).utf8),
                              producer: producer, producerSequence: producerSequence ?? UInt64(index + 1))
    }

    @Test("Appends get consecutive sequences and survive reopening, with producer positions")
    func reopen() throws {
        let folder = TemporaryFolder()
        do {
            let log = try EventLog(folder: folder.path, logger: logger)
            for index in 0..<1_000 { #expect(try append(log, index) == UInt64(index + 1)) }
            try log.sync()
        }
        let reopened = try EventLog(folder: folder.path, logger: logger)
        #expect(reopened.lastSequence == 1_000)
        #expect(reopened.producerPositions["p"] == 1_000)
    }

    @Test("Reads return the records after any sequence, in order, with the sequence stamped in the header")
    func readAfter() throws {
        let folder = TemporaryFolder()
        let log = try EventLog(folder: folder.path, logger: logger)
        for index in 0..<1_000 { _ = try append(log, index) }
        for after: UInt64 in [0, 1, 255, 256, 257, 511, 998, 999] {
            let records = try log.read(after: after, maxCount: 10)
            #expect(records.first?.sequence == after + 1)
            #expect(records.map(\.sequence) == Array((after + 1)...min(after + 10, 1_000)))
            let header = try WireHeader.decode(try #require(records.first).header)
            #expect(header.sequence == after + 1)
            let message = try WireMessage.decode(records[0].frames)
            #expect(message.event == SyntheticEvents.event(Int(after), seed: 3))
        }
        #expect(try log.read(after: 1_000, maxCount: 10).isEmpty)
        // Reading on from where the last batch ended uses the cursor and still returns the right records.
        var after: UInt64 = 0
        var seen: [UInt64] = []
        while true {
            let batch = try log.read(after: after, maxCount: 333)
            if batch.isEmpty { break }
            seen += batch.map(\.sequence)
            after = batch.last!.sequence
        }
        #expect(seen == Array(1...1_000))
    }

    /// The payload length in the prefix of the record at `offset`.
    func payloadLength(_ bytes: [UInt8], at offset: Int) -> Int {
        bytes.withUnsafeBytes { Int(ByteReader.integer($0, at: offset, as: UInt32.self)) }
    }

    /// The records of a chunk, with whether each is intact.
    func records(of chunk: [UInt8]) throws -> [(LogRecord, Bool)] {
        var records: [(LogRecord, Bool)] = []
        try chunk.withUnsafeBytes { bytes in
            try EventLog.forEachRecord(in: bytes) { topic, header, body, intact in
                let sequence = try WireHeader.decode(header).sequence
                records.append((LogRecord(sequence: sequence, topic: Array(topic), header: Array(header), body: Array(body)), intact))
            }
        }
        return records
    }

    @Test("A chunk holds the records a read returns, in the log's framing, and a filtered chunk only the matching ones")
    func chunks() throws {
        let folder = TemporaryFolder()
        let log = try EventLog(folder: folder.path, logger: logger)
        for index in 0..<1_000 { _ = try append(log, index) }
        for after: UInt64 in [0, 255, 256, 999] {
            let chunk = try log.readChunk(after: after, maxCount: 300)
            let parsed = try records(of: chunk.bytes)
            #expect(parsed.map(\.0) == (try log.read(after: after, maxCount: 300)))
            #expect(parsed.allSatisfy { $0.1 })
            #expect(chunk.count == parsed.count)
            #expect(chunk.scannedThrough == min(after + 300, 1_000))
        }
        let empty = try log.readChunk(after: 1_000, maxCount: 10)
        #expect(empty.bytes.isEmpty && empty.count == 0 && empty.scannedThrough == 1_000)

        let prefix = Array(SyntheticEvents.event(0, seed: 3).topic.utf8)
        let filtered = try log.readChunk(after: 0, maxCount: 5, prefixes: [prefix])
        let matching = try log.read(after: 0, maxCount: 1_000).filter { $0.topic.starts(with: prefix) }
        #expect(try records(of: filtered.bytes).map(\.0) == Array(matching.prefix(5)))
        #expect(filtered.scannedThrough == matching[4].sequence, "the scan stops at the last record taken")
        let sparse = try log.readChunk(after: 0, maxCount: 5, prefixes: [Array("no-such-topic".utf8)], maxScanned: 400)
        #expect(sparse.count == 0 && sparse.scannedThrough == 400, "a filter that matches nothing still moves the reader on")
    }

    @Test("A record whose bytes changed is reported as not intact; a chunk cut short is an error")
    func damagedChunks() throws {
        let folder = TemporaryFolder()
        let log = try EventLog(folder: folder.path, logger: logger)
        for index in 0..<3 { _ = try append(log, index) }
        var bytes = try log.readChunk(after: 0, maxCount: 3).bytes
        let first = payloadLength(bytes, at: 0)
        bytes[8 + first - 1] ^= 0x01  // the last byte of the first record's body
        #expect(try records(of: bytes).map(\.1) == [false, true, true])
        let secondAt = 8 + first
        let thirdAt = secondAt + 8 + payloadLength(bytes, at: secondAt)
        let third = bytes.count - thirdAt - 8
        #expect(throws: LogRecordError(.overrun(length: third, available: third - 5), at: thirdAt)) { try records(of: Array(bytes.dropLast(5))) }
        #expect(throws: LogRecordError(.overrun(length: first, available: 1), at: 0)) { try records(of: Array(bytes.prefix(9))) }
        #expect(throws: LogRecordError(.incompletePrefix(available: 5), at: 0)) { try records(of: Array(bytes.prefix(5))) }
    }

    @Test("A record damaged on disk after the log was opened is skipped, not served, and reads go on past it")
    func damageAfterOpening() throws {
        let folder = TemporaryFolder()
        let log = try EventLog(folder: folder.path, logger: logger)
        for index in 0..<10 { _ = try append(log, index) }
        try log.sync()
        // Flip one byte inside the fifth record's body, behind the open log's back.
        let chunk = try log.readChunk(after: 0, maxCount: 10).bytes
        var offset = 0
        for _ in 0..<4 { offset += 8 + payloadLength(chunk, at: offset) }
        let handle = try #require(FileHandle(forUpdatingAtPath: EventLog.recordsFile(first: 1, dataFolder: folder.path)))
        handle.seek(toFileOffset: UInt64(offset + 40))
        let byte = handle.readData(ofLength: 1)[0]
        handle.seek(toFileOffset: UInt64(offset + 40))
        handle.write(Data([byte ^ 0x20]))
        handle.closeFile()
        #expect(try log.readChunk(after: 0, maxCount: 4).count == 4, "the records before it are served")
        let past = try log.readChunk(after: 0, maxCount: 10)
        #expect(try records(of: past.bytes).map(\.0.sequence) == [1, 2, 3, 4, 6, 7, 8, 9, 10])
        #expect(past.scannedThrough == 10, "a reader moves on past the damaged record")
        #expect(try log.read(after: 3, maxCount: 3).map(\.sequence) == [4, 6, 7])
        #expect(log.damagedRecordsSkipped == 2)
    }

    @Test("The background syncer makes written records durable while appends go on, and stops at once when asked")
    func backgroundSync() throws {
        let folder = TemporaryFolder()
        let log = try EventLog(folder: folder.path, logger: logger)
        let syncer = LogSyncer(log.syncHandle, interval: .milliseconds(5), logger: logger)
        syncer.start()
        for index in 0..<200 {
            _ = try append(log, index)
            try log.flush()
        }
        let deadline = Date().addingTimeInterval(10)
        while log.syncHandle.isDirty, Date() < deadline { usleep(1_000) }
        #expect(!log.syncHandle.isDirty, "everything written was synced by the background thread")
        syncer.stop()
        #expect(syncer.failure == nil)

        // A syncer waiting out a long interval still stops promptly.
        let idle = LogSyncer(log.syncHandle, interval: .seconds(3_600), logger: logger)
        idle.start()
        let started = Date()
        idle.stop()
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test("Stopping a syncer that never started, or stopping one twice, returns at once")
    func syncerStops() throws {
        let folder = TemporaryFolder()
        let log = try EventLog(folder: folder.path, logger: logger)
        LogSyncer(log.syncHandle, interval: .seconds(3_600), logger: logger).stop()
        let syncer = LogSyncer(log.syncHandle, interval: .seconds(3_600), logger: logger)
        syncer.start()
        syncer.stop()
        syncer.stop()
        #expect(syncer.failure == nil)
    }

    @Test("A torn tail is cut on open, and appends continue from the last whole record", arguments: [1, 7, 30])
    func tornTail(cut: Int) throws {
        let folder = TemporaryFolder()
        do {
            let log = try EventLog(folder: folder.path, logger: logger)
            for index in 0..<100 { _ = try append(log, index) }
            try log.sync()
        }
        let path = EventLog.recordsFile(first: 1, dataFolder: folder.path)
        let size = try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(truncate(path, off_t(size - cut)) == 0)
        let log = try EventLog(folder: folder.path, logger: logger)
        #expect(log.lastSequence == 99)
        #expect(log.producerPositions["p"] == 99)
        #expect(try append(log, 99) == 100)
        try log.sync()
        #expect(try EventLog(folder: folder.path, logger: logger).lastSequence == 100)
    }

    @Test("A corrupted record is detected by its checksum and everything from it on is cut")
    func corruption() throws {
        let folder = TemporaryFolder()
        do {
            let log = try EventLog(folder: folder.path, logger: logger)
            for index in 0..<10 { _ = try append(log, index) }
            try log.sync()
        }
        let path = EventLog.recordsFile(first: 1, dataFolder: folder.path)
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let recordSize = bytes.count / 10
        bytes[recordSize * 5 + 40] ^= 0xFF
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let log = try EventLog(folder: folder.path, logger: logger)
        #expect(log.lastSequence == 5)
    }

    @Test("Garbage appended after the last record is cut")
    func garbageTail() throws {
        let folder = TemporaryFolder()
        do {
            let log = try EventLog(folder: folder.path, logger: logger)
            for index in 0..<3 { _ = try append(log, index) }
            try log.sync()
        }
        let handle = try #require(FileHandle(forWritingAtPath: EventLog.recordsFile(first: 1, dataFolder: folder.path)))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 40, 1, 2, 3, 4, 5]))
        handle.closeFile()
        #expect(try EventLog(folder: folder.path, logger: logger).lastSequence == 3)
    }

    @Test("An unusable folder is reported with its path")
    func unusableFolder() {
        let folder = TemporaryFolder()
        _ = FileManager.default.createFile(atPath: folder.file("plain-file"), contents: Data())
        #expect {
            _ = try EventLog(folder: folder.file("plain-file") + "/log", logger: logger)
        } throws: { error in
            "\(error)".contains("plain-file")
        }
    }
}

@Suite("Atomic files")
struct AtomicFileTests {
    @Test("A write replaces the whole file and leaves no temporary file behind")
    func replaces() throws {
        let folder = TemporaryFolder()
        let path = folder.file("state.json")
        try AtomicFile.write("first", to: path)
        try AtomicFile.write("second", to: path)
        #expect(try AtomicFile.read(path).map { String(decoding: $0, as: UTF8.self) } == "second")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["state.json"])
    }

    @Test("A write into a missing folder fails naming the path, and the old file elsewhere is untouched")
    func failureNamesPath() throws {
        let folder = TemporaryFolder()
        #expect {
            try AtomicFile.write("x", to: folder.file("missing/state.json"))
        } throws: { error in
            "\(error)".contains("missing/state.json")
        }
    }

    @Test("Reading a missing file gives nil, not an error")
    func readMissing() throws {
        let folder = TemporaryFolder()
        #expect(try AtomicFile.read(folder.file("absent")) == nil)
        try AtomicFile.write([UInt8](repeating: 7, count: 10_000), to: folder.file("present"))
        #expect(try AtomicFile.read(folder.file("present")) == [UInt8](repeating: 7, count: 10_000))
    }

    @Test("A folder cannot be prepared under a regular file, and the error carries the system's code")
    func folderUnderAFile() throws {
        let folder = TemporaryFolder()
        try AtomicFile.write("x", to: folder.file("plain"))
        #expect {
            try AtomicFile.prepareFolder(folder.file("plain/sub"))
        } throws: { error in
            (error as? StorageError)?.code == .notDirectory
        }
        #expect(throws: StorageError.self) { try AtomicFile.prepareFolder(folder.file("plain")) }
        try AtomicFile.prepareFolder(folder.file("a/b/c"))
        #expect(FileManager.default.fileExists(atPath: folder.file("a/b/c")))
    }
}
