import Foundation
import Logging
import SystemPackage
import Testing
import Timeline
@testable import TimelinePipeline

/// Events for the snapshot tests: synthetic visits, plus events whose ids are not hex digests
/// and whose text needs escaping, so that both ways of reading an event back are used.
private func sampleEvents(_ count: Int, seed: UInt64 = 12) -> [TimelineEvent] {
    var events = SyntheticEvents.events(count: count, seed: seed)
    for index in stride(from: 7, to: count, by: 50) {
        events[index] = TimelineEvent(id: "source-given:\(seed):\(index)", kind: .agreementSigned, date: EDTFDate(edtf: "1987-05")!,
                                      from: CountryCode("MN")!, to: CountryCode("KP")!, guest: nil, host: nil, place: "Ulan Bator",
                                      description: "A \"treaty\"\nsigned in Ulaanbaatar — été \\ \u{1}", cameo: "057",
                                      source: Provenance(document: "notes.jsonl", section: "Treaties", line: index, row: nil))
    }
    return events
}

/// The snapshot as the writer laid it out when it held every event in memory: the contract the
/// streamed snapshot must match byte for byte.
private func expectedSnapshot(sequence: UInt64, createdAt: String, events: [TimelineEvent]) -> String {
    let statistics = report(sequence: sequence, createdAt: createdAt, events: events)
    var json = "{\"version\":1,\"createdAt\":\"\(createdAt)\",\"sequence\":\(sequence),\"eventCount\":\(events.count),"
    json += "\"statistics\":" + statistics.trimmingCharacters(in: .whitespacesAndNewlines)
    json += ",\"events\":[\n"
    json += events.map(EventJSON.encode).joined(separator: ",\n")
    json += "\n]}\n"
    return json
}

private func report(sequence: UInt64, createdAt: String, events: [TimelineEvent]) -> String {
    Report(title: "Snapshot test", statistics: Statistics(events: events), generatedAt: createdAt,
           position: ["sequence": Int(sequence)], countryNames: [:]).render(.json)
}

@Suite("The snapshot writer's store")
struct SnapshotStoreTests {
    let logger = Logger(label: "test.snapshot")
    let createdAt = "2026-01-02T03:04:05Z"

    func snapshotFolder(_ folder: TemporaryFolder) -> String { folder.file("snapshots") }

    /// Adds the events as the writer does, numbering them from `firstSequence`; returns how many were new.
    @discardableResult
    func add(_ events: [TimelineEvent], to store: inout SnapshotStore, firstSequence: UInt64) throws -> Int {
        var added = 0
        for (offset, event) in events.enumerated() {
            if try store.add(event, sequence: firstSequence + UInt64(offset)) { added += 1 }
            if store.needsWrite { try store.writeBuffered() }
        }
        return added
    }

    @discardableResult
    func writeSnapshot(_ store: inout SnapshotStore, sequence: UInt64, distinct: [TimelineEvent], keep: Int = 5) throws -> SnapshotPointer {
        #expect(store.statistics == Statistics(events: distinct, keepsDates: false))
        let report = Report(title: "Snapshot test", statistics: store.statistics, generatedAt: createdAt, position: ["sequence": Int(sequence)])
        return try store.writeSnapshot(sequence: sequence, createdAt: createdAt, report: report, keep: keep, logger: logger)
    }

    func snapshotText(_ store: SnapshotStore, _ pointer: SnapshotPointer) throws -> String {
        try String(contentsOfFile: (store.folder as NSString).appendingPathComponent(pointer.file), encoding: .utf8)
    }

    func eventsFileSize(_ store: SnapshotStore) throws -> Int64 {
        try FileManager.default.attributesOfItem(atPath: store.events.path.string)[.size] as! Int64
    }

    @Test("A snapshot is byte for byte the one the writer made holding every event in memory", arguments: [0, 1, 3, 12_000])
    func snapshotMatchesTheContract(count: Int) throws {
        let folder = TemporaryFolder()
        var store = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        let events = sampleEvents(count)
        // 12,000 events are several megabytes: records cross the reader's blocks.
        try add(events, to: &store, firstSequence: 1)
        let pointer = try writeSnapshot(&store, sequence: UInt64(count) + 4, distinct: events)
        #expect(try snapshotText(store, pointer) == expectedSnapshot(sequence: UInt64(count) + 4, createdAt: createdAt, events: events))
        let sequence = UInt64(count) + 4
        let expectedPointer = SnapshotPointer(file: SnapshotFiles.name(sequence: sequence), sequence: sequence, eventCount: count, createdAt: createdAt)
        #expect(pointer == expectedPointer)
        #expect(store.statistics == Statistics(events: events, keepsDates: false))
    }

    @Test("An event seen before is dropped, in the same run and after a restart")
    func duplicatesAreDropped() throws {
        let folder = TemporaryFolder()
        let events = sampleEvents(300)
        var store = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        #expect(try add(events + events.prefix(100), to: &store, firstSequence: 1) == 300)
        try writeSnapshot(&store, sequence: 400, distinct: events)

        var reopened = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        #expect(reopened.eventCount == 300)
        #expect(try add(Array(events.suffix(50)), to: &reopened, firstSequence: 401) == 0)
        let more = sampleEvents(20, seed: 99)
        #expect(try add(more + events.prefix(10), to: &reopened, firstSequence: 451) == 20)
        let pointer = try writeSnapshot(&reopened, sequence: 481, distinct: events + more)
        #expect(try snapshotText(reopened, pointer) == expectedSnapshot(sequence: 481, createdAt: createdAt, events: events + more))
    }

    @Test("A restart keeps the latest snapshot's events and cuts the ones taken after it, which then come again")
    func restartContinuesFromTheLatestSnapshot() throws {
        let folder = TemporaryFolder()
        let events = sampleEvents(500)
        var store = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        try add(Array(events[..<300]), to: &store, firstSequence: 1)
        try writeSnapshot(&store, sequence: 300, distinct: Array(events[..<300]))
        let sizeAtSnapshot = try eventsFileSize(store)
        // Taken and written to the events file, then the process dies before the next snapshot.
        try add(Array(events[300...]), to: &store, firstSequence: 301)
        try store.events.sync()
        #expect(try eventsFileSize(store) > sizeAtSnapshot)

        var reopened = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        #expect(reopened.latest?.sequence == 300)
        #expect(reopened.eventCount == 300)
        #expect(reopened.statistics == Statistics(events: events[..<300], keepsDates: false))
        #expect(try eventsFileSize(reopened) == sizeAtSnapshot)
        // The stream starts again after sequence 300: the same events, new to the store.
        #expect(try add(Array(events[300...]), to: &reopened, firstSequence: 301) == 200)
        let pointer = try writeSnapshot(&reopened, sequence: 500, distinct: events)
        #expect(try snapshotText(reopened, pointer) == expectedSnapshot(sequence: 500, createdAt: createdAt, events: events))
    }

    @Test("A torn or damaged tail after the latest snapshot's events is cut on open")
    func tornTailIsCut() throws {
        let folder = TemporaryFolder()
        let events = sampleEvents(120)
        var store = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        try add(Array(events[..<100]), to: &store, firstSequence: 1)
        try writeSnapshot(&store, sequence: 100, distinct: Array(events[..<100]))
        let sizeAtSnapshot = try eventsFileSize(store)
        let path = store.events.path.string

        // Half a record, as a crash in the middle of a write leaves it.
        var record: [UInt8] = []
        SnapshotEventFile.appendRecord(sequence: 101, json: Array(EventJSON.encode(events[100]).utf8), to: &record)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: record.prefix(record.count / 2))
        try handle.close()
        var reopened = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        #expect(reopened.eventCount == 100)
        #expect(try eventsFileSize(reopened) == sizeAtSnapshot)

        // A whole record whose bytes were changed: its checksum no longer matches.
        try add(Array(events[100...]), to: &reopened, firstSequence: 101)
        try reopened.events.sync()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[Int(sizeAtSnapshot) + 20] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        var again = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        #expect(again.eventCount == 100)
        #expect(try eventsFileSize(again) == sizeAtSnapshot)
        try add(Array(events[100...]), to: &again, firstSequence: 101)
        let pointer = try writeSnapshot(&again, sequence: 120, distinct: events)
        #expect(try snapshotText(again, pointer) == expectedSnapshot(sequence: 120, createdAt: createdAt, events: events))
    }

    @Test("A missing or damaged events file is written again from the latest snapshot", arguments: ["missing", "damaged", "short"])
    func eventsFileIsRebuiltFromTheSnapshot(damage: String) throws {
        let folder = TemporaryFolder()
        let events = sampleEvents(400)
        var store = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        try add(Array(events[..<350]), to: &store, firstSequence: 1)
        let first = try writeSnapshot(&store, sequence: 350, distinct: Array(events[..<350]))
        let path = store.events.path.string
        switch damage {
        case "missing":
            // A folder the writer filled before it had an events file.
            try FileManager.default.removeItem(atPath: path)
        case "damaged":
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            bytes[bytes.count / 2] ^= 0x40
            try bytes.write(to: URL(fileURLWithPath: path))
        default:
            try FileHandle(forWritingAtPath: path)!.truncate(atOffset: 5_000)
        }

        var reopened = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        #expect(reopened.eventCount == 350)
        #expect(reopened.statistics == Statistics(events: events[..<350], keepsDates: false))
        // The next snapshot at the same sequence is the same file, and the store goes on from it.
        let same = try writeSnapshot(&reopened, sequence: 350, distinct: Array(events[..<350]))
        #expect(try snapshotText(reopened, same) == expectedSnapshot(sequence: 350, createdAt: createdAt, events: Array(events[..<350])))
        #expect(same == first)
        #expect(try add(events, to: &reopened, firstSequence: 351) == 50)
        let next = try writeSnapshot(&reopened, sequence: 750, distinct: events)
        #expect(try snapshotText(reopened, next) == expectedSnapshot(sequence: 750, createdAt: createdAt, events: events))
    }

    @Test("A snapshot written but not yet named by latest.json is not the one a restart continues from")
    func crashBeforeThePointerKeepsThePreviousSnapshot() throws {
        let folder = TemporaryFolder()
        let events = sampleEvents(200)
        var store = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        try add(Array(events[..<120]), to: &store, firstSequence: 1)
        try writeSnapshot(&store, sequence: 120, distinct: Array(events[..<120]))
        let pointerPath = (store.folder as NSString).appendingPathComponent("latest.json")
        let previousPointer = try Data(contentsOf: URL(fileURLWithPath: pointerPath))
        try add(Array(events[120...]), to: &store, firstSequence: 121)
        try writeSnapshot(&store, sequence: 200, distinct: events)
        // As if the process died after renaming the new snapshot into place, before latest.json.
        try previousPointer.write(to: URL(fileURLWithPath: pointerPath))

        var reopened = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        #expect(reopened.latest?.sequence == 120)
        #expect(reopened.eventCount == 120)
        try add(Array(events[120...]), to: &reopened, firstSequence: 121)
        let pointer = try writeSnapshot(&reopened, sequence: 200, distinct: events)
        #expect(try snapshotText(reopened, pointer) == expectedSnapshot(sequence: 200, createdAt: createdAt, events: events))
    }

    @Test("Only the newest snapshots are kept, and the events file is never pruned")
    func keepsTheNewestSnapshots() throws {
        let folder = TemporaryFolder()
        let events = sampleEvents(60)
        var store = try SnapshotStore(folder: snapshotFolder(folder), logger: logger)
        for round in 0..<6 {
            let slice = Array(events[(round * 10)..<(round * 10 + 10)])
            try add(slice, to: &store, firstSequence: UInt64(round * 10 + 1))
            try writeSnapshot(&store, sequence: UInt64(round * 10 + 10), distinct: Array(events[..<(round * 10 + 10)]), keep: 2)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: store.folder).sorted()
        #expect(names == [SnapshotEventFile.fileName, "latest.json", SnapshotFiles.name(sequence: 50), SnapshotFiles.name(sequence: 60)])
    }
}

@Suite("A snapshot folder's pointer from anyone")
struct SnapshotPointerTests {
    func pointer(_ json: String, snapshot: String? = "snapshot-000000000010.json", size: Int = 300) throws -> TemporaryFolder {
        let folder = TemporaryFolder()
        try json.write(toFile: folder.file("latest.json"), atomically: true, encoding: .utf8)
        if let snapshot { _ = FileManager.default.createFile(atPath: folder.file(snapshot), contents: Data(repeating: 0x20, count: size)) }
        return folder
    }

    @Test("Sequences past 2^63 - 1, counts the file cannot hold, names that are no file of the folder, and a pointer that is no small file are refused")
    func refused() throws {
        let created = "\"createdAt\":\"2026-11-30T00:00:00Z\""
        for json in [
            "{\"file\":\"snapshot-000000000010.json\",\"sequence\":18446744073709551615,\"eventCount\":1,\(created)}",
            "{\"file\":\"snapshot-000000000010.json\",\"sequence\":10,\"eventCount\":1000000000000000000,\(created)}",
            "{\"file\":\"snapshot-000000000010.json\",\"sequence\":10,\"eventCount\":-1,\(created)}",
            "{\"file\":\"..\",\"sequence\":10,\"eventCount\":1,\(created)}",
            "{\"file\":\"missing.json\",\"sequence\":10,\"eventCount\":1,\(created)}",
            "{\"file\":\"a/b.json\",\"sequence\":10,\"eventCount\":1,\(created)}",
        ] {
            let folder = try pointer(json)
            #expect(throws: PipelineError.self, "\(json)") { _ = try SnapshotFiles.readPointer(folder: folder.path) }
        }
        let fifo = TemporaryFolder()
        #expect(mkfifo(fifo.file("latest.json"), 0o600) == 0)
        #expect(throws: PipelineError.self) { _ = try SnapshotFiles.readPointer(folder: fifo.path) }
        let ok = try pointer("{\"file\":\"snapshot-000000000010.json\",\"sequence\":10,\"eventCount\":100,\(created)}")
        #expect(try SnapshotFiles.readPointer(folder: ok.path)?.eventCount == 100)
    }
}
