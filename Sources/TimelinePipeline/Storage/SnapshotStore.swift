import Foundation
import Logging
import SystemPackage
import Timeline

/// What the snapshot writer keeps between snapshots: in memory, the 16-byte key of every event
/// taken (to drop a repeat) and the statistics; on disk, the events themselves, once each, in the
/// events file (`SnapshotEventFile`) that every snapshot is copied from.
///
/// `latest.json` is the commit point. On open, the events file is made to hold exactly the events
/// of the snapshot it names, in the same order:
/// - records after them (taken after that snapshot, before a crash or a failed snapshot) are cut:
///   the writer continues from that snapshot's sequence, so the broker's log brings them again;
///   a torn tail is cut the same way;
/// - when the file holds fewer of them (it is missing, as in a folder written before the file
///   existed, or damaged), it is written again from the snapshot file itself.
/// Snapshots are written only after the events file is synced, so the events a snapshot holds
/// are always whole in the file first.
///
/// Owned by one thread: the snapshot writer's loop.
struct SnapshotStore {
    let folder: String
    private(set) var events: SnapshotEventFile
    private var keys = EventKeySet()
    /// Counts only: a snapshot's report carries no dates.
    private(set) var statistics = Statistics(keepsDates: false)
    /// The latest snapshot written or found on open.
    private(set) var latest: SnapshotPointer?
    /// `EventJSON.encode`'s output, reused from event to event.
    private var encoded: [UInt8] = []

    /// Opens the snapshot folder (creating it) and makes the events file match `latest.json`.
    init(folder: String, logger: Logger) throws {
        self.folder = folder
        try AtomicFile.prepareFolder(folder)
        // Temporary files of writes a crash cut short: as large as a snapshot, and never used.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.contains(".tmp-") {
            FilePath(folder).appending(name).removeFile()
        }
        latest = try SnapshotFiles.readPointer(folder: folder)
        events = try SnapshotEventFile(folder: folder)
        if try load(logger: logger) { return }
        // Fewer events than the latest snapshot holds: write the file again from that snapshot.
        guard let latest else { preconditionFailure("without a snapshot no event is expected") }
        try SnapshotStore.rebuildEvents(folder: folder, from: latest)
        logger.notice("Wrote the events file again from the latest snapshot", metadata: [
            "snapshot.file": "\(latest.file)", "snapshot.events": "\(latest.eventCount)",
        ])
        events = try SnapshotEventFile(folder: folder)
        guard try load(logger: logger) else {
            throw PipelineError.state(path: events.path.string, reason: "does not hold the \(latest.eventCount) events of \(latest.file) after writing it again")
        }
    }

    /// Reads the events file's records that the latest snapshot holds, keeping their keys and
    /// counting them, and cuts what follows them. False when it holds fewer.
    private mutating func load(logger: Logger) throws -> Bool {
        let expected = latest?.eventCount ?? 0
        let through = latest?.sequence ?? 0
        var sequenceAhead = false
        var keys = EventKeySet(minimumCapacity: expected)
        var statistics = Statistics(keepsDates: false)
        let path = events.path.string
        let end = try events.scan { record in
            guard keys.count < expected else { return false }
            guard record.sequence <= through else {
                sequenceAhead = true
                return false
            }
            let summary: EventSummary
            do {
                summary = try EventJSON.summary(of: record.json)
            } catch {
                throw PipelineError.state(path: path, reason: "event \(keys.count + 1) does not decode: \(error)")
            }
            guard try keys.insert(summary.key) else {
                throw PipelineError.state(path: path, reason: "event \(keys.count + 1) repeats an earlier one")
            }
            statistics.add(summary)
            return true
        }
        guard end.count == expected else {
            // No file at all is what a folder written before the events file existed looks like.
            let level: Logger.Level = end.offset == 0 && end.problem == nil ? .info : .warning
            logger.log(level: level, "The events file holds fewer events than the latest snapshot", metadata: [
                "file.path": "\(path)", "snapshot.events": "\(expected)", "events.found": "\(end.count)",
                "events.stop": "\(sequenceAhead ? "a later sequence" : end.problem ?? "the end of the file")",
            ])
            return false
        }
        if end.offset == 0 {
            // No header yet (a new folder): start the file.
            try events.reset()
        } else {
            let size = try events.fileSize()
            if size > end.offset {
                logger.notice("Cut the events the latest snapshot does not hold; the broker's log brings them again", metadata: [
                    "file.path": "\(path)", "file.bytesCut": "\(size - end.offset)", "snapshot.sequence": "\(through)",
                    "events.tail": "\(end.problem ?? "whole records")",
                ])
            }
            try events.cut(at: end.offset, count: end.count)
        }
        self.keys = keys
        self.statistics = statistics
        return true
    }

    /// Writes the events file from a snapshot file's events (atomically), each with the
    /// snapshot's sequence.
    static func rebuildEvents(folder: String, from pointer: SnapshotPointer) throws {
        let snapshotPath = FilePath(folder).appending(pointer.file).string
        let eventsPath = FilePath(folder).appending(SnapshotEventFile.fileName).string
        var record: [UInt8] = []
        try AtomicFile.write(to: eventsPath) { out in
            try SnapshotEventFile.magic.withUnsafeBytes { try out.append($0) }
            let count = try SnapshotFiles.forEachEvent(inSnapshot: snapshotPath) { json in
                record.removeAll(keepingCapacity: true)
                SnapshotEventFile.appendRecord(sequence: pointer.sequence, json: json, to: &record)
                try record.withUnsafeBytes { try out.append($0) }
            }
            guard count == pointer.eventCount else {
                throw PipelineError.state(path: snapshotPath, reason: "holds \(count) events; \(SnapshotFiles.pointerName) says \(pointer.eventCount)")
            }
        }
    }

    /// How many events there are (every one will be in the next snapshot).
    var eventCount: Int { events.count }

    /// Takes an event: false when it repeats one already taken. Its record goes to the events
    /// file's buffer; `writeBuffered` writes it when `needsWrite`.
    mutating func add(_ event: TimelineEvent, sequence: UInt64) throws(MemoryMapError) -> Bool {
        guard try keys.insert(EventKey(id: event.id)) else { return false }
        EventJSON.encode(event, into: &encoded)
        events.append(sequence: sequence, json: encoded)
        statistics.add(event)
        return true
    }

    var needsWrite: Bool { events.isBufferFull }

    /// Writes the buffered records to the events file; on failure they stay buffered.
    func writeBuffered() throws(StorageError) {
        try events.writeBuffer()
    }

    /// Writes a snapshot of every event at `sequence` with `report` (of this store's statistics),
    /// then `latest.json`, and removes the oldest snapshots beyond `keep`.
    @discardableResult
    mutating func writeSnapshot(sequence: UInt64, createdAt: String, report: Report, keep: Int, logger: Logger) throws -> SnapshotPointer {
        try events.sync()
        let name = SnapshotFiles.name(sequence: sequence)
        try SnapshotFiles.write(to: FilePath(folder).appending(name).string, sequence: sequence, createdAt: createdAt,
                                report: report, events: events)
        let pointer = SnapshotPointer(file: name, sequence: sequence, eventCount: events.count, createdAt: createdAt)
        try SnapshotFiles.writePointer(pointer, folder: folder)
        latest = pointer
        prune(keeping: name, keep: keep, logger: logger)
        return pointer
    }

    private func prune(keeping newest: String, keep: Int, logger: Logger) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let snapshots = names.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".json") }.sorted()
        for name in snapshots.dropLast(max(1, keep)) where name != newest {
            do {
                try FileManager.default.removeItem(atPath: FilePath(folder).appending(name).string)
            } catch {
                logger.warning("Could not remove an old snapshot", metadata: ["snapshot.file": "\(name)", "error": "\(error)"])
            }
        }
    }
}
