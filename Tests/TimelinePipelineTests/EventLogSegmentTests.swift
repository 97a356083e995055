import Foundation
import Logging
import SystemPackage
import Testing
import Timeline
@testable import TimelinePipeline

/// A clock a test moves by hand, in milliseconds since the Unix epoch.
final class ManualClock: @unchecked Sendable {
    // Only the test's own thread reads and moves it.
    var now: Int64

    init(_ now: Int64) { self.now = now }
}

@Suite("The event log in segments")
struct EventLogSegmentTests {
    let logger = Logger(label: "test")
    /// Small segments, so that a few hundred records make several.
    static let segmentBytes: Int64 = 16 << 10

    /// Appends synthetic event `index`, from producer `a` for even indexes and `b` for odd ones,
    /// with producer sequence `index / 2 + 1` for its producer.
    @discardableResult
    func append(_ log: EventLog, _ index: Int) throws -> UInt64 {
        let producer = index % 2 == 0 ? "a" : "b"
        let event = SyntheticEvents.event(index, seed: 9)
        var header = WireHeader(producerSequence: UInt64(index / 2 + 1), producer: producer).encoded()
        return try log.append(topic: Array(event.topic.utf8), header: &header, body: Array(EventJSON.encode(event).utf8),
                              producer: producer, producerSequence: UInt64(index / 2 + 1))
    }

    /// A log of `count` records written in batches of `batch`.
    func filled(_ folder: TemporaryFolder, count: Int, batch: Int = 10, clock: ManualClock? = nil) throws -> EventLog {
        let log = try open(folder, clock: clock)
        for index in 0..<count {
            try append(log, index)
            if (index + 1) % batch == 0 { try log.flush() }
        }
        try log.flush()
        return log
    }

    func open(_ folder: TemporaryFolder, clock: ManualClock? = nil) throws -> EventLog {
        if let clock { return try EventLog(folder: folder.path, segmentBytes: Self.segmentBytes, logger: logger, clock: { clock.now }) }
        return try EventLog(folder: folder.path, segmentBytes: Self.segmentBytes, logger: logger)
    }

    func segmentFiles(_ folder: TemporaryFolder, _ kind: String = "log") throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.file("log")).filter { $0.hasSuffix("." + kind) }.sorted()
    }

    func size(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    /// Every record of the log, read in reads of `step`.
    func allSequences(_ log: EventLog, step: Int = 97) throws -> [UInt64] {
        var after: UInt64 = 0, seen: [UInt64] = []
        while true {
            let records = try log.read(after: after, maxCount: step)
            guard let last = records.last else { return seen }
            seen += records.map(\.sequence)
            after = last.sequence
        }
    }

    @Test("A full segment is closed after the batch that filled it; segments are named by their first sequence and hold whole batches")
    func rolls() throws {
        let folder = TemporaryFolder()
        let log = try filled(folder, count: 1_000)
        let names = try segmentFiles(folder)
        #expect(names.count == log.segmentCount && names.count > 5, "\(names)")
        #expect(names.first == "00000000000000000001.log")
        let firsts = names.map { UInt64($0.dropLast(4))! }
        for (slot, name) in names.enumerated().dropLast() {
            let bytes = try size(folder.file("log/" + name))
            // A segment reaches the size with its last batch, and is never more than a batch over.
            #expect(bytes >= Int(Self.segmentBytes) && bytes < Int(Self.segmentBytes) + 10 * 1_024, "\(name): \(bytes)")
            // Segments hold whole batches of 10 here: each starts at a batch boundary.
            #expect((firsts[slot + 1] - 1) % 10 == 0)
            #expect(FileManager.default.fileExists(atPath: folder.file("log/" + name.dropLast(4) + ".index")), "closed segments have their index")
        }
        #expect(log.recordCount == 1_000 && log.firstSequence == 1)
        #expect(Int64(try names.reduce(0) { $0 + (try size(folder.file("log/" + $1))) }) == log.recordBytes)
    }

    @Test("Reads from any sequence cross segment boundaries in order, with the right records")
    func readsAcross() throws {
        let folder = TemporaryFolder()
        let log = try filled(folder, count: 1_000)
        #expect(try allSequences(log) == Array(1...1_000))
        for after: UInt64 in [0, 1, 255, 256, 499, 700, 998, 999] {
            let records = try log.read(after: after, maxCount: 120)
            #expect(records.map(\.sequence) == Array((after + 1)...min(after + 120, 1_000)))
            let message = try WireMessage.decode(records[0].frames)
            #expect(message.event == SyntheticEvents.event(Int(after), seed: 9))
        }
        // The same through chunks (the replay path), byte for byte against the files joined.
        var joined: [UInt8] = []
        for name in try segmentFiles(folder) { joined += Array(FileManager.default.contents(atPath: folder.file("log/" + name))!) }
        var chunks: [UInt8] = [], after: UInt64 = 0
        while after < 1_000 {
            let chunk = try log.readChunk(after: after, maxCount: 77)
            chunks += chunk.bytes
            after = chunk.scannedThrough
        }
        #expect(chunks == joined)
    }

    @Test("Reopened after a crash, only the last segment is read: positions come from the file saved beside it")
    func reopenAfterCrash() throws {
        let folder = TemporaryFolder()
        let positions: [String: UInt64]
        do {
            let log = try filled(folder, count: 1_000)
            positions = log.producerPositions
            try log.sync()
        }
        #expect(positions == ["a": 500, "b": 500])
        let reopened = try open(folder)
        #expect(reopened.lastSequence == 1_000 && reopened.producerPositions == positions)
        #expect(try allSequences(reopened) == Array(1...1_000))
        #expect(try append(reopened, 1_000) == 1_001)
    }

    @Test("Reopened after a clean close, the last segment is not read: a record damaged in its middle stays, found only when read")
    func reopenAfterClose() throws {
        let folder = TemporaryFolder()
        let count: UInt64
        do {
            let log = try filled(folder, count: 1_000)
            // The last segment holds a few records, well short of full.
            var index = 1_000
            repeat {
                try append(log, index)
                try log.flush()
                index += 1
            } while log.fileSize == 0 || log.fileSize > Self.segmentBytes / 2 || log.lastSequence - log.index.offsets.first < 5
            count = log.lastSequence
            try log.close()
        }
        let last = try #require(try segmentFiles(folder).last)
        let path = folder.file("log/" + last)
        // Damage a byte of the last segment's first record: a crash recovery would cut from there.
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        handle.seek(toFileOffset: 40)
        let byte = handle.readData(ofLength: 1)[0]
        handle.seek(toFileOffset: 40)
        handle.write(Data([byte ^ 0x01]))
        handle.closeFile()
        let reopened = try open(folder)
        #expect(reopened.lastSequence == count, "a clean close lets the next open check the last record only")
        #expect(reopened.producerPositions == ["a": (count + 1) / 2, "b": count / 2])
        #expect(!FileManager.default.fileExists(atPath: folder.file("log/clean-shutdown.json")), "the marker is gone once the log is open")
        #expect(try allSequences(reopened).count == Int(count) - 1, "the damaged record is skipped when read")
        // Without a new close, the next open reads the last segment and cuts at the damage.
        try reopened.sync()
        let afterCrash = try open(folder)
        #expect(afterCrash.lastSequence == UInt64(last.dropLast(4))! - 1)
    }

    @Test("A clean-close marker that does not match the last segment is ignored and the segment is read")
    func staleMarker() throws {
        let folder = TemporaryFolder()
        do {
            let log = try filled(folder, count: 300)
            try log.close()
        }
        do {
            // Appends after the marker was written (as a log opened by an older build would make).
            let marker = folder.file("log/clean-shutdown.json")
            let saved = try #require(FileManager.default.contents(atPath: marker))
            let log = try open(folder)
            for index in 300..<320 { try append(log, index) }
            try log.sync()
            _ = FileManager.default.createFile(atPath: marker, contents: saved)
        }
        let reopened = try open(folder)
        #expect(reopened.lastSequence == 320)
        #expect(reopened.producerPositions == ["a": 160, "b": 160])
    }

    @Test("A torn tail of the last segment is cut, the positions counted from the saved file plus the segment's records")
    func tornTail() throws {
        let folder = TemporaryFolder()
        do {
            let log = try filled(folder, count: 1_000)
            try log.sync()
        }
        let last = try #require(try segmentFiles(folder).last)
        let path = folder.file("log/" + last)
        #expect(truncate(path, off_t(try size(path) - 5)) == 0)
        let log = try open(folder)
        #expect(log.lastSequence == 999)
        #expect(log.producerPositions == ["a": 500, "b": 499])
        #expect(try append(log, 999) == 1_000)
    }

    @Test("Without the positions file beside the last segment, every segment is read for them")
    func missingPositions() throws {
        let folder = TemporaryFolder()
        do {
            let log = try filled(folder, count: 1_000)
            try log.sync()
        }
        let last = try #require(try segmentFiles(folder).last)
        try FileManager.default.removeItem(atPath: folder.file("log/" + last.dropLast(4) + ".producers"))
        let log = try open(folder)
        #expect(log.producerPositions == ["a": 500, "b": 500])
    }

    @Test("A closed segment's missing or damaged index is rebuilt from its records")
    func rebuildsIndex() throws {
        let folder = TemporaryFolder()
        do {
            let log = try filled(folder, count: 1_000)
            try log.sync()
        }
        let indexes = try segmentFiles(folder, "index")
        try FileManager.default.removeItem(atPath: folder.file("log/" + indexes[0]))
        _ = FileManager.default.createFile(atPath: folder.file("log/" + indexes[1]), contents: Data([1, 2, 3]))
        let log = try open(folder)
        #expect(try allSequences(log) == Array(1...1_000))
        #expect(FileManager.default.fileExists(atPath: folder.file("log/" + indexes[0])), "the rebuilt index is written back")
    }

    @Test("Only a few closed segments' files stay open for reads")
    func boundedOpenFiles() throws {
        let folder = TemporaryFolder()
        let log = try filled(folder, count: 3_000)
        #expect(log.segmentCount > EventLog.openSegmentLimit + 4)
        #expect(try allSequences(log) == Array(1...3_000))
        #expect(log.closed.filter { $0.file != nil }.count <= EventLog.openSegmentLimit)
    }

    @Test("A cut that falls in an earlier segment removes the later ones, keeps every cut record aside, and appends go on",
          arguments: [UInt64(5), 300, 599])
    func cutAcrossSegments(after: UInt64) throws {
        let folder = TemporaryFolder()
        let log = try filled(folder, count: 1_000)
        let expectedAside = try log.readChunk(after: after, maxCount: 1_000, maxBytes: 1 << 30).bytes
        let aside = folder.file("aside.log")
        #expect(try log.cut(after: after, asideFile: aside) == 1_000 - after)
        #expect(Array(FileManager.default.contents(atPath: aside)!) == expectedAside)
        #expect(log.lastSequence == after)
        #expect(try allSequences(log) == Array(1...after))
        let firsts = try segmentFiles(folder).map { UInt64($0.dropLast(4))! }
        #expect(firsts.last! <= after + 1, "no segment starts past the cut")
        for index in Int(after)..<1_000 { try append(log, index) }
        try log.sync()
        let reopened = try open(folder)
        #expect(reopened.lastSequence == 1_000)
        #expect(try allSequences(reopened) == Array(1...1_000))
        #expect(reopened.producerPositions == ["a": 500, "b": 500])
    }

    @Test("Checksums of records in any segment match the ones a single-segment log gives")
    func checksums() throws {
        let small = TemporaryFolder(), large = TemporaryFolder()
        let segmented = try filled(small, count: 600)
        let single = try EventLog(folder: large.path, logger: logger)
        for index in 0..<600 { try append(single, index) }
        for sequence: UInt64 in [1, 2, 256, 257, 400, 599, 600] {
            #expect(try segmented.checksum(ofRecord: sequence) == single.checksum(ofRecord: sequence))
        }
        #expect(try segmented.checksum(ofRecord: 601) == nil)
    }

    @Test("A log of one file from before segments is moved into place as the first segment and read as before")
    func migratesSingleFile() throws {
        let folder = TemporaryFolder()
        do {
            let log = try EventLog(folder: folder.path, logger: logger)
            for index in 0..<500 { try append(log, index) }
            try log.sync()
        }
        // Make the layout of before: events.log in the data folder, no log folder.
        try FileManager.default.moveItem(atPath: EventLog.recordsFile(first: 1, dataFolder: folder.path), toPath: folder.file("events.log"))
        try FileManager.default.removeItem(atPath: folder.file("log"))
        let log = try open(folder)
        #expect(log.lastSequence == 500 && log.producerPositions == ["a": 250, "b": 250])
        #expect(!FileManager.default.fileExists(atPath: folder.file("events.log")))
        #expect(try allSequences(log) == Array(1...500))
        for index in 500..<1_000 { try append(log, index); if index % 10 == 9 { try log.flush() } }
        #expect(log.segmentCount > 1, "appends go on into new segments")
        // Its records have no receive times: they count as received before any time asked for,
        // and a replay from any time starts after them, at the first batch written since.
        #expect(try log.lastSequence(receivedBefore: 0) == 500)
    }

    @Test("A single-file log beside a log folder with segments is refused, naming the file")
    func refusesTwoLogs() throws {
        let folder = TemporaryFolder()
        do { _ = try filled(folder, count: 10) }
        _ = FileManager.default.createFile(atPath: folder.file("events.log"), contents: Data([1]))
        #expect {
            _ = try open(folder)
        } throws: { error in
            "\(error)".contains("events.log")
        }
    }

    @Test("Receive times: each batch's time is kept across segments and reopening, and finds where a replay from a time starts")
    func receiveTimes() throws {
        let folder = TemporaryFolder()
        let clock = ManualClock(1_700_000_000_000)
        do {
            let log = try open(folder, clock: clock)
            // 100 batches of 10, one second apart: batch k (records 10k+1...10k+10) at start + k s.
            for index in 0..<1_000 {
                try append(log, index)
                if (index + 1) % 10 == 0 {
                    try log.flush()
                    clock.now += 1_000
                }
            }
            #expect(log.segmentCount > 5)
            try check(log)
            try log.sync()
        }
        try check(try open(folder, clock: clock))

        func check(_ log: EventLog) throws {
            let start: Int64 = 1_700_000_000_000
            #expect(try log.lastSequence(receivedBefore: start) == 0, "every record at or after the first time")
            #expect(try log.lastSequence(receivedBefore: start - 5_000) == 0)
            #expect(try log.lastSequence(receivedBefore: start + 1) == 10, "the first batch was received before it")
            for batch: Int64 in [1, 2, 37, 50, 51, 98, 99] {
                #expect(try log.lastSequence(receivedBefore: start + batch * 1_000) == UInt64(batch * 10))
                #expect(try log.lastSequence(receivedBefore: start + batch * 1_000 + 500) == UInt64(batch * 10 + 10))
            }
            #expect(try log.lastSequence(receivedBefore: start + 200_000) == 1_000, "every record before a later time")
        }
    }

    @Test("A clock that goes back does not make receive times go back")
    func clockGoesBack() throws {
        let folder = TemporaryFolder()
        let clock = ManualClock(10_000)
        let log = try open(folder, clock: clock)
        for (batch, now) in [10_000, 12_000, 11_000, 13_000].enumerated() {
            clock.now = Int64(now)
            for index in 0..<5 { try append(log, batch * 5 + index) }
            try log.flush()
        }
        #expect(try log.lastSequence(receivedBefore: 12_000) == 5)
        #expect(try log.lastSequence(receivedBefore: 12_001) == 15, "the batch stamped while the clock was back counts as at 12,000")
        #expect(try log.lastSequence(receivedBefore: 13_000) == 15)
    }
}

@Suite("Retention of the event log")
struct EventLogRetentionTests {
    let segments = EventLogSegmentTests()

    @Test("Over the byte limit, whole old segments go, oldest first, never the last; reads then begin at the oldest record kept")
    func byBytes() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 2_000)
        let before = log.segmentCount
        let limit = 4 * EventLogSegmentTests.segmentBytes
        let deleted = log.deleteOldSegments(maxBytes: limit, maxAge: nil, now: 0)
        #expect(!deleted.isEmpty && log.segmentCount == before - deleted.count)
        #expect(log.recordBytes <= limit, "the log is within the limit")
        #expect(log.recordBytes + deleted.last!.bytes > limit, "no segment more than needed went")
        #expect(deleted.first!.first == 1 && log.firstSequence == deleted.last!.last + 1)
        #expect(log.recordCount == 2_000 - deleted.last!.last)
        #expect(try segments.allSequences(log) == Array(log.firstSequence...2_000))
        #expect(try segments.segmentFiles(folder).count == log.segmentCount)
        #expect(try segments.segmentFiles(folder, "producers").allSatisfy { UInt64($0.dropLast(10))! >= log.firstSequence })
        // Even a limit below one segment keeps the segment being appended to.
        _ = log.deleteOldSegments(maxBytes: 1, maxAge: nil, now: 0)
        #expect(log.segmentCount == 1 && log.lastSequence == 2_000)
        // Reopened, the log starts where retention left it, with every producer's position.
        try log.sync()
        let reopened = try segments.open(folder)
        #expect(reopened.firstSequence == log.firstSequence && reopened.lastSequence == 2_000)
        #expect(reopened.producerPositions == ["a": 1_000, "b": 1_000])
        #expect(try segments.append(reopened, 2_000) == 2_001)
    }

    @Test("A segment goes once its newest record is older than the age limit; newer ones stay")
    func byAge() throws {
        let folder = TemporaryFolder()
        let clock = ManualClock(1_000_000)
        let log = try segments.open(folder, clock: clock)
        // Batches of 10 records, one second apart.
        for index in 0..<1_000 {
            try segments.append(log, index)
            if (index + 1) % 10 == 0 {
                try log.flush()
                clock.now += 1_000
            }
        }
        let newestOfFirst = 1_000_000 + Int64(log.closed[0].last / 10 - 1) * 1_000
        #expect(log.deleteOldSegments(maxBytes: nil, maxAge: 10_000, now: newestOfFirst + 10_000).isEmpty, "not older than the limit yet")
        let deleted = log.deleteOldSegments(maxBytes: nil, maxAge: 10_000, now: newestOfFirst + 10_001)
        #expect(deleted.map(\.first) == [1], "only the first segment is old enough")
        // A time far ahead leaves only the segment being appended to.
        _ = log.deleteOldSegments(maxBytes: nil, maxAge: 10_000, now: clock.now + 1_000_000)
        #expect(log.segmentCount == 1)
        // A replay by time from before the oldest record kept starts at it.
        #expect(try log.lastSequence(receivedBefore: 0) == log.firstSequence - 1)
    }

    @Test("Nothing is deleted that holds the sequence to keep from, or any after it")
    func keepsUnread() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 2_000)
        let keepFrom = log.closed[3].first + 5
        let deleted = log.deleteOldSegments(maxBytes: 1, maxAge: nil, now: 0, keepFrom: keepFrom)
        #expect(deleted.count == 3 && log.firstSequence <= keepFrom && log.closed[0].last >= keepFrom)
        #expect(log.deleteOldSegments(maxBytes: 1, maxAge: nil, now: 0, keepFrom: 0).isEmpty)
    }
}

@Suite("The event log against damaged files")
struct EventLogDamageTests {
    let segments = EventLogSegmentTests()

    @Test("A closed segment emptied, or damaged at its first record with its index gone, fails the read naming the file; it does not stop the process")
    func unreadableClosedSegment() throws {
        for damage in ["empty", "first record"] {
            let folder = TemporaryFolder()
            do { _ = try segments.filled(folder, count: 1_000).sync() }
            let names = try segments.segmentFiles(folder)
            let victim = folder.file("log/" + names[1])
            try FileManager.default.removeItem(atPath: folder.file("log/" + names[1].dropLast(4) + ".index"))
            if damage == "empty" {
                #expect(truncate(victim, 0) == 0)
            } else {
                var bytes = try #require(FileManager.default.contents(atPath: victim))
                bytes[20] ^= 0xFF
                try bytes.write(to: URL(fileURLWithPath: victim))
            }
            let log = try segments.open(folder)
            let first = UInt64(names[1].dropLast(4))!
            #expect(throws: StorageError.self, "\(damage)") { _ = try log.read(after: first - 1, maxCount: 10) }
            #expect(try log.read(after: 0, maxCount: 10).count == 10, "the segments before it are still served")
        }
    }

    @Test("A file named as the segment of sequence 0, and side files without a segment, are left out when the log is opened")
    func strayFiles() throws {
        let folder = TemporaryFolder()
        do { _ = try segments.filled(folder, count: 100).sync() }
        _ = FileManager.default.createFile(atPath: folder.file("log/00000000000000000000.log"), contents: Data([1, 2, 3]))
        _ = FileManager.default.createFile(atPath: folder.file("log/00000000000000099999.times"), contents: Data([1]))
        _ = FileManager.default.createFile(atPath: folder.file("log/00000000000000000001.index.tmp-77"), contents: Data([1]))
        let log = try segments.open(folder)
        #expect(log.lastSequence == 100 && log.firstSequence == 1)
        #expect(!FileManager.default.fileExists(atPath: folder.file("log/00000000000000099999.times")))
        #expect(!FileManager.default.fileExists(atPath: folder.file("log/00000000000000000001.index.tmp-77")))
    }

    @Test("Receive times before 1970 or past 9999 in a times file end the marks read from it")
    func absurdTimes() {
        var bytes = LogSegmentFiles.encode(TimeMark(sequence: 1, milliseconds: 1_000))
        bytes += LogSegmentFiles.encode(TimeMark(sequence: 5, milliseconds: .min))
        #expect(LogSegmentFiles.decodeTimes(bytes, first: 1, last: 10).marks == [TimeMark(sequence: 1, milliseconds: 1_000)])
        let late = LogSegmentFiles.encode(TimeMark(sequence: 1, milliseconds: .max))
        #expect(LogSegmentFiles.decodeTimes(late, first: 1, last: 10).marks.isEmpty)
    }

    @Test("A clean-close marker with an offset out of range, or an index shorter than its records, is not trusted: the segment is read")
    func untrustedMarker() throws {
        for damage in ["offset", "short index"] {
            let folder = TemporaryFolder()
            do {
                let log = try segments.open(folder)
                for index in 0..<40 { try segments.append(log, index) }
                try log.close()
            }
            let markerPath = folder.file("log/clean-shutdown.json")
            if damage == "offset" {
                var marker = try JSONDecoder().decode(LogSegmentFiles.CleanShutdown.self, from: Data(contentsOf: URL(fileURLWithPath: markerPath)))
                marker.lastOffset = .max
                try JSONEncoder().encode(marker).write(to: URL(fileURLWithPath: markerPath))
            } else {
                // An index of one entry for a segment of 300 records: it should have two.
                let log = try segments.open(folder)
                for index in 40..<300 { try segments.append(log, index) }
                try log.close()
                let index = folder.file("log/00000000000000000001.index")
                let bytes = try #require(FileManager.default.contents(atPath: index))
                try bytes.prefix(16).write(to: URL(fileURLWithPath: index))
            }
            let log = try segments.open(folder)
            let count = damage == "offset" ? 40 : 300
            #expect(log.lastSequence == UInt64(count), "\(damage)")
            #expect(try segments.allSequences(log) == Array(1...UInt64(count)), "\(damage)")
            #expect(try log.read(after: 299, maxCount: 1).count == (damage == "offset" ? 0 : 1))
        }
    }

    @Test("A cut back before what retention kept is refused, not done halfway")
    func cutBeforeRetained() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 1_000)
        _ = log.deleteOldSegments(maxBytes: 1, maxAge: nil, now: 0)
        let first = log.firstSequence
        #expect(first > 1)
        #expect(throws: StorageError.self) { _ = try log.cut(after: first - 2, asideFile: folder.file("aside.log")) }
        #expect(log.lastSequence == 1_000)
        #expect(try log.cut(after: first - 1, asideFile: folder.file("aside.log")) == 1_000 - (first - 1))
        #expect(log.lastSequence == first - 1 && log.recordCount == 0)
        #expect(try segments.append(log, 0) == first)
    }
}
