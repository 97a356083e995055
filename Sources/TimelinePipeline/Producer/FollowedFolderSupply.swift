import Foundation
import Logging
import Synchronization
import SystemPackage
import Timeline

/// A folder that new source files are dropped into (GDELT's export every 15 minutes): each file is
/// read once it is complete, through `SourceLoader` (articles, JSON Lines and GDELT exports, told
/// by content), and its events published (`produce --follow DIR`).
///
/// - **Complete files only.** A file is taken when its size and modification time are the same at
///   two polls in a row. Names starting with `.` or ending in `.tmp`, `.part`, `.partial` or
///   `.crdownload` are never taken: a writer that writes under such a name and renames the file
///   when done is never read half.
/// - **Each file once, across restarts.** A state file in the producer's data folder lists the
///   files done (name, size, modification time). When a file is taken, its events are first
///   written to a spool file and the file is listed as pending with the producer sequence its
///   events start at; it is done once the broker has logged all of them (`forget(before:)`). A
///   producer restarted holds the pending files' events again from the spool, at the same
///   sequences, and sends those after the broker's position for it: nothing is lost or sent twice;
///   the files done are not read again. A file changed after it was done (another size or time) is read
///   again; its events already published in this run are not sent again.
/// - **Bad files.** A file that cannot be read or holds no event is reported (its diagnostics and
///   the reason), its bad rows written to `rejected.jsonl`, and it is marked done: not tried again.
/// - **Bounded memory.** As `FollowedFileSupply`: events are let go of once logged; what stays of
///   each is a 16-byte key in an `EventKeySet`, so that a repeat from a later file is not sent.
///   Done files no longer in the folder are dropped from the state file.
///
/// Threads: the producer worker calls everything; `count`, `firstHeld` and `events` may be read
/// from others. `poll()` does the folder's work (tests call it directly); `waitForMore` calls it
/// every `pollInterval`.
public final class FollowedFolderSupply: EventSupply, Sendable {
    public let folder: String
    /// Where the state file, its spool and `rejected.jsonl` go: the producer's data folder.
    public let dataDirectory: String
    public let statePath: String
    let spoolFolder: String
    let pollInterval: Double
    /// No more files are taken while this many events (or more) wait for the broker: a folder
    /// with a long backlog is read a few files at a time, as they are sent.
    let maxHeldEvents: Int
    private let loader: SourceLoader
    private let logger: Logger
    private let report: @Sendable (Diagnostic) -> Void
    /// The events held and the position the broker logged: read by every call.
    private let held: Mutex<Held>
    /// An exclusive `flock` on `<state>.lock`, held for the supply's life: two producers on one
    /// state would number files alike and lose one's.
    private let lock: FileDescriptor
    /// At most this many files are taken at one poll, so that a folder of thousands does not keep
    /// the producer from sending for long.
    static let maxFilesPerPoll = 64
    /// The folder's bookkeeping: only `poll()` (the worker's thread, or a test) uses it.
    private let watch: Mutex<Watch>

    /// The extensions of source files, as a folder given to `SourceLoader.load` takes them.
    public static let sourceExtensions: Set<String> = SourceLoader.folderExtensions
    /// Name endings of files being written, never taken.
    public static let temporarySuffixes = [".tmp", ".part", ".partial", ".crdownload"]

    private struct Held {
        var events: [TimelineEvent] = []
        var firstHeld = 0
        /// The index the broker has logged up to (exclusive), as `forget(before:)` said.
        var logged = 0
    }

    /// A file's size and modification time (nanoseconds since 1970).
    struct Stamp: Codable, Equatable, Sendable {
        var size: Int64
        var mtime: Int64
    }

    struct DoneFile: Codable, Equatable, Sendable {
        var name: String
        var size: Int64
        var mtime: Int64
        var stamp: Stamp { Stamp(size: size, mtime: mtime) }
    }

    /// A file taken whose events the broker has not all logged: indexes `first..<first+count`.
    struct PendingFile: Codable, Equatable, Sendable {
        var name: String
        var size: Int64
        var mtime: Int64
        var first: Int
        var count: Int
        var stamp: Stamp { Stamp(size: size, mtime: mtime) }
    }

    /// The state file's content.
    struct SavedState: Codable, Equatable, Sendable {
        var version = 1
        var folder: String
        /// The index the next file's events start at: every event taken so far, in all.
        var next: Int
        var done: [DoneFile]
        var pending: [PendingFile]
    }

    private struct Watch {
        var next = 0
        var done: [String: Stamp] = [:]
        var pending: [PendingFile] = []
        /// Files seen at the last poll and not taken yet, with what they looked like then.
        var candidates: [String: Stamp] = [:]
        var ids = EventKeySet()
        var lastPoll: Double?
        /// Whether the last listing of the folder failed (told once, and its recovery once).
        var listingFailed = false
        /// Files that could not be read at the last try (told once).
        var unreadable: Set<String> = []
    }

    /// - Parameters:
    ///   - stateName: names the state file (`followed-folder-<stateName>.json`); the producer id,
    ///     so that each producer identity has its own.
    ///   - report: where each diagnostic of a source goes (standard error).
    public init(folder: String, loader: SourceLoader, dataDirectory: String, stateName: String, pollInterval: Double = 1,
                maxHeldEvents: Int = 100_000, logger: Logger, report: @escaping @Sendable (Diagnostic) -> Void) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SourceError(path: folder, reason: .unreadable("no such folder"))
        }
        self.folder = URL(fileURLWithPath: folder).standardizedFileURL.path
        self.dataDirectory = dataDirectory
        self.loader = loader
        self.pollInterval = pollInterval
        self.maxHeldEvents = maxHeldEvents
        self.logger = logger
        self.report = report
        // Readable, and distinct for distinct ids (`a/b` and `a_b`, long ids alike at the start).
        let readable = String(stateName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }.prefix(80))
        let safeName = readable == stateName ? readable : readable + "-" + EventID.hex(EventID.digest(stateName).prefix(6))
        statePath = (dataDirectory as NSString).appendingPathComponent("followed-folder-\(safeName).json")
        spoolFolder = (dataDirectory as NSString).appendingPathComponent("followed-folder-\(safeName).spool")
        try AtomicFile.prepareFolder(dataDirectory)
        try AtomicFile.prepareFolder(spoolFolder)

        var watch = Watch()
        var held = Held()
        if let bytes = try AtomicFile.read(statePath) {
            let saved: SavedState
            do {
                saved = try JSONDecoder().decode(SavedState.self, from: Data(bytes))
            } catch {
                throw PipelineError.state(path: statePath, reason: "cannot read the followed folder's state (\(error)); "
                                              + "start the producer with another --producer-id to publish the folder again")
            }
            guard saved.version == 1 else {
                throw PipelineError.state(path: statePath, reason: "version \(saved.version) of the state file is not known here")
            }
            guard saved.folder == self.folder else {
                throw PipelineError.state(path: statePath, reason: "the state file is of the folder \(saved.folder), not \(self.folder): "
                                              + "give this producer another id (--producer-id) or data folder")
            }
            watch.next = saved.next
            watch.done = Dictionary(saved.done.map { ($0.name, $0.stamp) }, uniquingKeysWith: { _, last in last })
            watch.pending = saved.pending
            // The pending files' events, from their spool, at the indexes they had.
            held.firstHeld = saved.pending.first?.first ?? saved.next
            var expected = held.firstHeld
            for file in saved.pending {
                guard file.first == expected else {
                    throw PipelineError.state(path: statePath, reason: "pending file \(file.name) starts at event \(file.first), not \(expected)")
                }
                let events = try Self.readSpool(Self.spoolPath(spoolFolder, first: file.first), statePath: statePath)
                guard events.count == file.count else {
                    throw PipelineError.state(path: statePath, reason: "the spool of \(file.name) holds \(events.count) events, not \(file.count)")
                }
                for event in events { _ = try? watch.ids.insert(EventKey(id: event.id)) }
                held.events += events
                expected += file.count
            }
            guard expected == saved.next else {
                throw PipelineError.state(path: statePath, reason: "the pending files end at event \(expected), not \(saved.next)")
            }
            held.logged = held.firstHeld
        }
        // Taken after the state is read (nothing after this throws, so the lock is never left held
        // by a supply that failed to start) and before the spool is tidied (another producer's).
        let lockPath = statePath + ".lock"
        do {
            lock = try FileDescriptor.open(lockPath, .readWrite, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
        } catch {
            throw PipelineError.state(path: lockPath, reason: "cannot open the followed folder's lock file: \(error)")
        }
        guard flock(lock.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            try? lock.close()
            throw PipelineError.state(path: lockPath, reason: "another producer follows this folder with the same state (the same producer id and data folder); stop it first, or give this one another --producer-id")
        }
        // Spool files no pending file names: left by a crash between writing a spool and the state.
        let kept = Set(watch.pending.map { Self.spoolName(first: $0.first) })
        for name in (try? FileManager.default.contentsOfDirectory(atPath: spoolFolder)) ?? [] where !kept.contains(name) {
            try? FileManager.default.removeItem(atPath: (spoolFolder as NSString).appendingPathComponent(name))
        }
        self.watch = Mutex(watch)
        self.held = Mutex(held)
        if !watch.pending.isEmpty {
            logger.info("Publishing again the files taken before the restart that the broker may not have logged", metadata: [
                "file.path": "\(folder)", "files": "\(watch.pending.map(\.name))", "producer.firstEvent": "\(held.firstHeld + 1)",
            ])
        }
    }

    public var count: Int { held.withLock { $0.firstHeld + $0.events.count } }
    public var firstHeld: Int { held.withLock { $0.firstHeld } }
    public var isOpenEnded: Bool { true }

    /// The files done, by name, with their size and modification time (for tests and logs).
    public var doneFiles: [String] { watch.withLock { $0.done.keys.sorted() } }
    /// The files taken whose events the broker has not all logged yet.
    public var pendingFiles: [String] { watch.withLock { $0.pending.map(\.name) } }

    public func events(from index: Int, limit: Int) -> [TimelineEvent] {
        held.withLock { held in
            let start = index - held.firstHeld
            guard start >= 0, start < held.events.count else { return [] }
            return Array(held.events[start..<min(held.events.count, start + limit)])
        }
    }

    /// Lets go of the events the broker logged, and marks done the files all of whose events it
    /// logged (the state file written when one is).
    public func forget(before index: Int) {
        let logged = held.withLock { held in
            held.logged = max(held.logged, index)
            let drop = min(index - held.firstHeld, held.events.count)
            guard drop > 0 else { return held.logged }
            held.events.removeFirst(drop)
            held.firstHeld += drop
            if held.events.capacity > 4 * held.events.count + 1_024 {
                var compact: [TimelineEvent] = []
                compact.reserveCapacity(held.events.count)
                compact.append(contentsOf: held.events)
                held.events = compact
            }
            return held.logged
        }
        watch.withLock { watch in
            let finished = settle(&watch, logged: logged)
            // A spool goes only once the state no longer names it: a restart needs every spool it names.
            if !finished.isEmpty, save(watch) { removeSpools(finished) }
        }
    }

    /// Moves the pending files whose events the broker logged (before index `logged`) to the done
    /// ones; returns them.
    private func settle(_ watch: inout Watch, logged: Int) -> [PendingFile] {
        var finished: [PendingFile] = []
        while let file = watch.pending.first, file.first + file.count <= logged {
            watch.pending.removeFirst()
            watch.done[file.name] = file.stamp
            finished.append(file)
        }
        return finished
    }

    /// Polls the folder every `pollInterval` until there are more than `count` events or the
    /// timeout passes.
    public func waitForMore(beyond count: Int, timeout: Double) -> Int {
        let deadline = monotonicSeconds() + timeout
        while true {
            let due = watch.withLock { watch in watch.lastPoll.map { monotonicSeconds() - $0 >= pollInterval } ?? true }
            if due { poll() }
            let total = self.count
            if total > count || monotonicSeconds() >= deadline { return total }
            usleep(50_000)
        }
    }

    /// One look at the folder: marks done the pending files the broker has logged, takes the files
    /// that did not change since the last poll (in name order), and notes the others. Never throws:
    /// what goes wrong is logged, and tried again at the next poll where that makes sense.
    deinit {
        close()
    }

    /// Lets go of the state's lock (a producer stopping; a test restarting one). Nothing is
    /// taken or saved afterwards that another producer could not.
    public func close() {
        _ = flock(lock.rawValue, LOCK_UN)
    }

    /// Goes on from the broker's position. Past what the state file knows (it was lost, or is
    /// older than the broker's log), new files would be numbered below what the broker logged and
    /// dropped by it: with nothing held yet the numbering moves up to the broker's position;
    /// otherwise this throws, naming the way out.
    public func resume(brokerLogged position: Int) throws {
        try watch.withLock { watch in
            guard position > watch.next else { return }
            let holding = held.withLock { !$0.events.isEmpty }
            guard !holding, watch.pending.isEmpty else {
                throw PipelineError.state(path: statePath, reason: "the broker has logged \(position) events of this producer, "
                    + "more than this state file knows of (\(watch.next)): the state file was lost or is older than the broker's log, "
                    + "and the files read now would be numbered below what the broker logged and dropped; start the producer with "
                    + "another --producer-id (it publishes the folder again, and the aggregator counts each event once)")
            }
            logger.warning("The broker has logged more events of this producer than the followed folder's state knows of; new files are numbered after them", metadata: [
                "state.path": "\(statePath)", "state.next": "\(watch.next)", "producer.sequence": "\(position)",
            ])
            watch.next = position
            held.withLock { held in
                held.firstHeld = position
                held.logged = position
            }
            _ = save(watch)
        }
    }

    public func poll() {
        let logged = held.withLock { $0.logged }
        watch.withLock { watch in
            watch.lastPoll = monotonicSeconds()
            let finished = settle(&watch, logged: logged)
            var changed = !finished.isEmpty
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: folder)
            } catch {
                if !watch.listingFailed {
                    watch.listingFailed = true
                    logger.warning("Cannot list the followed folder; trying again every poll", metadata: ["file.path": "\(folder)", "error": "\(error)"])
                }
                if changed, save(watch) { removeSpools(finished) }
                return
            }
            if watch.listingFailed {
                watch.listingFailed = false
                logger.info("The followed folder can be listed again", metadata: ["file.path": "\(folder)"])
            }
            let present = Set(names)
            // Done files no longer in the folder need no remembering.
            for name in watch.done.keys where !present.contains(name) {
                watch.done[name] = nil
                changed = true
            }
            var seen: [String: Stamp] = [:]
            var taken = 0
            for name in names.sorted() where Self.isSource(name) {
                guard let stamp = Self.stamp(of: (folder as NSString).appendingPathComponent(name)) else { continue }
                if watch.done[name] == stamp || watch.pending.contains(where: { $0.name == name && $0.stamp == stamp }) { continue }
                guard watch.candidates[name] == stamp, taken < Self.maxFilesPerPoll, held.withLock({ $0.events.count }) < maxHeldEvents else {
                    seen[name] = stamp
                    continue
                }
                if take(name, stamp: stamp, watch: &watch) {
                    taken += 1
                    changed = true
                } else {
                    seen[name] = stamp
                }
            }
            watch.candidates = seen
            if changed, save(watch) { removeSpools(finished) }
        }
    }

    /// Whether a name is one of a source file the folder follows.
    static func isSource(_ name: String) -> Bool {
        if name.hasPrefix(".") { return false }
        let lower = name.lowercased()
        if temporarySuffixes.contains(where: { lower.hasSuffix($0) }) { return false }
        return sourceExtensions.contains((lower as NSString).pathExtension)
    }

    /// The size and modification time of a regular file; nil for anything else or a file gone.
    static func stamp(of path: String) -> Stamp? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Stamp(size: Int64(info.st_size), mtime: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    /// Reads one complete file and makes its new events pending (spool and state written first),
    /// or marks it done when it has none. False when the file went away meanwhile: not taken.
    private func take(_ name: String, stamp: Stamp, watch: inout Watch) -> Bool {
        let path = (folder as NSString).appendingPathComponent(name)
        let reading: SourceReading
        do {
            reading = try loader.loadFile(path)
        } catch {
            if Self.stamp(of: path) == nil { return false }
            if case .unreadable(let why) = error.reason {
                // Perhaps for a moment (permissions set after the file was made, an I/O error):
                // tried again at the next polls, told once.
                if !watch.unreadable.contains(name) {
                    watch.unreadable.insert(name)
                    logger.warning("Cannot read a source file of the followed folder yet; it is tried again at each poll", metadata: [
                        "file.path": "\(path)", "error": "\(why)",
                    ])
                }
                return false
            }
            watch.unreadable.remove(name)
            for diagnostic in error.diagnostics { report(diagnostic) }
            report(Diagnostic(.error, file: path, line: nil, "\(error.description); the file is skipped"))
            var rejected = error.diagnostics
            if case .noEvents = error.reason {} else {
                rejected.append(Diagnostic(.error, file: path, line: nil, error.description))
            }
            let written = writeRejected(rejected)
            logger.error("Skipped a source file of the followed folder: it holds no events or cannot be read", metadata: [
                "file.path": "\(path)", "error": "\(error.description)", "rejected": "\(written)",
            ])
            watch.done[name] = stamp
            return true
        }
        var fresh: [TimelineEvent] = []
        var keys: [EventKey] = []
        var inFile = Set<EventKey>()
        for event in reading.events {
            let key = EventKey(id: event.id)
            if watch.ids.contains(key) || !inFile.insert(key).inserted { continue }
            keys.append(key)
            fresh.append(event)
        }
        let repeats = reading.events.count - fresh.count
        if fresh.isEmpty {
            for diagnostic in reading.diagnostics { report(diagnostic) }
            let rejected = writeRejected(reading.diagnostics)
            watch.done[name] = stamp
            logger.info("Took a source file from the followed folder", metadata: [
                "file.path": "\(path)", "events": "0", "repeats": "\(repeats)", "rejected": "\(rejected)",
            ])
            return true
        }
        let pending = PendingFile(name: name, size: stamp.size, mtime: stamp.mtime, first: watch.next, count: fresh.count)
        // The events are on disk, and the state says where they start, before the producer can
        // send any of them: a crash from here on publishes them again with the same sequences.
        do {
            var text = ""
            for event in fresh { text += EventJSON.encode(event) + "\n" }
            try AtomicFile.write(text, to: Self.spoolPath(spoolFolder, first: pending.first))
            var saved = watch
            saved.pending.append(pending)
            saved.next += fresh.count
            saved.candidates.removeValue(forKey: name)
            try write(saved)
        } catch {
            logger.error("Cannot write the followed folder's state; the file is taken at a later poll", metadata: [
                "file.path": "\(path)", "state.path": "\(statePath)", "error": "\(error)",
            ])
            return false
        }
        // Told and dead-lettered once the file is taken for good: a file taken again after a failed
        // state write does not repeat its rows.
        for diagnostic in reading.diagnostics { report(diagnostic) }
        let rejected = writeRejected(reading.diagnostics)
        for key in keys { _ = try? watch.ids.insert(key) }
        watch.pending.append(pending)
        watch.next += fresh.count
        held.withLock { $0.events += fresh }
        logger.info("Took a source file from the followed folder", metadata: [
            "file.path": "\(path)", "events": "\(fresh.count)", "repeats": "\(repeats)", "rejected": "\(rejected)",
            "producer.firstEvent": "\(pending.first + 1)",
        ])
        return true
    }

    /// Writes the state; a failure is logged (and the next change writes it again): false then.
    private func save(_ watch: Watch) -> Bool {
        do {
            try write(watch)
            return true
        } catch {
            logger.error("Cannot write the followed folder's state", metadata: ["state.path": "\(statePath)", "error": "\(error)"])
            return false
        }
    }

    private func write(_ watch: Watch) throws {
        let saved = SavedState(folder: folder, next: watch.next,
                               done: watch.done.map { DoneFile(name: $0.key, size: $0.value.size, mtime: $0.value.mtime) }.sorted { $0.name < $1.name },
                               pending: watch.pending)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(Array(try encoder.encode(saved)) + [0x0A], to: statePath)
    }

    private func removeSpools(_ files: [PendingFile]) {
        for file in files { FilePath(Self.spoolPath(spoolFolder, first: file.first)).removeFile() }
    }

    /// Appends the errors to `rejected.jsonl`; how many were written (0 when it could not be).
    private func writeRejected(_ diagnostics: [Diagnostic]) -> Int {
        do {
            return try RejectedLines.write(diagnostics, folder: dataDirectory)
        } catch {
            logger.error("Could not write the rejected rows", metadata: ["file.path": "\(dataDirectory)/\(RejectedLines.fileName)", "error": "\(error)"])
            return 0
        }
    }

    static func spoolName(first: Int) -> String { "\(first).jsonl" }

    static func spoolPath(_ folder: String, first: Int) -> String {
        (folder as NSString).appendingPathComponent(spoolName(first: first))
    }

    static func readSpool(_ path: String, statePath: String) throws -> [TimelineEvent] {
        guard let bytes = try AtomicFile.read(path) else {
            throw PipelineError.state(path: statePath, reason: "the spool file \(path) of a pending file is missing")
        }
        let reading = EventJSON.read(String(decoding: bytes, as: UTF8.self), document: path)
        if let bad = reading.diagnostics.first(where: { $0.severity == .error }) {
            throw PipelineError.state(path: statePath, reason: "the spool file is damaged: \(bad)")
        }
        return reading.events
    }
}
