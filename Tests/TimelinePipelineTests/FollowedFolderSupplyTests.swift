import Foundation
import Logging
import Synchronization
import Testing
import Timeline
@testable import TimelinePipeline
import ZeroMQ

/// The tests drive the folder's polls themselves (`poll()`): a file is taken at the second poll
/// that finds it unchanged, so two polls in a row take every complete file.
@Suite("A followed folder of source files")
struct FollowedFolderSupplyTests {
    static let loader: SourceLoader = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return SourceLoader(gazetteer: try! ProjectPaths.loadGazetteer(at: root.appendingPathComponent("Config/gazetteer.json").path))
    }()

    static func event(_ index: Int) -> TimelineEvent { SyntheticEvents.event(index, seed: 9) }
    static func lines(_ indexes: some Sequence<Int>) -> String { indexes.map { EventJSON.encode(event($0)) + "\n" }.joined() }

    /// A folder to follow and a data folder for the state, with a supply over them.
    final class Fixture {
        let base = TemporaryFolder()
        let watched: String
        let data: String
        let reported = Reported()

        final class Reported: Sendable {
            let list = Mutex<[Diagnostic]>([])
        }

        init() {
            watched = base.file("drop")
            data = base.file("data")
            try! FileManager.default.createDirectory(atPath: watched, withIntermediateDirectories: true)
        }

        func supply(maxHeldEvents: Int = 100_000) throws -> FollowedFolderSupply {
            try FollowedFolderSupply(folder: watched + "/", loader: FollowedFolderSupplyTests.loader, dataDirectory: data, stateName: "producer-test",
                                     maxHeldEvents: maxHeldEvents, logger: Logger(label: "test.folder")) { [reported] diagnostic in reported.list.withLock { $0.append(diagnostic) } }
        }

        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: (watched as NSString).appendingPathComponent(name), atomically: false, encoding: .utf8)
        }

        func append(_ name: String, _ text: String) throws {
            let handle = try #require(FileHandle(forWritingAtPath: (watched as NSString).appendingPathComponent(name)))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
        }

        /// Writes under a temporary name, then renames: how a writer should drop a file.
        func drop(_ name: String, _ text: String) throws {
            try write(name + ".part", text)
            try FileManager.default.moveItem(atPath: (watched as NSString).appendingPathComponent(name + ".part"),
                                             toPath: (watched as NSString).appendingPathComponent(name))
        }

        var diagnostics: [Diagnostic] { reported.list.withLock { $0 } }
    }

    func all(_ supply: FollowedFolderSupply) -> [TimelineEvent] {
        supply.events(from: supply.firstHeld, limit: 10_000)
    }

    @Test("Files there at the start are taken in name order at the second poll, then new files as they come")
    func takesFilesAtStartThenNewOnes() throws {
        let fixture = Fixture()
        try fixture.write("b.jsonl", Self.lines(2..<4))
        try fixture.write("a.jsonl", Self.lines(0..<2))
        let supply = try fixture.supply()
        #expect(supply.isOpenEnded && supply.count == 0)
        supply.poll()
        #expect(supply.count == 0, "a file seen once may still be written")
        supply.poll()
        #expect(all(supply) == (0..<4).map(Self.event))

        try fixture.drop("c.jsonl", Self.lines(4..<5))
        supply.poll()
        supply.poll()
        #expect(supply.count == 5 && supply.events(from: 4, limit: 10) == [Self.event(4)])
        supply.poll()
        #expect(supply.count == 5, "a file is taken once")
        #expect(supply.pendingFiles == ["a.jsonl", "b.jsonl", "c.jsonl"])
    }

    @Test("A file still being written is taken only once its size and time stay the same from one poll to the next")
    func waitsForAStableFile() throws {
        let fixture = Fixture()
        let supply = try fixture.supply()
        let text = Self.lines(0..<3)
        try fixture.write("growing.jsonl", String(text.prefix(text.count / 2)))
        supply.poll()
        try fixture.append("growing.jsonl", String(text.dropFirst(text.count / 2)))
        supply.poll()
        #expect(supply.count == 0, "changed since the last poll: not taken")
        supply.poll()
        #expect(all(supply) == (0..<3).map(Self.event))
        #expect(fixture.diagnostics.isEmpty, "nothing read half")
    }

    @Test("Hidden files, files being written under a temporary name and other kinds of file are left alone")
    func ignoresTemporaryAndHidden() throws {
        let fixture = Fixture()
        for name in [".hidden.jsonl", "x.jsonl.part", "x.jsonl.tmp", "x.csv.partial", "x.jsonl.crdownload", "notes.md", "x.zip"] {
            try fixture.write(name, Self.lines(0..<1))
        }
        try FileManager.default.createDirectory(atPath: (fixture.watched as NSString).appendingPathComponent("sub.jsonl"), withIntermediateDirectories: true)
        let supply = try fixture.supply()
        supply.poll()
        supply.poll()
        #expect(supply.count == 0)
        #expect(fixture.diagnostics.isEmpty)
        #expect(FollowedFolderSupply.isSource("20240105120000.export.CSV") && FollowedFolderSupply.isSource("a.TXT"))
    }

    @Test("A file done (its events logged) is not read again after a restart; later files continue the numbering")
    func eachFileOnceAcrossARestart() throws {
        let fixture = Fixture()
        try fixture.write("a.jsonl", Self.lines(0..<2))
        do {
            let supply = try fixture.supply()
            supply.poll()
            supply.poll()
            #expect(supply.count == 2)
            supply.forget(before: 2)
            #expect(supply.doneFiles == ["a.jsonl"] && supply.pendingFiles.isEmpty, "done as soon as the broker logged its events")
        }
        let restarted = try fixture.supply()
        #expect(restarted.count == 2 && restarted.firstHeld == 2, "the numbering goes on where the broker's log of it ends")
        restarted.poll()
        restarted.poll()
        #expect(restarted.count == 2, "a.jsonl is not published again")
        try fixture.drop("b.jsonl", Self.lines(2..<3))
        restarted.poll()
        restarted.poll()
        #expect(restarted.count == 3 && restarted.events(from: 2, limit: 10) == [Self.event(2)])
    }

    @Test("A file taken but not all logged before a restart is published again from the spool, with the same numbers")
    func pendingFileAfterACrash() throws {
        let fixture = Fixture()
        try fixture.write("a.jsonl", Self.lines(0..<2))
        try fixture.write("b.jsonl", Self.lines(2..<5))
        do {
            let supply = try fixture.supply()
            supply.poll()
            supply.poll()
            supply.forget(before: 3)
            supply.poll()
            #expect(supply.doneFiles == ["a.jsonl"] && supply.pendingFiles == ["b.jsonl"])
        }
        // The source changed meanwhile: what is published again is what was taken.
        try fixture.append("b.jsonl", Self.lines(7..<8))
        let restarted = try fixture.supply()
        #expect(restarted.firstHeld == 2 && restarted.count == 5)
        #expect(restarted.events(from: 2, limit: 10) == (2..<5).map(Self.event))
        restarted.forget(before: 5)
        restarted.poll()
        restarted.poll()
        #expect(restarted.count == 6 && restarted.events(from: 5, limit: 10) == [Self.event(7)],
                "the file changed after it was taken is read again; its events already published are not sent again")
        #expect(restarted.doneFiles == ["a.jsonl", "b.jsonl"] && restarted.pendingFiles == ["b.jsonl"])
        let spools = try FileManager.default.contentsOfDirectory(atPath: restarted.spoolFolder)
        #expect(spools == ["5.jsonl"], "the spool of a file done is removed")
        restarted.forget(before: 6)
        restarted.poll()
        let left = try FileManager.default.contentsOfDirectory(atPath: restarted.spoolFolder)
        #expect(restarted.pendingFiles.isEmpty && left.isEmpty)
    }

    @Test("A backlog of files is taken a few at a time: none while the events held reach the bound")
    func backlogIsBounded() throws {
        let fixture = Fixture()
        for (index, name) in ["a", "b", "c"].enumerated() { try fixture.write(name + ".jsonl", Self.lines(index * 3..<index * 3 + 3)) }
        let supply = try fixture.supply(maxHeldEvents: 5)
        supply.poll()
        supply.poll()
        #expect(supply.count == 6 && supply.pendingFiles == ["a.jsonl", "b.jsonl"], "b brought it to 6, past 5: c waits")
        supply.poll()
        #expect(supply.count == 6)
        supply.forget(before: 4)
        supply.poll()
        #expect(supply.count == 9 && supply.events(from: 6, limit: 10) == (6..<9).map(Self.event))
        #expect(supply.pendingFiles == ["b.jsonl", "c.jsonl"])
    }

    @Test("An event already published from an earlier file is not sent again, even after it was let go of")
    func repeatsAcrossFiles() throws {
        let fixture = Fixture()
        try fixture.write("a.jsonl", Self.lines(0..<2))
        let supply = try fixture.supply()
        supply.poll()
        supply.poll()
        supply.forget(before: 2)
        try fixture.drop("b.jsonl", Self.lines([1, 2, 0]))
        try fixture.drop("c.jsonl", Self.lines([0, 1]))
        supply.poll()
        supply.poll()
        #expect(supply.count == 3 && supply.events(from: 2, limit: 10) == [Self.event(2)])
        supply.forget(before: 3)
        supply.poll()
        #expect(supply.doneFiles == ["a.jsonl", "b.jsonl", "c.jsonl"], "a file of repeats only is done at once")
    }

    @Test("A file without events or that cannot be read is reported, written to rejected.jsonl, marked done, and the next files still come")
    func badFilesAreSkipped() throws {
        let fixture = Fixture()
        try fixture.write("a-bad.jsonl", "{not json\n{\"kind\":\"visit\"}\n")
        try fixture.write("b-empty.jsonl", "\n")
        try fixture.write("c-locked.jsonl", Self.lines(0..<1))
        chmod((fixture.watched as NSString).appendingPathComponent("c-locked.jsonl"), 0)
        let unreadable = !FileManager.default.isReadableFile(atPath: (fixture.watched as NSString).appendingPathComponent("c-locked.jsonl"))
        try fixture.write("d-good.jsonl", Self.lines(1..<2) + "oops\n")
        let supply = try fixture.supply()
        supply.poll()
        supply.poll()
        // Root reads a file of mode 000: then it is an ordinary good file.
        #expect(all(supply) == (unreadable ? [Self.event(1)] : [Self.event(0), Self.event(1)]))
        #expect(supply.doneFiles == ["a-bad.jsonl", "b-empty.jsonl"] + (unreadable ? ["c-locked.jsonl"] : []))
        #expect(supply.pendingFiles == (unreadable ? [] : ["c-locked.jsonl"]) + ["d-good.jsonl"])
        if unreadable { #expect(fixture.diagnostics.contains { $0.description.contains("c-locked.jsonl") && $0.description.contains("cannot read") }) }
        let messages = fixture.diagnostics.map(\.description)
        #expect(messages.contains { $0.contains("a-bad.jsonl:1: error") })
        #expect(messages.contains { $0.contains("a-bad.jsonl") && $0.contains("holds no events") })
        #expect(messages.contains { $0.contains("b-empty.jsonl") && $0.contains("empty") })
        #expect(messages.contains { $0.contains("d-good.jsonl:2: error") })
        let rejected = try String(contentsOfFile: (fixture.data as NSString).appendingPathComponent(RejectedLines.fileName), encoding: .utf8)
        #expect(rejected.contains("a-bad.jsonl") && rejected.contains("\"text\":\"oops\""))
        supply.poll()
        supply.poll()
        let taken = supply.count
        #expect(taken == (unreadable ? 1 : 2), "a bad file is not tried again")
        try fixture.drop("e.jsonl", Self.lines(2..<3))
        supply.poll()
        supply.poll()
        #expect(supply.count == taken + 1)
    }

    @Test("A GDELT export dropped into the folder is read as one, told by its content")
    func readsGDELT() throws {
        let fixture = Fixture()
        func row(_ id: Int, _ code: String, _ one: (String, String), _ two: (String, String)) -> String {
            var row = ["\(id)", "20240105", "202401", "2024", "2024.0137"]
            for (name, country) in [one, two] { row += [country + "GOV", name, country, "", "", "", "", "GOV", "", ""] }
            row += ["1", code, String(code.prefix(3)), String(code.prefix(2)), "1", "1.9", "6", "1", "6", "-0.8"]
            for _ in 0..<3 { row += ["4", "Pyongyang, North Korea", "KN", "KN", "", "39.0", "125.7", "-1"] }
            row += ["20240105120000", "https://news.example/\(id)"]
            return row.joined(separator: "\t")
        }
        try fixture.drop("20240105120000.export.CSV", [row(1, "042", ("MONGOLIA", "MNG"), ("NORTH KOREA", "PRK")),
                                                        row(2, "043", ("NORTH KOREA", "PRK"), ("MONGOLIA", "MNG"))].joined(separator: "\n") + "\n")
        let supply = try fixture.supply()
        supply.poll()
        supply.poll()
        let events = all(supply)
        #expect(events.count == 1 && events.first?.kind == .visit && events.first?.cameo == "042")
    }

    @Test("A producer on the folder marks each file done once the broker logged its events, and publishes a later repeat of none",
          .timeLimit(.minutes(1)))
    func producerMarksFilesDoneWhenLogged() throws {
        let fixture = Fixture()
        try fixture.write("a.jsonl", Self.lines(0..<300))
        let supply = try fixture.supply()
        let context = try ZMQContext()
        defer { context.terminate() }
        let broker = try RunningBroker(context: context)
        defer { broker.remove() }
        let settings = ProducerSettings(frontends: [broker.frontend], replays: [broker.replay], producerID: "folder-producer")
        let worker = ProducerWorker(settings: settings, supply: supply, context: context, logger: Logger(label: "test.folder"))
        let stopper = try LoopStopper(context: context, name: "folder-producer")
        defer { stopper.close() }
        let finished = Outcome<Bool>()
        Thread { finished.set((try? worker.run(stopper: stopper)) ?? false) }.start()
        defer {
            stopper.stop()
            _ = eventually(within: .seconds(10)) { finished.get != nil }
        }

        #expect(eventually(within: .seconds(20)) { supply.doneFiles == ["a.jsonl"] && supply.firstHeld == 300 })
        try fixture.drop("b.jsonl", Self.lines(290..<350))
        #expect(eventually(within: .seconds(20)) { supply.doneFiles == ["a.jsonl", "b.jsonl"] && supply.firstHeld == 350 })
        #expect(broker.broker.lastSequence == 350, "every distinct event logged once")
        let state = try JSONDecoder().decode(FollowedFolderSupply.SavedState.self, from: Data(contentsOf: URL(fileURLWithPath: supply.statePath)))
        #expect(state.pending.isEmpty && state.next == 350 && state.done.map(\.name) == ["a.jsonl", "b.jsonl"])
    }

    @Test("A state file that cannot be read, or is another folder's, stops the producer at start, naming it")
    func damagedState() throws {
        let fixture = Fixture()
        let supply = try fixture.supply()
        try fixture.write("a.jsonl", Self.lines(0..<1))
        supply.poll()
        supply.poll()
        supply.close()
        let other = fixture.base.file("other")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        #expect {
            _ = try FollowedFolderSupply(folder: other, loader: Self.loader, dataDirectory: fixture.data, stateName: "producer-test",
                                         logger: Logger(label: "test.folder")) { _ in }
        } throws: { "\($0)".contains("the state file is of the folder") }
        let again = try fixture.supply()
        #expect(again.count == 1, "the same folder named another way is the same")
        again.close()
        try "{".write(toFile: supply.statePath, atomically: false, encoding: .utf8)
        #expect { _ = try fixture.supply() } throws: { "\($0)".contains("cannot read the followed folder's state") }
        #expect(throws: SourceError.self) {
            _ = try FollowedFolderSupply(folder: fixture.base.file("missing"), loader: Self.loader, dataDirectory: fixture.data, stateName: "x",
                                         logger: Logger(label: "test.folder")) { _ in }
        }
    }

    @Test("Two supplies on one state: the second is refused while the first holds it, and taken once it lets go")
    func oneProducerPerState() throws {
        let fixture = Fixture()
        let first = try fixture.supply()
        #expect { _ = try fixture.supply() } throws: { "\($0)".contains("another producer follows this folder") }
        first.close()
        #expect(throws: Never.self) { _ = try fixture.supply() }
    }

    @Test("A broker ahead of a lost state: with nothing held the numbering moves up to it; with files held, it stops naming the way out")
    func brokerAheadOfState() throws {
        let fixture = Fixture()
        let empty = try fixture.supply()
        try empty.resume(brokerLogged: 40)
        try fixture.write("a.jsonl", Self.lines(0..<2))
        empty.poll()
        empty.poll()
        #expect(empty.firstHeld == 40 && empty.count == 42 && empty.events(from: 40, limit: 10) == [Self.event(0), Self.event(1)])
        empty.close()

        let other = Fixture()
        try other.write("a.jsonl", Self.lines(0..<2))
        let holding = try other.supply()
        holding.poll()
        holding.poll()
        #expect(holding.count == 2)
        try holding.resume(brokerLogged: 2)  // what it knows: fine
        #expect { try holding.resume(brokerLogged: 7) } throws: { "\($0)".contains("another --producer-id") }
    }

}
