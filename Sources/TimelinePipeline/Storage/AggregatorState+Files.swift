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
// Version 3 (`TLAGST03`) adds, after the summary, the dates of the visits (`VisitDays`):
// `u32 count | count × (i32 year | 2 bytes from | 2 bytes to | dates)`, countries as their two
// capital letters, and the dates either `u16 n (< 24) | n × u16 mark` (the few dates of most
// years) or `u16 0xFFFF | 6 × u64 bits` (the bitmap, when that is shorter). The summary of version 3 also carries the events of other kinds per year and direction
// (`eventCells`) and the facts (`facts`).
//
// Older state files are still read, and the next checkpoint writes version 3: version 2
// (`TLAGST02`, no dates: a year with visits reads as visits during that year), and version 1,
// `TLAGST01 | u32 JSON length | JSON | u64 key count | keys | u32 CRC-32C`, with every key inline.
// Integers are big-endian.

extension AggregatorState {
    static let magicV1 = Array("TLAGST01".utf8)
    static let magicV2 = Array("TLAGST02".utf8)
    static let magic = Array("TLAGST03".utf8)

    /// Appends the new keys (cutting anything after them), syncs, then replaces the state file.
    /// On failure the files still hold the previous checkpoint whole.
    public static func write(_ checkpoint: Checkpoint, to folder: String) throws(StorageError) {
        let keysFile = FilePath(folder).appending(keysFileName)
        let fd = try FileDescriptor.openForUpdate(keysFile)
        defer { try? fd.close() }
        let offset = Int64(checkpoint.keyOffset)
        do throws(StorageError) {
            try fileCall("write", keysFile) {
                try checkpoint.keys.withUnsafeBytes { keys in _ = try fd.writeAll(toAbsoluteOffset: offset, keys) }
            }
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
        let parts = statistics.parts
        var summary = summary(of: parts)
        summary.keyCount = keyCount
        summary.keysChecksum = keysChecksum
        var days: [UInt8] = []
        days.reserveCapacity(4 + parts.visitDays.count * 16)
        days.appendInteger(UInt32(parts.visitDays.count))
        for entry in parts.visitDays {
            days.appendInteger(Int32(truncatingIfNeeded: entry.year))
            days += entry.direction.from.rawValue.utf8
            days += entry.direction.to.rawValue.utf8
            let marks = entry.days.marks
            if marks.count < AggregatorState.listedMarksLimit {
                days.appendInteger(UInt16(marks.count))
                for mark in marks { days.appendInteger(UInt16(mark)) }
            } else {
                days.appendInteger(UInt16.max)
                for word in entry.days.wordArray { days.appendInteger(word) }
            }
        }
        return AggregatorState.framed(AggregatorState.magic, summary: summary, keys: days)
    }

    /// Reads the visit dates of a version-3 file.
    /// Years with fewer dates than this have them listed; others are written as the bitmap.
    static let listedMarksLimit = 24

    private static func readVisitDays(_ reader: inout ByteReader) throws(StateError) -> [VisitDaysKey: VisitDays] {
        func damaged(_ why: String) -> StateError { StateError("the visit dates are damaged: \(why)") }
        func read<T: FixedWidthInteger>(_ type: T.Type, _ field: String) throws(StateError) -> T {
            do {
                return try reader.readInteger(as: type, field)
            } catch {
                throw damaged("\(error)")
            }
        }
        let count = Int(try read(UInt32.self, "visit dates"))
        // Each entry takes at least 10 bytes: a count beyond what is left is damage, not a reservation.
        guard count <= reader.remaining / 10 else { throw damaged("\(count) entries in \(reader.remaining) bytes") }
        var result: [VisitDaysKey: VisitDays] = [:]
        result.reserveCapacity(count)
        for _ in 0..<count {
            let year = Int(try read(Int32.self, "year"))
            let codes = try read(UInt32.self, "countries")
            let from = CountryCode(String(decoding: [UInt8(codes >> 24), UInt8(codes >> 16 & 0xFF)], as: UTF8.self))
            let to = CountryCode(String(decoding: [UInt8(codes >> 8 & 0xFF), UInt8(codes & 0xFF)], as: UTF8.self))
            guard let from, let to else { throw damaged("an entry whose countries are not codes") }
            let listed = try read(UInt16.self, "dates")
            var days = VisitDays()
            if listed == UInt16.max {
                var words: [UInt64] = []
                for _ in 0..<VisitDays.wordCount { words.append(try read(UInt64.self, "dates")) }
                guard let bitmap = VisitDays(wordArray: words) else { throw damaged("a bitmap with bits past the last date") }
                days = bitmap
            } else {
                guard Int(listed) < listedMarksLimit else { throw damaged("\(listed) dates listed in one year") }
                for _ in 0..<listed {
                    let mark = Int(try read(UInt16.self, "date"))
                    guard mark <= VisitDays.decadeMark else { throw damaged("a date mark of \(mark)") }
                    days.insert(mark)
                }
            }
            result[VisitDaysKey(year: year, direction: Direction(from: from, to: to))] = days
        }
        return result
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

    /// Reads a state file. A version-2 file's keys are read by `readKeys`; a version-1 file holds
    /// them inline. The error says what is wrong.
    init(decoding bytes: [UInt8]) throws(StateError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(StateError) -> AggregatorState in try AggregatorState.decode(raw) }
        }
        self = try result.get()
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer) throws(StateError) -> AggregatorState {
        let version1 = bytes.starts(with: magicV1), version3 = bytes.starts(with: magic)
        guard bytes.count >= 8 + 4 + 4, version1 || version3 || bytes.starts(with: magicV2) else {
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
        var state = try AggregatorState(summary: summary, visitDays: version3 ? try readVisitDays(&reader) : nil)
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
        do throws(MemoryMapError) {
            for offset in stride(from: 0, to: keys.count, by: 16) {
                try state.unsavedKeys.reserveOne()
                state.unsavedKeys.append(EventKey(keys, at: offset))
            }
        } catch {
            throw StateError("\(error)")
        }
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
