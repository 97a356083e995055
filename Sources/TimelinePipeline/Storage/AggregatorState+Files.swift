import Foundation
import SystemPackage
import Timeline

// The aggregator's two files in the data folder:
// - `aggregator-state.bin`, replaced atomically at each checkpoint:
//   `TLAGST02 | u32 JSON length | JSON summary | u32 CRC-32C of all before`. The summary
//   (`StateSummary`) holds the position, counters and statistics, and how many keys of the keys
//   file belong to it (`keyCount`) with the CRC-32C of those keys' bytes (`keysChecksum`).
// - `aggregator-keys.bin`, append-only: the 16-byte keys of the counted events in the order they
//   were counted. A checkpoint appends the keys counted since the last one (and fsyncs) before it
//   replaces the state file. Keys past `keyCount` (a checkpoint that failed half way) are cut on
//   load and written again.
//
// The version-1 state file, `TLAGST01 | u32 JSON length | JSON | u64 key count | keys | u32 CRC-32C`
// with every key inline, is still read; the next checkpoint writes both files of version 2.
// Integers are big-endian.

extension AggregatorState {
    static let magicV1 = Array("TLAGST01".utf8)
    static let magic = Array("TLAGST02".utf8)

    /// Appends the new keys (cutting anything after them), syncs, then replaces the state file.
    /// On failure the files still hold the previous checkpoint whole.
    public static func write(_ checkpoint: Checkpoint, to folder: String) throws(StorageError) {
        let keysFile = FilePath(folder).appending(keysFileName)
        let fd = try FileDescriptor.openForUpdate(keysFile)
        defer { try? fd.close() }
        let offset = Int64(checkpoint.keyOffset)
        do throws(StorageError) {
            try fileCall("write", keysFile) { try fd.writeAll(toAbsoluteOffset: offset, checkpoint.keys) }
        } catch {
            try? fileCall("ftruncate", keysFile) { try fd.resize(to: offset) }
            throw error
        }
        try fileCall("ftruncate", keysFile) { try fd.resize(to: offset + Int64(checkpoint.keys.count)) }
        try fileCall("fsync", keysFile) { try fd.sync() }
        try AtomicFile.write(checkpoint.stateFile, to: FilePath(folder).appending(fileName).string)
    }

    /// Writes the whole state to a folder (both files).
    public func save(to folder: String) throws {
        try AggregatorState.write(checkpoint(), to: folder)
    }

    /// Loads the state from a data folder: a fresh state when there is none yet. With `keys: false`
    /// the set of counted keys is not read (enough for an offline report).
    public static func load(from folder: String, keys: Bool = true) throws -> AggregatorState {
        let path = FilePath(folder).appending(fileName).string
        guard let bytes = try AtomicFile.read(path) else { return AggregatorState() }
        var state: AggregatorState
        do {
            state = try AggregatorState(decoding: bytes)
        } catch {
            throw PipelineError.state(path: path, reason: error.reason)
        }
        guard keys, state.savedKeyCount > 0 else { return state }
        let keysPath = FilePath(folder).appending(keysFileName).string
        guard let keyBytes = try AtomicFile.read(keysPath) else {
            throw PipelineError.state(path: keysPath, reason: "missing; the state counts \(state.savedKeyCount) keys in it")
        }
        do {
            try state.readKeys(keyBytes)
        } catch {
            throw PipelineError.state(path: keysPath, reason: error.reason)
        }
        return state
    }

    func encodedStateFile(keyCount: UInt64, keysChecksum: UInt32) -> [UInt8] {
        var summary = summary
        summary.keyCount = keyCount
        summary.keysChecksum = keysChecksum
        return AggregatorState.framed(AggregatorState.magic, summary: summary, keys: nil)
    }

    /// The version-1 file, every key inline. Only written by tests now, to check that such files
    /// are still read.
    func encodedVersion1() -> [UInt8] {
        var keys: [UInt8] = []
        keys.appendInteger(UInt64(counted.count))
        counted.forEach { $0.append(to: &keys) }
        return AggregatorState.framed(AggregatorState.magicV1, summary: summary, keys: keys)
    }

    private static func framed(_ magic: [UInt8], summary: StateSummary, keys: [UInt8]?) -> [UInt8] {
        let json = summary.encoded()
        var bytes = magic
        bytes.appendInteger(UInt32(json.count))
        bytes += json
        if let keys { bytes += keys }
        bytes.appendInteger(CRC32C.checksum(bytes))
        return bytes
    }

    /// The summary of the state as it stands, without the keys file's count and checksum.
    private var summary: StateSummary {
        StateSummary(sequence: position.sequence, duplicateEvents: duplicateEvents, rejected: rejected, live: live,
                     replayed: replayed, duplicateSequences: duplicateSequences, totalEvents: statistics.totalEvents,
                     producers: position.producers,
                     eventsByKind: Dictionary(uniqueKeysWithValues: statistics.eventsByKind.map { ($0.key.rawValue, $0.value) }),
                     visitsByYear: statistics.visitsByYear.map(StateSummary.YearEntry.init))
    }

    /// Reads a state file. A version-2 file's keys are read by `readKeys`; a version-1 file holds
    /// them inline. The error says what is wrong.
    init(decoding bytes: [UInt8]) throws(StateError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StateError) -> AggregatorState in try AggregatorState.decode(raw) }
        }
        self = try result.get()
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer) throws(StateError) -> AggregatorState {
        let version1 = bytes.starts(with: magicV1)
        guard bytes.count >= 8 + 4 + 4, version1 || bytes.starts(with: magic) else {
            throw StateError("not an aggregator state file")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        guard ByteReader.integer(bytes, at: body.count, as: UInt32.self) == CRC32C.checksum(body) else {
            throw StateError("the checksum does not match (the file is damaged)")
        }
        var reader = ByteReader(body, offset: 8)
        let json: UnsafeRawBufferPointer
        do throws(ByteCodecError) {
            json = try reader.readLengthPrefixed(UInt32.self, "summary")
        } catch {
            throw StateError("truncated")
        }
        let summary = try StateSummary(decoding: json)
        var state = try AggregatorState(summary: summary)
        guard version1 else {
            guard reader.isAtEnd, let keyCount = summary.keyCount, let checksum = summary.keysChecksum else {
                throw StateError("the summary is malformed")
            }
            state.savedKeyCount = keyCount
            state.savedKeysChecksum = checksum
            return state
        }
        let keyCount: UInt64
        do throws(ByteCodecError) {
            keyCount = try reader.readInteger(as: UInt64.self, "key count")
        } catch {
            throw StateError("truncated")
        }
        guard reader.remaining % 16 == 0, UInt64(reader.remaining / 16) == keyCount else {
            throw StateError("the key count does not match the file size")
        }
        let keys = reader.readRest()
        state.counted = try EventKeySet(keysIn: keys)
        // Not yet in a keys file: the next checkpoint writes them all.
        state.unsavedKeys = stride(from: 0, to: keys.count, by: 16).map { EventKey(keys, at: $0) }
        return state
    }

    /// Reads the first `savedKeyCount` keys of a keys file and checks them against the summary.
    mutating func readKeys(_ bytes: [UInt8]) throws(StateError) {
        let needed = Int(savedKeyCount) * 16
        guard bytes.count >= needed else {
            throw StateError("\(AggregatorState.keysFileName) holds \(bytes.count / 16) keys; the state counts \(savedKeyCount)")
        }
        let checksum = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<needed])) }
        guard checksum == savedKeysChecksum else {
            throw StateError("\(AggregatorState.keysFileName) does not match the state's checksum (the file is damaged)")
        }
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StateError) in try EventKeySet(keysIn: UnsafeRawBufferPointer(rebasing: raw[..<needed])) }
        }
        counted = try result.get()
    }
}

/// The summary inside the state file, as JSON. Every field the first versions wrote is still
/// written, and a field they did not always write reads as 0 when absent, so that files pass
/// between versions both ways.
struct StateSummary: Codable, Equatable {
    var sequence: UInt64
    var duplicateEvents: UInt64 = 0
    var rejected: UInt64 = 0
    var live: UInt64 = 0
    var replayed: UInt64 = 0
    var duplicateSequences: UInt64 = 0
    var totalEvents: Int
    /// In version 2: how many keys of the keys file belong to this state, and their CRC-32C.
    var keyCount: UInt64?
    var keysChecksum: UInt32?
    var producers: [String: UInt64]
    /// Events per kind, by the kind's name.
    var eventsByKind: [String: Int]
    var visitsByYear: [YearEntry]

    /// Visits in one year in one direction, written as `[year, "from", "to", count]`.
    struct YearEntry: Codable, Equatable {
        var visits: YearCount

        init(_ visits: YearCount) { self.visits = visits }

        init(from decoder: any Decoder) throws {
            var entry = try decoder.unkeyedContainer()
            let year = try entry.decode(Int.self)
            let from = try entry.decode(String.self), to = try entry.decode(String.self)
            let count = try entry.decode(Int.self)
            guard entry.isAtEnd, let fromCode = CountryCode(from), let toCode = CountryCode(to) else {
                throw DecodingError.dataCorrupted(.init(codingPath: entry.codingPath, debugDescription: "a malformed visits-per-year entry"))
            }
            visits = YearCount(year: year, from: fromCode, to: toCode, count: count)
        }

        func encode(to encoder: any Encoder) throws {
            var entry = encoder.unkeyedContainer()
            try entry.encode(visits.year)
            try entry.encode(visits.from.description)
            try entry.encode(visits.to.description)
            try entry.encode(visits.count)
        }
    }

    init(sequence: UInt64, duplicateEvents: UInt64, rejected: UInt64, live: UInt64, replayed: UInt64,
         duplicateSequences: UInt64, totalEvents: Int, producers: [String: UInt64], eventsByKind: [String: Int],
         visitsByYear: [YearEntry]) {
        self.sequence = sequence
        self.duplicateEvents = duplicateEvents
        self.rejected = rejected
        self.live = live
        self.replayed = replayed
        self.duplicateSequences = duplicateSequences
        self.totalEvents = totalEvents
        self.producers = producers
        self.eventsByKind = eventsByKind
        self.visitsByYear = visitsByYear
    }

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try fields.decode(UInt64.self, forKey: .sequence)
        duplicateEvents = try fields.decodeIfPresent(UInt64.self, forKey: .duplicateEvents) ?? 0
        rejected = try fields.decodeIfPresent(UInt64.self, forKey: .rejected) ?? 0
        live = try fields.decodeIfPresent(UInt64.self, forKey: .live) ?? 0
        replayed = try fields.decodeIfPresent(UInt64.self, forKey: .replayed) ?? 0
        duplicateSequences = try fields.decodeIfPresent(UInt64.self, forKey: .duplicateSequences) ?? 0
        totalEvents = try fields.decode(Int.self, forKey: .totalEvents)
        keyCount = try fields.decodeIfPresent(UInt64.self, forKey: .keyCount)
        keysChecksum = try fields.decodeIfPresent(UInt32.self, forKey: .keysChecksum)
        producers = try fields.decode([String: UInt64].self, forKey: .producers)
        eventsByKind = try fields.decode([String: Int].self, forKey: .eventsByKind)
        visitsByYear = try fields.decode([YearEntry].self, forKey: .visitsByYear)
    }

    /// Reads a summary; the error says which field is wrong.
    init(decoding json: UnsafeRawBufferPointer) throws(StateError) {
        do {
            self = try JSONDecoder().decode(StateSummary.self, from: Data(json))
        } catch let DecodingError.keyNotFound(key, _) {
            throw StateError("the summary is malformed: '\(key.stringValue)' is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.dataCorrupted(context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw StateError("the summary is malformed\(path.isEmpty ? "" : " at '\(path)'"): \(context.debugDescription)")
        } catch {
            throw StateError("the summary is malformed")
        }
    }

    /// The JSON, keys sorted.
    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Integers, strings and arrays of them only: encoding cannot fail.
        return Array(try! encoder.encode(self))
    }
}

extension AggregatorState {
    /// A state from a summary (its keys still to be read).
    fileprivate init(summary: StateSummary) throws(StateError) {
        self.init()
        var eventsByKind: [EventKind: Int] = [:]
        for (name, count) in summary.eventsByKind {
            guard let kind = EventKind(rawValue: name) else { throw StateError("unknown kind '\(name)'") }
            eventsByKind[kind] = count
        }
        statistics = Statistics(totalEvents: summary.totalEvents, eventsByKind: eventsByKind, visitsByYear: summary.visitsByYear.map(\.visits))
        position = StreamPosition(sequence: summary.sequence, producers: summary.producers)
        duplicateEvents = summary.duplicateEvents
        rejected = summary.rejected
        live = summary.live
        replayed = summary.replayed
        duplicateSequences = summary.duplicateSequences
    }
}

extension EventKeySet {
    /// The set of the 16-byte keys in `bytes`, as the keys files hold them.
    init(keysIn bytes: UnsafeRawBufferPointer) throws(StateError) {
        self.init(minimumCapacity: bytes.count / 16)
        do throws(MemoryMapError) {
            for offset in stride(from: 0, to: bytes.count - 15, by: 16) { try insert(EventKey(bytes, at: offset)) }
        } catch {
            throw StateError("\(error)")
        }
    }
}

extension EventKey {
    /// The key in the 16 bytes at `offset`, as the keys files hold it (`high` then `low`).
    init(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        self.init(high: ByteReader.integer(bytes, at: offset, as: UInt64.self), low: ByteReader.integer(bytes, at: offset + 8, as: UInt64.self))
    }

    /// Appends the key's 16 bytes.
    func append(to bytes: inout [UInt8]) {
        bytes.appendInteger(high)
        bytes.appendInteger(low)
    }
}

public struct StateError: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
