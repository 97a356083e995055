import Foundation
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("The counted-key set")
struct EventKeySetTests {
    @Test("Inserts and lookups agree with the standard Set through many merges, the all-zero key included")
    func agreesWithSet() throws {
        var generator = SystemRandomNumberGenerator()
        var set = EventKeySet()
        var reference = Set<EventKey>()
        // Random keys, keys differing in one low digit (ids people number), the all-zero key, and
        // the key that the mix turns into zero.
        var keys = (0..<150_000).map { _ in EventKey(high: generator.next(), low: generator.next()) }
        keys += (0..<60_000).map { EventKey(high: 0, low: UInt64($0)) }
        keys += (0..<30_000).map { EventKey(high: UInt64($0) << 40, low: 0) }
        keys.append(EventKeySet.Mixed(high: 0, low: 0).key)
        keys += keys.prefix(20_000)
        keys.shuffle(using: &generator)
        for (index, key) in keys.enumerated() {
            #expect(try set.insert(key) == reference.insert(key).inserted)
            if index % 997 == 0 { #expect(set.contains(key)) }
        }
        #expect(set.count == reference.count)
        for key in reference { #expect(set.contains(key)) }
        for _ in 0..<5_000 { #expect(!set.contains(EventKey(high: generator.next() | 1 << 63, low: generator.next()))) }
        var listed = Set<EventKey>()
        set.forEach { listed.insert($0) }
        #expect(listed == reference)
    }

    @Test("Keys alike in all but the 16 top bits the sorted run leaves out stay apart through merges, and are listed whole")
    func keysAlikeBelowTheTopBits() throws {
        var generator = SystemRandomNumberGenerator()
        // Three lower parts, each under every even top: 98,304 keys, enough for several merges.
        let lowerParts: [(UInt64, UInt64)] = [(0, 0), (0xFFFF_FFFF_FFFF, .max), (0x1234_5678_9ABC, 0x0FED_CBA9_8765_4321)]
        func key(top: Int, _ lower: (UInt64, UInt64)) -> EventKey {
            EventKeySet.Mixed(high: UInt64(top) << 48 | lower.0, low: lower.1).key
        }
        var keys = lowerParts.flatMap { lower in stride(from: 0, to: 1 << 16, by: 2).map { key(top: $0, lower) } }
        keys.shuffle(using: &generator)
        var set = EventKeySet()
        for key in keys { #expect(try set.insert(key)) }
        #expect(set.count == keys.count)
        for key in keys { #expect(set.contains(key)) }
        // The odd tops were never added: the same stored bits, another key.
        for lower in lowerParts {
            for top in stride(from: 1, to: 1 << 16, by: 2) { #expect(!set.contains(key(top: top, lower))) }
        }
        var listed = Set<EventKey>()
        set.forEach { listed.insert($0) }
        #expect(listed == Set(keys))
        for key in keys.prefix(1_000) { #expect(try !set.insert(key)) }
        #expect(set.count == keys.count)
    }

    @Test("The mix is undone exactly")
    func mixIsInvertible() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let key = EventKey(high: generator.next(), low: generator.next())
            #expect(EventKeySet.Mixed(key).key == key)
        }
    }

    @Test("A copy is independent of the set it was copied from")
    func copiesAreValues() throws {
        var original = EventKeySet()
        for index in 0..<50_000 { try original.insert(EventKey(high: UInt64(index), low: 7)) }
        var copy = original
        try copy.insert(EventKey(high: 1, low: 1))
        try original.insert(EventKey(high: 2, low: 2))
        #expect(copy.contains(EventKey(high: 1, low: 1)) && !original.contains(EventKey(high: 1, low: 1)))
        #expect(original.contains(EventKey(high: 2, low: 2)) && !copy.contains(EventKey(high: 2, low: 2)))
        #expect(copy.count == 50_001 && original.count == 50_001)
    }
}

@Suite("The aggregator's state files")
struct AggregatorStateTests {
    static func summary(_ index: Int) -> EventSummary { EventSummary(SyntheticEvents.event(index, seed: 9)) }

    @Test("Checkpoints append only new keys, and loading gives back the statistics, position and every counted key")
    func roundTrip() throws {
        let folder = TemporaryFolder()
        var state = AggregatorState()
        for index in 0..<1_000 { try state.apply(Self.summary(index)) }
        state.position = StreamPosition(sequence: 1_000, producers: ["p": 1_000])
        try state.save(to: folder.path)
        state.saved(state.checkpoint())
        #expect(try keyFileSize(folder) == 16_000)
        for index in 1_000..<1_500 { try state.apply(Self.summary(index)) }
        try state.apply(Self.summary(3))
        state.position.sequence = 1_501
        let checkpoint = state.checkpoint()
        #expect(checkpoint.keys.count == 500 * 16, "only the keys counted since the last checkpoint")
        try AggregatorState.write(checkpoint, to: folder.path)
        state.saved(checkpoint)

        let loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.statistics == state.statistics)
        #expect(loaded.position == state.position)
        #expect(loaded.duplicateEvents == 1)
        #expect(loaded.countedEvents == 1_500)
        for index in 0..<1_500 { #expect(loaded.hasCounted(Self.summary(index).key)) }
        #expect(!loaded.hasCounted(Self.summary(1_500).key))
        let offline = try AggregatorState.load(from: folder.path, keys: false)
        #expect(offline.statistics == state.statistics)
    }

    @Test("Keys counted between taking a checkpoint and recording it go into the next one; a copy of the state keeps its own keys")
    func keysCountedDuringACheckpoint() throws {
        let folder = TemporaryFolder()
        var state = AggregatorState()
        for index in 0..<100 { try state.apply(Self.summary(index)) }
        let first = state.checkpoint()
        let copy = state
        var other = state
        for index in 100..<130 { try state.apply(Self.summary(index)) }
        for index in 200..<210 { try other.apply(Self.summary(index)) }
        try AggregatorState.write(first, to: folder.path)
        state.saved(first)
        #expect(first.keys.count == 100 * 16)
        let second = state.checkpoint()
        #expect(second.keys.count == 30 * 16, "only the keys counted after the first checkpoint was taken")
        try AggregatorState.write(second, to: folder.path)
        state.saved(second)
        #expect(state.checkpoint().keys.count == 0)

        // The keys file: every key once, in the order counted, `high` then `low`, big-endian.
        var expected: [UInt8] = []
        for index in 0..<130 { Self.summary(index).key.append(to: &expected) }
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder.file(AggregatorState.keysFileName)))) == expected)
        let loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.countedEvents == 130)
        for index in 0..<130 { #expect(loaded.hasCounted(Self.summary(index).key)) }

        // The copies were not changed by the state's keys, nor the state by theirs.
        #expect(copy.unsavedKeys.count == 100 && copy.checkpoint().keys.count == 100 * 16)
        #expect(other.unsavedKeys.count == 110 && other.unsavedKeys[100] == Self.summary(200).key)
        #expect((0..<100).allSatisfy { other.unsavedKeys[$0] == Self.summary($0).key })
        #expect(!state.hasCounted(Self.summary(200).key))
    }

    @Test("Keys written after the last state file (a checkpoint that failed half way) are ignored and overwritten")
    func keysPastTheStateAreCut() throws {
        let folder = TemporaryFolder()
        var state = AggregatorState()
        for index in 0..<100 { try state.apply(Self.summary(index)) }
        try state.save(to: folder.path)
        state.saved(state.checkpoint())
        // A torn append: half a key of garbage after the saved ones.
        let handle = try #require(FileHandle(forWritingAtPath: folder.file(AggregatorState.keysFileName)))
        handle.seekToEndOfFile()
        handle.write(Data([1, 2, 3, 4, 5, 6, 7]))
        handle.closeFile()
        var loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.countedEvents == 100)
        try loaded.apply(Self.summary(100))
        try loaded.save(to: folder.path)
        #expect(try keyFileSize(folder) == 101 * 16)
        #expect(try AggregatorState.load(from: folder.path).countedEvents == 101)
    }

    @Test("A damaged or short keys file is reported naming the file, not loaded as a smaller set")
    func damagedKeysFile() throws {
        let folder = TemporaryFolder()
        var state = AggregatorState()
        for index in 0..<50 { try state.apply(Self.summary(index)) }
        try state.save(to: folder.path)
        let path = folder.file(AggregatorState.keysFileName)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[100] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: PipelineError.self) { try AggregatorState.load(from: folder.path) }
        try Data(bytes.prefix(16 * 10)).write(to: URL(fileURLWithPath: path))
        do {
            _ = try AggregatorState.load(from: folder.path)
            Issue.record("a short keys file was accepted")
        } catch {
            #expect("\(error)".contains(AggregatorState.keysFileName))
        }
    }

    @Test("Dates of visits, events of every kind by pair and the facts survive a checkpoint and a reload")
    func datesAndFactsPersist() throws {
        let folder = TemporaryFolder()
        var state = AggregatorState()
        for index in 0..<300 { try state.apply(Self.summary(index)) }
        let facts = [
            TimelineEvent(kind: .embassyClosed, date: EDTFDate(edtf: "1999")!, from: CountryCode("KP")!, to: CountryCode("MN")!,
                          description: "Closed, with \"quotes\" and ünïcode", source: Provenance(document: "t")),
            TimelineEvent(kind: .ambassadorTerm, date: EDTFDate(edtf: "2017/..")!, from: CountryCode("KP")!, to: CountryCode("MN")!,
                          guest: "An envoy", source: Provenance(document: "t")),
            TimelineEvent(kind: .aid, date: EDTFDate(edtf: "1952")!, from: CountryCode("MN")!, to: CountryCode("KP")!, source: Provenance(document: "t")),
        ]
        for event in facts { try state.apply(event) }
        try state.save(to: folder.path)
        let loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.statistics == state.statistics)
        #expect(loaded.statistics.facts.count == 2)
        #expect(loaded.statistics.filtered(StatisticsFilter(kinds: [.aid])).totalEvents == 1)
    }

    @Test("A version-1 state file, keys inline, is still read, and the next checkpoint writes version 3")
    func readsVersion1() throws {
        let folder = TemporaryFolder()
        var state = AggregatorState()
        for index in 0..<200 { try state.apply(Self.summary(index)) }
        state.position = StreamPosition(sequence: 200, producers: [:])
        try Data(state.encodedVersion1()).write(to: URL(fileURLWithPath: folder.file(AggregatorState.fileName)))
        var loaded = try AggregatorState.load(from: folder.path)
        // Version 1 kept visits per year, not their dates.
        #expect(loaded.statistics.visitsByYear == state.statistics.visitsByYear)
        #expect(loaded.statistics.eventsByKind == state.statistics.eventsByKind)
        #expect(loaded.countedEvents == 200)
        try loaded.save(to: folder.path)
        loaded.saved(loaded.checkpoint())
        let again = try AggregatorState.load(from: folder.path)
        #expect(again.countedEvents == 200)
        #expect(try keyFileSize(folder) == 200 * 16)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: folder.file(AggregatorState.fileName))).prefix(8)) == Array("TLAGST03".utf8))
    }

    /// A state file as the code before the summary became a `Codable` struct wrote it: the summary's
    /// keys in that code's order, built here byte by byte.
    static func handBuiltStateFile(magic: String, json: String, inlineKeys: [UInt8]? = nil) -> [UInt8] {
        let summary = Array(json.utf8)
        var bytes = Array(magic.utf8)
        bytes += [UInt8(summary.count >> 24), UInt8(summary.count >> 16 & 0xFF), UInt8(summary.count >> 8 & 0xFF), UInt8(summary.count & 0xFF)]
        bytes += summary
        bytes += inlineKeys ?? []
        let checksum = CRC32C.checksum(bytes)
        return bytes + [UInt8(checksum >> 24), UInt8(checksum >> 16 & 0xFF), UInt8(checksum >> 8 & 0xFF), UInt8(checksum & 0xFF)]
    }

    /// Two keys, `(1, 2)` and `(3, 4)`, as 16 bytes each.
    static let twoKeys: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4]

    static let expectedStatistics = Statistics(totalEvents: 3, eventsByKind: [.visit: 2, .relationsEstablished: 1],
                                               visitsByYear: [YearCount(year: 1985, from: CountryCode("KP")!, to: CountryCode("MN")!, count: 2)])

    @Test("A version-2 state file written by the previous code, summary keys in its order, loads whole")
    func readsPreviousVersion2() throws {
        let folder = TemporaryFolder()
        let json = #"{"sequence":42,"duplicateEvents":1,"rejected":2,"live":30,"replayed":12,"duplicateSequences":3,"totalEvents":3,"#
            + #""keyCount":2,"keysChecksum":\#(CRC32C.checksum(Self.twoKeys)),"producers":{"p/1":40,"q":2},"#
            + #""eventsByKind":{"relations_established":1,"visit":2},"visitsByYear":[[1985,"KP","MN",2]]}"#
        try Data(Self.handBuiltStateFile(magic: "TLAGST02", json: json)).write(to: URL(fileURLWithPath: folder.file(AggregatorState.fileName)))
        try Data(Self.twoKeys).write(to: URL(fileURLWithPath: folder.file(AggregatorState.keysFileName)))
        let loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.position == StreamPosition(sequence: 42, producers: ["p/1": 40, "q": 2]))
        #expect([loaded.duplicateEvents, loaded.rejected, loaded.live, loaded.replayed, loaded.duplicateSequences] == [1, 2, 30, 12, 3])
        #expect(loaded.statistics == Self.expectedStatistics)
        #expect(loaded.countedEvents == 2)
        #expect(loaded.hasCounted(EventKey(high: 1, low: 2)) && loaded.hasCounted(EventKey(high: 3, low: 4)))
    }

    @Test("A version-1 state file of the first layout, without the later counters, loads with them at zero")
    func readsFirstVersion1() throws {
        let folder = TemporaryFolder()
        let json = #"{"sequence":7,"totalEvents":3,"producers":{},"eventsByKind":{"visit":2,"relations_established":1},"visitsByYear":[[1985,"KP","MN",2]]}"#
        let file = Self.handBuiltStateFile(magic: "TLAGST01", json: json, inlineKeys: [0, 0, 0, 0, 0, 0, 0, 2] + Self.twoKeys)
        try Data(file).write(to: URL(fileURLWithPath: folder.file(AggregatorState.fileName)))
        let loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.position == StreamPosition(sequence: 7, producers: [:]))
        #expect([loaded.duplicateEvents, loaded.rejected, loaded.live, loaded.replayed, loaded.duplicateSequences] == [0, 0, 0, 0, 0])
        #expect(loaded.statistics == Self.expectedStatistics)
        #expect(loaded.hasCounted(EventKey(high: 3, low: 4)) && loaded.countedEvents == 2)
    }

    @Test("A version-3 file whose counts do not hold together is refused naming why, never trusted or crashed on")
    func malformedVersion3() throws {
        let folder = TemporaryFolder()
        let path = URL(fileURLWithPath: folder.file(AggregatorState.fileName))
        func file(_ json: String, dates: [UInt8] = [0, 0, 0, 0]) -> [UInt8] {
            let summary = Array(json.utf8)
            var bytes = Array("TLAGST03".utf8)
            bytes += [UInt8(summary.count >> 24), UInt8(summary.count >> 16 & 0xFF), UInt8(summary.count >> 8 & 0xFF), UInt8(summary.count & 0xFF)]
            bytes += summary + dates
            let checksum = CRC32C.checksum(bytes)
            return bytes + [UInt8(checksum >> 24), UInt8(checksum >> 16 & 0xFF), UInt8(checksum >> 8 & 0xFF), UInt8(checksum & 0xFF)]
        }
        let head = #"{"sequence":1,"producers":{},"keyCount":0,"keysChecksum":0,"#
        let max = Int.max
        let cases: [(String, [UInt8], String)] = [
            (head + #""totalEvents":2,"eventsByKind":{"aid":2},"visitsByYear":[],"eventCells":[[1990,"aid","MN","KP",\#(max)],[1991,"aid","MN","KP",\#(max)]],"facts":[]}"#, [0, 0, 0, 0], "overflow"),
            (head + #""totalEvents":1,"eventsByKind":{"aid":1},"visitsByYear":[],"eventCells":[[1990,"aid","MN","KP",-1],[1991,"aid","MN","KP",2]],"facts":[]}"#, [0, 0, 0, 0], "negative"),
            (head + #""totalEvents":1,"eventsByKind":{"visit":1},"visitsByYear":[[1956,"MN","KP",1]],"eventCells":[[1956,"visit","MN","KP",1]],"facts":[]}"#, [0, 0, 0, 0], "visits in eventCells"),
            (head + #""totalEvents":1,"eventsByKind":{"visit":1},"visitsByYear":[[1956,"MN","KP",1]]}"#, [0, 0, 0, 0], "without eventCells or facts"),
            (head + #""totalEvents":1,"eventsByKind":{"aid":1},"visitsByYear":[],"eventCells":[[1099511629766,"aid","MN","KP",1]],"facts":[]}"#, [0, 0, 0, 0], "out of range"),
            (head + #""totalEvents":2,"eventsByKind":{"visit":1},"visitsByYear":[[1956,"MN","KP",1]],"eventCells":[],"facts":[]}"#, [0, 0, 0, 0], "does not add up to totalEvents"),
            // Dates for 1957 MN->KP (one listed mark, 0), whose visits are not in visitsByYear.
            (head + #""totalEvents":1,"eventsByKind":{"visit":1},"visitsByYear":[[1956,"MN","KP",1]],"eventCells":[],"facts":[]}"#,
             [0, 0, 0, 1, 0, 0, 0x07, 0xA5] + Array("MNKP".utf8) + [0, 1, 0, 0], "without its visits"),
            (head + #""totalEvents":1,"eventsByKind":{"visit":1},"visitsByYear":[[1956,"MN","KP",1]],"eventCells":[],"facts":[]}"#,
             [0, 0, 0, 1, 0, 0, 0x07, 0xA4] + Array("MNKP".utf8) + [0, 1, 0x01, 0x7C], "a date mark of 380"),
        ]
        for (json, dates, reason) in cases {
            try Data(file(json, dates: dates)).write(to: path)
            #expect {
                _ = try AggregatorState.load(from: folder.path)
            } throws: { error in
                "\(error)".contains(reason)
            }
        }
        // The same layout with counts that hold together loads.
        try Data(file(head + #""totalEvents":1,"eventsByKind":{"visit":1},"visitsByYear":[[1956,"MN","KP",1]],"eventCells":[],"facts":[]}"#,
                      dates: [0, 0, 0, 1, 0, 0, 0x07, 0xA4] + Array("MNKP".utf8) + [0, 1, 0, 0])).write(to: path)
        let loaded = try AggregatorState.load(from: folder.path)
        #expect(loaded.statistics.visitDates(from: CountryCode("MN")!, to: CountryCode("KP")!) == [PartialDate(year: 1956, month: 1, day: 1)!])
    }

    @Test("A version-2 state keeps saying it lacks detail after the next checkpoint writes version 3")
    func olderStateStaysMarked() throws {
        let folder = TemporaryFolder()
        let json = #"{"sequence":42,"totalEvents":2,"keyCount":0,"keysChecksum":0,"producers":{},"eventsByKind":{"visit":2},"visitsByYear":[[1985,"KP","MN",2]]}"#
        try Data(Self.handBuiltStateFile(magic: "TLAGST02", json: json)).write(to: URL(fileURLWithPath: folder.file(AggregatorState.fileName)))
        var state = try AggregatorState.load(from: folder.path)
        #expect(state.statistics.lacksDetail)
        try state.apply(Self.summary(1))
        try state.save(to: folder.path)
        let again = try AggregatorState.load(from: folder.path)
        #expect(again.statistics.lacksDetail && again.statistics.totalVisits == 3)
    }

    @Test("A summary missing a field, or with a country that is not a code, is reported naming what is wrong")
    func malformedSummary() throws {
        let folder = TemporaryFolder()
        let path = URL(fileURLWithPath: folder.file(AggregatorState.fileName))
        let cases = [
            (#"{"totalEvents":0,"producers":{},"eventsByKind":{},"visitsByYear":[],"keyCount":0,"keysChecksum":0}"#, "'sequence' is missing"),
            (#"{"sequence":1,"totalEvents":0,"producers":{},"eventsByKind":{"parade":1},"visitsByYear":[],"keyCount":0,"keysChecksum":0}"#, "unknown kind 'parade'"),
            (#"{"sequence":1,"totalEvents":0,"producers":{},"eventsByKind":{},"visitsByYear":[[1985,"K","MN",1]],"keyCount":0,"keysChecksum":0}"#, "visits-per-year"),
            (#"{"sequence":1,"totalEvents":0,"producers":{},"eventsByKind":{},"visitsByYear":[]}"#, "malformed"),
        ]
        for (json, reason) in cases {
            try Data(Self.handBuiltStateFile(magic: "TLAGST02", json: json)).write(to: path)
            #expect {
                _ = try AggregatorState.load(from: folder.path)
            } throws: { error in
                "\(error)".contains(reason)
            }
        }
    }

    @Test("A version-3 file holds the summary with every field, of the type, that version 2's reader required, then the visit dates")
    func summaryReadableByThePreviousCode() throws {
        var state = AggregatorState()
        for index in 0..<50 { try state.apply(Self.summary(index)) }
        state.position = StreamPosition(sequence: 50, producers: ["p": 50])
        let file = state.checkpoint().stateFile
        #expect(Array(file.prefix(8)) == Array("TLAGST03".utf8))
        let length = Int(file[8]) << 24 | Int(file[9]) << 16 | Int(file[10]) << 8 | Int(file[11])
        // Each year and direction: 8 bytes, then its dates listed (2 bytes each) or its bitmap.
        let dates = state.statistics.parts.visitDays.map { 8 + 2 + ($0.days.marks.count < 24 ? 2 * $0.days.marks.count : 48) }
        #expect(12 + length + 4 + dates.reduce(0, +) + 4 == file.count)
        // What the previous reader did: JSONSerialization, and these casts.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(file[12..<(12 + length)])) as? [String: Any])
        #expect((object["sequence"] as? NSNumber)?.uint64Value == 50)
        #expect((object["totalEvents"] as? NSNumber)?.intValue == state.statistics.totalEvents)
        #expect((object["producers"] as? [String: NSNumber])?["p"]?.uint64Value == 50)
        #expect((object["eventsByKind"] as? [String: NSNumber])?.count == state.statistics.eventsByKind.count)
        let years = try #require(object["visitsByYear"] as? [[Any]])
        #expect(years.count == state.statistics.visitsByYear.count)
        #expect(years.allSatisfy { $0.count == 4 && $0[0] is NSNumber && $0[1] is String && $0[2] is String && $0[3] is NSNumber })
        #expect((object["keyCount"] as? NSNumber)?.uint64Value == 50)
        #expect(object["keysChecksum"] is NSNumber)
        for name in ["duplicateEvents", "rejected", "live", "replayed", "duplicateSequences"] { #expect(object[name] is NSNumber) }
    }

    @Test("The summary's direct JSON writer gives JSONEncoder's bytes, for odd producer ids and empty tables too")
    func summaryWriterMatchesJSONEncoder() throws {
        var state = AggregatorState()
        #expect(state.summary.encoded() == state.summary.encodedByJSONEncoder())
        for index in 0..<2_000 { try state.apply(Self.summary(index)) }
        // Other kinds (counted per year and direction) and facts with strings to escape.
        for (index, kind) in [EventKind.aid, .embassyClosed, .ambassadorTerm, .agreementSigned, .other].enumerated() {
            try state.apply(TimelineEvent(kind: kind, date: EDTFDate(edtf: index % 2 == 0 ? "1999" : "2017/..")!, from: CountryCode("KP")!,
                                          to: CountryCode("MN")!, guest: index == 2 ? "Envoy \"é\" \u{1}" : nil,
                                          description: "quote\"back\\slash\n\t→ \(index)", source: Provenance(document: "t")))
        }
        state.position = StreamPosition(sequence: 2_000, producers: [
            "p": 1, "p10": 2, "p9": 3, "B": 4, "a/b": 5, "quote\"back\\slash": 6, "\u{8}\u{C}\n\r\t\u{1}\u{1F}": 7, "é→": 8,
        ])
        state.rejected = UInt64.max
        var summary = state.summary
        summary.keyCount = 12
        summary.keysChecksum = UInt32.max
        #expect(summary.visitsByYear.count > 100)
        #expect(summary.eventCells?.count == 5 && summary.facts?.count == 3)
        #expect(summary.encoded() == summary.encodedByJSONEncoder())
        #expect(try summary.encoded().withUnsafeBytes { try StateSummary(decoding: $0) } == summary)
    }

    func keyFileSize(_ folder: TemporaryFolder) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: folder.file(AggregatorState.keysFileName))[.size] as? Int) ?? -1
    }
}
