import Foundation
import Timeline

/// Everything the aggregator must persist, and persists together: the statistics, the set of events
/// counted, and the stream position they reflect. Restoring them and replaying from the position
/// gives exactly the statistics of every event once.
///
/// Two files in the data folder:
/// - `aggregator-state.bin`, replaced atomically at each checkpoint:
///   `TLAGST02 | u32 JSON length | JSON summary | u32 CRC-32C of all before`. The summary holds the
///   position, counters and statistics, and how many keys of the keys file belong to it
///   (`keyCount`) with the CRC-32C of those keys' bytes (`keysChecksum`).
/// - `aggregator-keys.bin`, append-only: the 16-byte keys of the counted events in the order they
///   were counted. A checkpoint appends only the keys counted since the last one (and fsyncs) before
///   it replaces the state file, so its cost does not grow with the history. Keys past `keyCount`
///   (a checkpoint that failed half way) are cut on load and written again.
///
/// The version-1 state file, with every key inline, is still read; the next checkpoint writes both
/// files of version 2.
public struct AggregatorState: Sendable {
    public static let fileName = "aggregator-state.bin"
    public static let keysFileName = "aggregator-keys.bin"
    static let magicV1 = Array("TLAGST01".utf8)
    static let magic = Array("TLAGST02".utf8)

    public var statistics = Statistics()
    var counted = EventKeySet()
    /// Keys counted since the last checkpoint, in order: the next checkpoint appends them.
    var unsavedKeys: [EventKey] = []
    /// Keys already in the keys file, and the CRC-32C of their bytes.
    var savedKeyCount: UInt64 = 0
    var savedKeysChecksum: UInt32 = 0
    public var position = StreamPosition()
    public var duplicateEvents: UInt64 = 0
    public var rejected: UInt64 = 0
    /// Messages applied as they arrived live, and from the broker's log; repeats of a sequence
    /// already applied. Kept with the state, so they add up across restarts.
    public var live: UInt64 = 0
    public var replayed: UInt64 = 0
    public var duplicateSequences: UInt64 = 0

    public init() {}

    /// How many distinct events were counted.
    public var countedEvents: Int { counted.count }

    /// Whether an event with this key was counted.
    public func hasCounted(_ key: EventKey) -> Bool { counted.contains(key) }

    /// Counts an event unless an event with the same id was counted before; returns whether it counted.
    @discardableResult
    public mutating func apply(_ event: TimelineEvent) -> Bool {
        apply(EventSummary(event))
    }

    @discardableResult
    public mutating func apply(_ summary: EventSummary) -> Bool {
        guard counted.insert(summary.key) else {
            duplicateEvents += 1
            return false
        }
        unsavedKeys.append(summary.key)
        statistics.add(summary)
        return true
    }

    /// What a checkpoint writes: the keys to append at `keyOffset` and the new state file.
    public struct Checkpoint: Sendable {
        var keys: [UInt8]
        var keyOffset: UInt64
        var keyCount: UInt64
        var keysChecksum: UInt32
        var stateFile: [UInt8]
    }

    /// The checkpoint of the state as it stands; hand it to `write(_:to:)`, then to `saved(_:)`.
    public func checkpoint() -> Checkpoint {
        var keys: [UInt8] = []
        keys.reserveCapacity(unsavedKeys.count * 16)
        for key in unsavedKeys {
            keys.appendInteger(key.high)
            keys.appendInteger(key.low)
        }
        let checksum = keys.withUnsafeBytes { CRC32C.checksum($0, seed: savedKeysChecksum) }
        let count = savedKeyCount + UInt64(unsavedKeys.count)
        return Checkpoint(keys: keys, keyOffset: savedKeyCount * 16, keyCount: count, keysChecksum: checksum,
                          stateFile: encodedStateFile(keyCount: count, keysChecksum: checksum))
    }

    /// Records that a checkpoint reached the disk.
    public mutating func saved(_ checkpoint: Checkpoint) {
        unsavedKeys.removeFirst(Int(checkpoint.keyCount - savedKeyCount))
        savedKeyCount = checkpoint.keyCount
        savedKeysChecksum = checkpoint.keysChecksum
    }

    /// Appends the new keys (cutting anything after them), syncs, then replaces the state file.
    /// On failure the files still hold the previous checkpoint whole.
    public static func write(_ checkpoint: Checkpoint, to folder: String) throws(StorageError) {
        let keysPath = (folder as NSString).appendingPathComponent(keysFileName)
        let fd = open(keysPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError(path: keysPath, operation: "open") }
        defer { close(fd) }
        let end = off_t(checkpoint.keyOffset) + off_t(checkpoint.keys.count)
        let failure: StorageError? = checkpoint.keys.withUnsafeBytes { buffer in
            var written = 0
            while written < buffer.count {
                let result = pwrite(fd, buffer.baseAddress! + written, buffer.count - written, off_t(checkpoint.keyOffset) + off_t(written))
                if result < 0 {
                    if errno == EINTR { continue }
                    return StorageError(path: keysPath, operation: "write")
                }
                written += result
            }
            return nil
        }
        if let failure {
            _ = ftruncate(fd, off_t(checkpoint.keyOffset))
            throw failure
        }
        guard ftruncate(fd, end) == 0 else { throw StorageError(path: keysPath, operation: "ftruncate") }
        guard fsync(fd) == 0 else { throw StorageError(path: keysPath, operation: "fsync") }
        try AtomicFile.write(checkpoint.stateFile, to: (folder as NSString).appendingPathComponent(fileName))
    }

    /// Writes the whole state to a folder (both files).
    public func save(to folder: String) throws {
        try AggregatorState.write(checkpoint(), to: folder)
    }

    private func encodedStateFile(keyCount: UInt64, keysChecksum: UInt32) -> [UInt8] {
        let json = summaryJSON(extra: ",\"keyCount\":\(keyCount),\"keysChecksum\":\(keysChecksum)")
        var bytes = AggregatorState.magic
        bytes.appendInteger(UInt32(json.count))
        bytes += json
        bytes.appendInteger(CRC32C.checksum(bytes))
        return bytes
    }

    private func summaryJSON(extra: String) -> [UInt8] {
        var json = "{\"sequence\":\(position.sequence),\"duplicateEvents\":\(duplicateEvents),\"rejected\":\(rejected)"
        json += ",\"live\":\(live),\"replayed\":\(replayed),\"duplicateSequences\":\(duplicateSequences)"
        json += ",\"totalEvents\":\(statistics.totalEvents)" + extra + ",\"producers\":{"
        json += position.producers.keys.sorted().map { key in
            var entry = ""
            EventJSON.appendString(key, to: &entry)
            return entry + ":\(position.producers[key]!)"
        }.joined(separator: ",")
        json += "},\"eventsByKind\":{"
        json += statistics.eventsByKind.keys.sorted().map { "\"\($0.rawValue)\":\(statistics.eventsByKind[$0]!)" }.joined(separator: ",")
        json += "},\"visitsByYear\":["
        json += statistics.visitsByYear.map { "[\($0.year),\"\($0.from)\",\"\($0.to)\",\($0.count)]" }.joined(separator: ",")
        json += "]}"
        return Array(json.utf8)
    }

    /// The version-1 file: `TLAGST01 | u32 JSON length | JSON | u64 key count | keys | u32 CRC-32C`,
    /// every key inline. Only written by tests now, to check that such files are still read.
    func encodedVersion1() -> [UInt8] {
        let json = summaryJSON(extra: "")
        var bytes = AggregatorState.magicV1
        bytes.appendInteger(UInt32(json.count))
        bytes += json
        bytes.appendInteger(UInt64(counted.count))
        counted.forEach { key in
            bytes.appendInteger(key.high)
            bytes.appendInteger(key.low)
        }
        bytes.appendInteger(CRC32C.checksum(bytes))
        return bytes
    }

    /// Reads a state file. A version-2 file's keys are read by `readKeys`; a version-1 file holds
    /// them inline. The error says what is wrong.
    init(decoding bytes: [UInt8]) throws(StateError) {
        let version1 = Array(bytes.prefix(8)) == AggregatorState.magicV1
        guard bytes.count >= 8 + 4 + 4, version1 || Array(bytes.prefix(8)) == AggregatorState.magic else {
            throw StateError("not an aggregator state file")
        }
        let body = bytes[..<(bytes.count - 4)]
        guard ByteReader.integer(exactly: Array(bytes.suffix(4)), as: UInt32.self) == CRC32C.checksum(Array(body)) else {
            throw StateError("the checksum does not match (the file is damaged)")
        }
        let jsonLength = Int(ByteReader.integer(exactly: Array(bytes[8..<12]), as: UInt32.self)!)
        guard 12 + jsonLength <= body.count else { throw StateError("truncated") }
        let jsonData = Data(bytes[12..<(12 + jsonLength)])
        guard let object = try? JSONSerialization.jsonObject(with: jsonData) as? [String: Any],
              let sequence = (object["sequence"] as? NSNumber)?.uint64Value,
              let totalEvents = (object["totalEvents"] as? NSNumber)?.intValue,
              let producers = object["producers"] as? [String: NSNumber],
              let kinds = object["eventsByKind"] as? [String: NSNumber],
              let years = object["visitsByYear"] as? [[Any]] else {
            throw StateError("the summary is malformed")
        }
        var eventsByKind: [EventKind: Int] = [:]
        for (name, count) in kinds {
            guard let kind = EventKind(rawValue: name) else { throw StateError("unknown kind '\(name)'") }
            eventsByKind[kind] = count.intValue
        }
        var visitsByYear: [YearCount] = []
        for entry in years {
            guard entry.count == 4, let year = (entry[0] as? NSNumber)?.intValue, let from = (entry[1] as? String).flatMap(CountryCode.init),
                  let to = (entry[2] as? String).flatMap(CountryCode.init), let count = (entry[3] as? NSNumber)?.intValue else {
                throw StateError("a malformed visits-per-year entry")
            }
            visitsByYear.append(YearCount(year: year, from: from, to: to, count: count))
        }
        statistics = Statistics(totalEvents: totalEvents, eventsByKind: eventsByKind, visitsByYear: visitsByYear)
        position = StreamPosition(sequence: sequence, producers: producers.mapValues(\.uint64Value))
        duplicateEvents = (object["duplicateEvents"] as? NSNumber)?.uint64Value ?? 0
        rejected = (object["rejected"] as? NSNumber)?.uint64Value ?? 0
        live = (object["live"] as? NSNumber)?.uint64Value ?? 0
        replayed = (object["replayed"] as? NSNumber)?.uint64Value ?? 0
        duplicateSequences = (object["duplicateSequences"] as? NSNumber)?.uint64Value ?? 0
        guard version1 else {
            guard jsonLength + 12 == body.count, let keyCount = (object["keyCount"] as? NSNumber)?.uint64Value,
                  let checksum = (object["keysChecksum"] as? NSNumber)?.uint32Value else {
                throw StateError("the summary is malformed")
            }
            savedKeyCount = keyCount
            savedKeysChecksum = checksum
            return
        }
        var offset = 12 + jsonLength
        guard offset + 8 <= body.count else { throw StateError("truncated") }
        let keyCount = Int(ByteReader.integer(exactly: Array(bytes[offset..<(offset + 8)]), as: UInt64.self)!)
        offset += 8
        guard offset + keyCount * 16 == body.count else { throw StateError("the key count does not match the file size") }
        counted = EventKeySet(minimumCapacity: keyCount)
        for _ in 0..<keyCount {
            let key = EventKey(high: ByteReader.integer(exactly: Array(bytes[offset..<(offset + 8)]), as: UInt64.self)!,
                               low: ByteReader.integer(exactly: Array(bytes[(offset + 8)..<(offset + 16)]), as: UInt64.self)!)
            counted.insert(key)
            // Not yet in a keys file: the next checkpoint writes them all.
            unsavedKeys.append(key)
            offset += 16
        }
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
        counted = EventKeySet(minimumCapacity: Int(savedKeyCount))
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < needed {
                counted.insert(EventKey(high: ByteReader.integer(raw, at: offset, as: UInt64.self), low: ByteReader.integer(raw, at: offset + 8, as: UInt64.self)))
                offset += 16
            }
        }
    }

    /// Loads the state from a data folder: a fresh state when there is none yet. With `keys: false`
    /// the set of counted keys is not read (enough for an offline report).
    public static func load(from folder: String, keys: Bool = true) throws -> AggregatorState {
        let path = (folder as NSString).appendingPathComponent(fileName)
        guard let bytes = try AtomicFile.read(path) else { return AggregatorState() }
        var state: AggregatorState
        do {
            state = try AggregatorState(decoding: bytes)
        } catch {
            throw PipelineError.state(path: path, reason: error.reason)
        }
        guard keys, state.savedKeyCount > 0 else { return state }
        let keysPath = (folder as NSString).appendingPathComponent(keysFileName)
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
}

public struct StateError: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
