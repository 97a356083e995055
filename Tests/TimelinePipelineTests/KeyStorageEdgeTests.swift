import Foundation
import Testing
import Timeline
@testable import TimelinePipeline

/// The counted-key storage at its edges: the first and last stretch of the sorted run, the unsaved
/// keys' mapped memory growing, and a checkpoint that fails half way.
@Suite("Counted keys at their edges")
struct KeyStorageEdgeTests {
    /// A key whose mixed form has `top` as its top 16 bits (the bits the sorted run leaves out).
    func key(top: Int, _ high: UInt64, _ low: UInt64) -> EventKey {
        EventKeySet.Mixed(high: UInt64(top) << 48 | (high & 0xFFFF_FFFF_FFFF), low: low).key
    }

    /// splitmix64, so that a failure can be run again.
    struct Numbers {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("Keys under the first and the last top bits, merged over several rounds, are found, listed, copied and reloaded exactly")
    func firstAndLastStretches() throws {
        var numbers = Numbers(state: 17)
        var set = EventKeySet()
        var reference = Set<EventKey>()
        var copies: [(EventKeySet, Set<EventKey>)] = []
        var disagreements = 0
        // About 100,000 keys: merges into the run at every 32,768 new keys.
        for round in 0..<4 {
            var keys: [EventKey] = []
            for _ in 0..<11_000 { keys.append(key(top: 0xFFFF, numbers.next(), numbers.next())) }
            for _ in 0..<11_000 { keys.append(key(top: 0, numbers.next(), numbers.next())) }
            for _ in 0..<3_000 { keys.append(key(top: Int(numbers.next() & 0xFFFF), numbers.next(), numbers.next())) }
            keys += [key(top: 0xFFFF, .max, .max), key(top: 0, 0, 0), key(top: 0xFFFF, 0, 0), key(top: 0, .max, .max)]
            for key in keys where try set.insert(key) != reference.insert(key).inserted { disagreements += 1 }
            if round % 2 == 0 { copies.append((set, reference)) }
        }
        #expect(disagreements == 0)
        #expect(set.count == reference.count)
        #expect(reference.filter { !set.contains($0) }.isEmpty)
        let absent = (0..<10_000).flatMap { _ in [key(top: 0xFFFF, numbers.next(), numbers.next()), key(top: 0, numbers.next(), numbers.next())] }
        #expect(absent.filter { set.contains($0) && !reference.contains($0) }.isEmpty)
        for (copy, expected) in copies {
            var listed = Set<EventKey>()
            copy.forEach { listed.insert($0) }
            #expect(copy.count == expected.count && listed == expected)
        }
        var bytes: [UInt8] = []
        set.forEach { $0.append(to: &bytes) }
        let reloaded = try bytes.withUnsafeBytes { try EventKeySet(keysIn: $0) }
        #expect(reloaded.count == reference.count && reference.filter { !reloaded.contains($0) }.isEmpty)
    }

    @Test("Unsaved keys grow past their first mapped MiB; a copy taken on the way and a view of written keys stay as they were")
    func unsavedKeysGrow() throws {
        var keys = UnsavedKeys()
        var copy: UnsavedKeys?
        for index in 0..<200_000 {
            try keys.reserveOne()
            keys.append(EventKey(high: UInt64(index), low: ~UInt64(index)))
            if index == 70_000 { copy = keys }
        }
        #expect(keys.count == 200_000)
        #expect((0..<200_000).allSatisfy { keys[$0] == EventKey(high: UInt64($0), low: ~UInt64($0)) })
        #expect(copy?.count == 70_001 && copy?[70_000] == EventKey(high: 70_000, low: ~UInt64(70_000)))
        let view = keys.bytes(count: 1_000)
        keys.removeFirst(1_000)
        try keys.reserveOne()
        keys.append(EventKey(high: 1, low: 1))
        view.withUnsafeBytes { raw in
            #expect(EventKey(raw, at: 16 * 999) == EventKey(high: 999, low: ~UInt64(999)))
        }
        #expect(keys[0] == EventKey(high: 1_000, low: ~UInt64(1_000)))
    }

    @Test("A checkpoint whose state file cannot be written, then more events and a checkpoint that succeeds: every key once on load")
    func failedCheckpointThenRetry() throws {
        let folder = TemporaryFolder()
        func summary(_ index: Int) -> EventSummary { EventSummary(SyntheticEvents.event(index, seed: 9)) }
        var state = AggregatorState()
        for index in 0..<100 { try state.apply(summary(index)) }
        let first = state.checkpoint()
        try AggregatorState.write(first, to: folder.path)
        state.saved(first)
        for index in 100..<200 { try state.apply(summary(index)) }
        // The state file cannot be replaced while a folder that is not empty stands in its place;
        // the keys are appended before it.
        let statePath = folder.file(AggregatorState.fileName)
        let saved = try Data(contentsOf: URL(fileURLWithPath: statePath))
        try FileManager.default.removeItem(atPath: statePath)
        try FileManager.default.createDirectory(atPath: statePath + "/x", withIntermediateDirectories: true)
        #expect(throws: (any Error).self) { try AggregatorState.write(state.checkpoint(), to: folder.path) }
        try FileManager.default.removeItem(atPath: statePath)
        try saved.write(to: URL(fileURLWithPath: statePath))
        for index in 200..<300 { try state.apply(summary(index)) }
        let retry = state.checkpoint()
        try AggregatorState.write(retry, to: folder.path)
        state.saved(retry)
        let loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.countedEvents == 300)
        #expect((0..<300).allSatisfy { loaded.hasCounted(summary($0).key) })
        #expect(loaded.statistics == state.statistics)
    }

    @Test("Merging many small sources keeps every event once and notes nothing")
    func manySmallSources() {
        let events = (0..<20_000).map { SyntheticEvents.event($0, seed: 3) }
        var merged = MergedEvents()
        for start in stride(from: 0, to: events.count, by: 20) {
            merged.add(SourceReading(document: "f\(start)", events: Array(events[start..<(start + 20)])))
        }
        #expect(merged.events.map(\.id) == events.map(\.id) && merged.diagnostics.isEmpty)
    }
}
