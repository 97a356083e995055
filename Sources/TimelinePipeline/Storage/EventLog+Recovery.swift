import Logging
import SystemPackage
import Timeline

extension EventLog {
    /// What opening the log's folder found.
    struct Loaded {
        var closed: [ClosedSegment]
        var active: OpenFile
        var timesFile: OpenFile
        var timesSize: Int64
        var times: [TimeMark]
        var index: LogIndex
        var size: Int64

        /// Everything the log keeps of it, in the order of `EventLog`'s assignment at open and reload.
        var fields: ([ClosedSegment], Int64, OpenFile, OpenFile, Int64, [TimeMark], LogIndex, Int64) {
            (closed, closed.reduce(0) { $0 + $1.size }, active, timesFile, timesSize, times, index, size)
        }
    }

    /// Moves a log of one file (`events.log` in the data folder, from before segments) into the
    /// log's folder as its first segment: a rename, nothing copied. It is read whole once, at this
    /// first open, as a segment after a crash is.
    static func moveSingleFile(from dataFolder: FilePath, into folder: FilePath, logger: Logger) throws(StorageError) {
        let single = dataFolder.appending(singleFileName)
        guard (try? single.stat()) != nil else { return }
        let segments = try LogSegmentFiles.segments(in: folder)
        guard segments.isEmpty else {
            throw StorageError(path: single.string, operation: "move into \(folder) (the log's folder has segments already; "
                                   + "keep one of the two logs and move the other away)", code: .fileExists)
        }
        let target = SegmentName.file(1, SegmentName.records, in: folder)
        try fileCall("rename", single) { try single.move(replacing: target) }
        try AtomicFile.syncFolder(of: target.string)
        try AtomicFile.syncFolder(of: single.string)
        logger.notice("Moved the single-file event log into the log's folder as its first segment", metadata: [
            "log.from": "\(single)", "log.to": "\(target)",
        ])
    }

    /// Opens the segments in `folder` (making the first when there is none). Closed segments are
    /// only listed; the last one is checked: after a clean close, by its last record alone;
    /// otherwise record by record, from the producers' positions saved when it was started, its
    /// torn or corrupt tail cut.
    static func load(_ folder: FilePath, logger: Logger) throws(StorageError) -> Loaded {
        var firsts = try LogSegmentFiles.segments(in: folder)
        LogSegmentFiles.removeLeftovers(in: folder, segments: firsts)
        if firsts.isEmpty { firsts = [1] }
        var closed: [ClosedSegment] = []
        for (slot, first) in firsts.dropLast().enumerated() {
            let file = SegmentName.file(first, SegmentName.records, in: folder)
            let size = try fileCall("stat", file) { try file.stat().size }
            closed.append(ClosedSegment(first: first, last: firsts[slot + 1] - 1, size: Int64(size)))
        }
        let first = firsts[firsts.count - 1]
        let active = try OpenFile.open(SegmentName.file(first, SegmentName.records, in: folder))
        let end = try active.size()

        let markerPath = folder.appending(LogSegmentFiles.CleanShutdown.fileName)
        let marker = (try? AtomicFile.read(markerPath.string)).flatMap { $0 }.flatMap { try? JSONCoding.decode(LogSegmentFiles.CleanShutdown.self, from: $0) }
        // From here on the log may change: the marker describes it no more.
        markerPath.removeFile()
        var index: LogIndex?
        var size = end
        if let marker, marker.segment == first, marker.size == end {
            index = try cleanIndex(marker, active: active, folder: folder)
        }
        if index == nil {
            let positions = try startingPositions(of: first, closed: closed, folder: folder, logger: logger)
            var scanned = LogIndex(segmentFirst: first, positions: positions)
            size = try scan(active, end: end, into: &scanned, cutTail: true, logger: logger)
            index = scanned
        }

        let timesPath = SegmentName.file(first, SegmentName.times, in: folder)
        let timesFile = try OpenFile.open(timesPath)
        let (times, timesSize) = LogSegmentFiles.decodeTimes(try AtomicFile.read(timesPath.string) ?? [], first: first, last: index!.lastSequence)
        if try timesFile.size() != Int64(timesSize) {
            try fileCall("ftruncate", timesPath) { try timesFile.fd.resize(to: Int64(timesSize)) }
        }
        return Loaded(closed: closed, active: active, timesFile: timesFile, timesSize: Int64(timesSize), times: times, index: index!, size: size)
    }

    /// The index a clean close left, when its last record is where it says: nil otherwise.
    private static func cleanIndex(_ marker: LogSegmentFiles.CleanShutdown, active: OpenFile, folder: FilePath) throws(StorageError) -> LogIndex? {
        let indexPath = SegmentName.file(marker.segment, SegmentName.index, in: folder)
        guard marker.lastSequence >= marker.segment - 1, marker.lastOffset >= 0, marker.lastOffset < max(marker.size, 1),
              let bytes = try AtomicFile.read(indexPath.string),
              let offsets = LogSegmentFiles.decodeOffsets(bytes, first: marker.segment, size: marker.size),
              offsets.offsets.count == SegmentOffsets.entryCount(first: marker.segment, last: marker.lastSequence),
              offsets.start(at: marker.lastSequence).map({ $0.offset <= marker.lastOffset }) ?? true else { return nil }
        if marker.size == 0 {
            guard marker.lastSequence == marker.segment - 1 else { return nil }
        } else {
            var window = LogFileWindow(active.fd, file: active.path, end: marker.size, capacity: 64 << 10)
            guard case .success(let record) = try window.loadRecord(at: marker.lastOffset),
                  let (_, sequence) = try? LogRecordFormat.verifiedFields(ofRecord: record),
                  sequence == marker.lastSequence, marker.lastOffset + Int64(record.count) == marker.size else { return nil }
        }
        return LogIndex(offsets: offsets, lastSequence: marker.lastSequence, lastOffset: marker.lastOffset, positions: marker.positions)
    }

    /// The producers' positions before the segment starting at `first`: saved beside it when it
    /// was started; read from the earlier segments when that file is missing (slow, and logged).
    private static func startingPositions(of first: UInt64, closed: [ClosedSegment], folder: FilePath, logger: Logger) throws(StorageError) -> [String: UInt64] {
        let saved = try LogSegmentFiles.readPositions(SegmentName.file(first, SegmentName.producers, in: folder))
        if let saved, saved.through == first - 1 { return saved.positions }
        guard let oldest = closed.first else {
            if first > 1 {
                logger.warning("The producers' positions before the log's only segment are missing; producers resending events from before it are taken as new",
                               metadata: ["log.path": "\(folder)", "log.segment": "\(first)"])
            }
            return [:]
        }
        logger.warning("The producers' positions saved beside the last segment are missing; reading every segment for them", metadata: [
            "log.path": "\(folder)", "log.segment": "\(first)", "log.segments": "\(closed.count + 1)",
        ])
        var positions = try LogSegmentFiles.readPositions(SegmentName.file(oldest.first, SegmentName.producers, in: folder))?.positions ?? [:]
        for segment in closed {
            let file = try OpenFile.open(SegmentName.file(segment.first, SegmentName.records, in: folder))
            var scanned = LogIndex(segmentFirst: segment.first, positions: positions)
            _ = try scan(file, end: segment.size, into: &scanned, cutTail: false, logger: logger)
            positions = scanned.producerPositions
        }
        return positions
    }

    /// Reads a segment record by record from its start, counting each in `index` (offsets, last
    /// sequence, producer positions), up to the first record that is incomplete, fails its
    /// checksum, or breaks the sequence. With `cutTail`, the file is cut there (and the cut
    /// logged). Returns the length of the good records.
    static func scan(_ file: OpenFile, end: Int64, into index: inout LogIndex, cutTail: Bool, logger: Logger) throws(StorageError) -> Int64 {
        var window = LogFileWindow(file.fd, file: file.path, end: end, capacity: 1 << 20)
        var producers = ProducerIDCache()
        var offset: Int64 = 0
        var problem: String?
        while offset < end {
            let loaded = try window.loadRecord(at: offset)
            let record: UnsafeRawBufferPointer, fields: LogRecordFormat.Fields, sequence: UInt64
            do throws(LogRecordError) {
                record = try loaded.get()
                (fields, sequence) = try LogRecordFormat.verifiedFields(ofRecord: record)
            } catch {
                problem = "\(error.problem)"
                break
            }
            guard sequence == index.lastSequence + 1 else {
                problem = "sequence \(sequence) after \(index.lastSequence)"
                break
            }
            index.add(sequence: sequence, offset: offset)
            if let header = try? WireHeader.decode(fields.header, cache: &producers) {
                index.advance(producer: header.producer, to: header.producerSequence)
            }
            offset += Int64(record.count)
        }
        if let problem {
            if cutTail {
                logger.warning("Cut the torn tail of the event log", metadata: [
                    "log.path": "\(file.path)", "log.offset": "\(offset)", "log.bytesCut": "\(end - offset)", "reason": "\(problem)",
                ])
                try fileCall("ftruncate", file.path) { try file.fd.resize(to: offset) }
                try fileCall("fsync", file.path) { try file.fd.sync() }
            } else {
                logger.error("A segment of the event log ends in a damaged record", metadata: [
                    "log.path": "\(file.path)", "log.offset": "\(offset)", "reason": "\(problem)",
                ])
            }
        }
        return offset
    }
}
