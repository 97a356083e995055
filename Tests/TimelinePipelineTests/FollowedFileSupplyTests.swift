import Foundation
import Logging
import Synchronization
import Testing
import Timeline
@testable import TimelinePipeline
import ZeroMQ

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

    @Test("Forgetting keeps the indexes of the events after: they are served as before, and counted")
    func forgetKeepsIndexes() throws {
        let folder = TemporaryFolder()
        let path = folder.file("growing.jsonl")
        try (0..<5).map(Self.line).joined().write(toFile: path, atomically: false, encoding: .utf8)
        let supply = try FollowedFileSupply(path: path) { _ in }
        supply.forget(before: 3)
        #expect(supply.count == 5 && supply.firstHeld == 3)
        #expect(supply.events(from: 3, limit: 10) == [3, 4].map { SyntheticEvents.event($0, seed: 5) })
        #expect(supply.events(from: 1, limit: 10).isEmpty, "a forgotten index serves nothing")
        supply.forget(before: 2)
        #expect(supply.firstHeld == 3, "forgetting less than before changes nothing")

        try append(Self.line(5), to: path)
        #expect(supply.waitForMore(beyond: 5, timeout: 5) == 6)
        #expect(supply.events(from: 4, limit: 10) == [4, 5].map { SyntheticEvents.event($0, seed: 5) })
    }

    @Test("A line repeated after its event was forgotten is still a repeat, and not served again")
    func repeatAfterForgetting() throws {
        let folder = TemporaryFolder()
        let path = folder.file("growing.jsonl")
        try (Self.line(0) + Self.line(1)).write(toFile: path, atomically: false, encoding: .utf8)
        let supply = try FollowedFileSupply(path: path) { _ in }
        supply.forget(before: 2)
        try append(Self.line(0) + Self.line(2) + Self.line(1), to: path)
        #expect(supply.waitForMore(beyond: 2, timeout: 5) == 3)
        _ = supply.waitForMore(beyond: 3, timeout: 0.2)
        #expect(supply.count == 3)
        #expect(supply.events(from: 2, limit: 10) == [SyntheticEvents.event(2, seed: 5)])
    }

    @Test("Forgetting past the end lets go of everything read so far, and later events take the next indexes")
    func forgetPastTheEnd() throws {
        let folder = TemporaryFolder()
        let path = folder.file("growing.jsonl")
        try (Self.line(0) + Self.line(1)).write(toFile: path, atomically: false, encoding: .utf8)
        let supply = try FollowedFileSupply(path: path) { _ in }
        supply.forget(before: 100)
        #expect(supply.count == 2 && supply.firstHeld == 2)
        #expect(supply.events(from: 2, limit: 10).isEmpty)
        try append(Self.line(2), to: path)
        #expect(supply.waitForMore(beyond: 2, timeout: 5) == 3)
        #expect(supply.events(from: 2, limit: 10) == [SyntheticEvents.event(2, seed: 5)])
    }

    @Test("A producer following a file holds no more than the events the broker has not logged yet", .timeLimit(.minutes(1)))
    func producerForgetsWhatIsLogged() throws {
        let folder = TemporaryFolder()
        let path = folder.file("growing.jsonl")
        let first = 300, total = 500
        try (0..<first).map(Self.line).joined().write(toFile: path, atomically: false, encoding: .utf8)
        let supply = try FollowedFileSupply(path: path) { _ in }
        let context = try ZMQContext()
        defer { context.terminate() }
        let broker = try RunningBroker(context: context)
        defer { broker.remove() }
        let settings = ProducerSettings(frontends: [broker.frontend], replays: [broker.replay], producerID: "following-producer")
        let worker = ProducerWorker(settings: settings, supply: supply, context: context, logger: Logger(label: "test.follow"))
        let stopper = try LoopStopper(context: context, name: "following-producer")
        defer { stopper.close() }
        let finished = Outcome<Bool>()
        Thread { finished.set((try? worker.run(stopper: stopper)) ?? false) }.start()
        defer {
            stopper.stop()
            _ = eventually(within: .seconds(10)) { finished.get != nil }
        }

        #expect(eventually(within: .seconds(20)) { supply.firstHeld == first }, "the first lines, once logged, are let go of")
        try append((first..<total).map(Self.line).joined() + Self.line(0), to: path)
        #expect(eventually(within: .seconds(20)) { supply.firstHeld == total })
        #expect(broker.broker.lastSequence == UInt64(total), "every distinct event logged once, the repeated line not published")
        // Held: from the first event the broker has not acknowledged, so none it has, and all it has not.
        #expect(eventually(within: .seconds(5)) { worker.report.acknowledged == UInt64(total) })
        #expect(supply.count == total && supply.events(from: supply.firstHeld, limit: 10).isEmpty)
    }

    @Test("A file that cannot be read at the start is an error")
    func missing() {
        #expect(throws: SourceError.self) { _ = try FollowedFileSupply(path: "/nonexistent/file.jsonl") { _ in } }
    }
}
