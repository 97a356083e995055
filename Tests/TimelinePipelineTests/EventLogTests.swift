import Foundation
import Logging
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

    @Test("A torn tail is cut on open, and appends continue from the last whole record", arguments: [1, 7, 30])
    func tornTail(cut: Int) throws {
        let folder = TemporaryFolder()
        do {
            let log = try EventLog(folder: folder.path, logger: logger)
            for index in 0..<100 { _ = try append(log, index) }
            try log.sync()
        }
        let path = folder.file(EventLog.fileName)
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
        let path = folder.file(EventLog.fileName)
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let recordSize = bytes.count / 10
        bytes[recordSize * 5 + 40] ^= 0xFF
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
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
        let handle = try #require(FileHandle(forWritingAtPath: folder.file(EventLog.fileName)))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 40, 1, 2, 3, 4, 5]))
        handle.closeFile()
        #expect(try EventLog(folder: folder.path, logger: logger).lastSequence == 3)
    }

    @Test("An unusable folder is reported with its path")
    func unusableFolder() {
        let folder = TemporaryFolder()
        FileManager.default.createFile(atPath: folder.file("plain-file"), contents: Data())
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
}
