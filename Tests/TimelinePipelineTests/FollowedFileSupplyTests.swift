import Foundation
import Synchronization
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("A followed JSON Lines file")
struct FollowedFileSupplyTests {
    static func line(_ index: Int) -> String { EventJSON.encode(SyntheticEvents.event(index, seed: 5)) + "\n" }

    func append(_ text: String, to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    @Test("Lines there at the start are read; appended lines are read as they complete; bad ones are reported with their line")
    func readsAppendedLines() throws {
        let folder = TemporaryFolder()
        let path = folder.file("growing.jsonl")
        try (Self.line(0) + "# a comment\n\n").write(toFile: path, atomically: true, encoding: .utf8)
        let reported = Mutex<[Diagnostic]>([])
        let supply = try FollowedFileSupply(path: path) { diagnostic in reported.withLock { $0.append(diagnostic) } }
        #expect(supply.count == 1 && supply.isOpenEnded)

        let second = Self.line(1)
        try append(Self.line(2) + "{not json\n" + second.prefix(10), to: path)
        #expect(supply.waitForMore(beyond: 1, timeout: 5) == 2, "the half-written line is not read yet")
        #expect(reported.withLock { $0.map(\.line) } == [5])
        try append(String(second.dropFirst(10)), to: path)
        #expect(supply.waitForMore(beyond: 2, timeout: 5) == 3)
        #expect(supply.events(from: 0, limit: 10) == [0, 2, 1].map { SyntheticEvents.event($0, seed: 5) })
        #expect(supply.events(from: 3, limit: 10).isEmpty)
    }

    @Test("A file truncated and written again is read from the top, without repeating the events already read")
    func truncated() throws {
        let folder = TemporaryFolder()
        let path = folder.file("growing.jsonl")
        try (Self.line(0) + Self.line(1)).write(toFile: path, atomically: false, encoding: .utf8)
        let supply = try FollowedFileSupply(path: path) { _ in }
        #expect(supply.count == 2)
        try Self.line(1).write(toFile: path, atomically: false, encoding: .utf8)
        _ = supply.waitForMore(beyond: 2, timeout: 0.2)
        try append(Self.line(3), to: path)
        #expect(supply.waitForMore(beyond: 2, timeout: 5) == 3)
        #expect(supply.events(from: 2, limit: 1) == [SyntheticEvents.event(3, seed: 5)])
    }

    @Test("A file that cannot be read at the start is an error")
    func missing() {
        #expect(throws: SourceError.self) { _ = try FollowedFileSupply(path: "/nonexistent/file.jsonl") { _ in } }
    }
}
