import Foundation
import Logging
import Testing
@testable import TimelinePipeline

@Suite("The dead-letter file")
struct DeadLetterFileTests {
    let logger = Logger(label: "test")

    func lines(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test("Each rejected message is one JSON line: reason, sequence, producer, and the body as text or base64")
    func lines() throws {
        let folder = TemporaryFolder()
        let letters = DeadLetterFile(folder: folder.path, logger: logger)
        letters.write(reason: "bad \"header\"", sequence: 0, producer: "", body: Array("{\"id\":\"a/b\"}".utf8))
        letters.write(reason: "not UTF-8", sequence: 12, producer: "p-1", body: [0xFF, 0x00, 0x41])
        let written = try lines(folder.file(DeadLetterFile.fileName))
        #expect(written.count == 2)
        #expect(written[0]["reason"] as? String == "bad \"header\"")
        #expect(written[0]["body"] as? String == "{\"id\":\"a/b\"}")
        #expect(written[0]["bodyBase64"] == nil)
        #expect((written[1]["sequence"] as? NSNumber)?.intValue == 12)
        #expect(written[1]["producer"] as? String == "p-1")
        #expect(written[1]["bodyBase64"] as? String == Data([0xFF, 0x00, 0x41]).base64EncodedString())
        #expect(letters.lost == 0)
    }

    @Test("Lines are appended to what an earlier run wrote")
    func appends() throws {
        let folder = TemporaryFolder()
        DeadLetterFile(folder: folder.path, logger: logger).write(reason: "first", sequence: 1, producer: "", body: [])
        DeadLetterFile(folder: folder.path, logger: logger).write(reason: "second", sequence: 2, producer: "", body: [])
        #expect(try lines(folder.file(DeadLetterFile.fileName)).map { $0["reason"] as? String } == ["first", "second"])
    }

    @Test("A line cut short by an earlier run is ended before the next line, which stays whole")
    func tornLine() throws {
        let folder = TemporaryFolder()
        _ = FileManager.default.createFile(atPath: folder.file(DeadLetterFile.fileName), contents: Data(#"{"reason":"tor"#.utf8))
        DeadLetterFile(folder: folder.path, logger: logger).write(reason: "whole", sequence: 1, producer: "", body: [])
        let text = try String(contentsOfFile: folder.file(DeadLetterFile.fileName), encoding: .utf8)
        #expect(text.hasPrefix(#"{"reason":"tor"# + "\n"))
        let last = try #require(text.split(separator: "\n").last)
        #expect(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] != nil)
    }

    @Test("A folder that cannot exist (its parent is a regular file) costs the lines, counted, and nothing else")
    func unusableFolder() throws {
        let folder = TemporaryFolder()
        _ = FileManager.default.createFile(atPath: folder.file("plain"), contents: Data())
        let letters = DeadLetterFile(folder: folder.file("plain/data"), logger: logger)
        for sequence in 1...100 { letters.write(reason: "bad", sequence: UInt64(sequence), producer: "", body: [1]) }
        #expect(letters.lost == 100)
    }

    @Test("A folder that appears later is written to from then on")
    func folderAppears() throws {
        let folder = TemporaryFolder()
        let letters = DeadLetterFile(folder: folder.file("later"), logger: logger)
        letters.write(reason: "lost", sequence: 1, producer: "", body: [])
        try FileManager.default.createDirectory(atPath: folder.file("later"), withIntermediateDirectories: false)
        letters.write(reason: "kept", sequence: 2, producer: "", body: [])
        #expect(letters.lost == 1)
        #expect(try lines(folder.file("later/" + DeadLetterFile.fileName)).map { $0["reason"] as? String } == ["kept"])
    }

    @Test("A full disk (the file is /dev/full) costs the lines, counted, and nothing else")
    func fullDisk() throws {
        let folder = TemporaryFolder()
        try FileManager.default.createSymbolicLink(atPath: folder.file(DeadLetterFile.fileName), withDestinationPath: "/dev/full")
        let letters = DeadLetterFile(folder: folder.path, logger: logger)
        for sequence in 1...100 { letters.write(reason: "bad", sequence: UInt64(sequence), producer: "", body: Array("x".utf8)) }
        #expect(letters.lost == 100)
    }
}
