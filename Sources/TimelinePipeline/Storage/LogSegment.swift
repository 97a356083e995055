import SystemPackage

/// An open file of the log, closed when the last holder lets go: the broker's loop and a
/// `LogSyncer` on another thread may both hold the active segment's files across a roll.
final class OpenFile: Sendable {
    let fd: FileDescriptor
    let path: FilePath

    init(_ fd: FileDescriptor, path: FilePath) {
        self.fd = fd
        self.path = path
    }

    /// Opens (creating it if needed) `path` for reading and writing.
    static func open(_ path: FilePath) throws(StorageError) -> OpenFile {
        OpenFile(try FileDescriptor.openForUpdate(path), path: path)
    }

    /// The file's size as the file system has it.
    func size() throws(StorageError) -> Int64 {
        try fileCall("lseek", path) { try fd.seek(offset: 0, from: .end) }
    }

    deinit {
        try? fd.close()
    }
}

/// Where the records of one segment start, every `stride`th record from the segment's first: the
/// sparse index a read starts from, walking on record by record.
struct SegmentOffsets: Equatable {
    static let stride: UInt64 = 256

    /// The sequence of the segment's first record (whether or not it holds any yet).
    let first: UInt64
    /// `offsets[k]`: where the record with sequence `first + k * stride` starts in the segment.
    private(set) var offsets: [Int64] = []

    init(first: UInt64, offsets: [Int64] = []) {
        self.first = first
        self.offsets = offsets
    }

    /// Counts the record with `sequence`, which starts at `offset` of the segment.
    @inline(__always)
    mutating func add(sequence: UInt64, offset: Int64) {
        if (sequence - first) % SegmentOffsets.stride == 0 { offsets.append(offset) }
    }

    /// The nearest indexed record at or before `sequence`; nil when the segment holds no record
    /// or `sequence` lies before it.
    func start(at sequence: UInt64) -> (sequence: UInt64, offset: Int64)? {
        guard !offsets.isEmpty, sequence >= first else { return nil }
        let slot = min(Int((sequence - first) / SegmentOffsets.stride), offsets.count - 1)
        return (first + UInt64(slot) * SegmentOffsets.stride, offsets[slot])
    }

    /// How many entries the index of a segment from `first` through `last` has.
    static func entryCount(first: UInt64, last: UInt64) -> Int {
        last < first ? 0 : Int((last - first) / stride) + 1
    }

    /// The entries as `(sequence, offset)` pairs.
    var entries: [(sequence: UInt64, offset: Int64)] {
        offsets.enumerated().map { (first + UInt64($0.offset) * SegmentOffsets.stride, $0.element) }
    }
}

/// When the broker received the records from `sequence` on (until the next mark): the time of the
/// batch they were written in, in milliseconds since the Unix epoch. Marks never go back in time.
struct TimeMark: Equatable {
    var sequence: UInt64
    var milliseconds: Int64
}

/// A segment the log no longer appends to. Its file is opened, and its index and time marks read,
/// only when a read, a time lookup or retention needs them.
struct ClosedSegment {
    let first: UInt64
    /// Its last record's sequence: the next segment's first less one.
    let last: UInt64
    /// The segment file's length.
    let size: Int64
    var file: OpenFile?
    var offsets: SegmentOffsets?
    /// The receive time of its newest record (its last time mark), once read; nil inside when it
    /// has no mark (a segment from before the log kept times).
    var newestTime: Int64??
    /// When a read last used it (the log's read counter), for closing the files read least lately.
    var lastRead: UInt64 = 0
}

/// The names of a segment's files in the log's folder: its first record's sequence, in 20 digits
/// so that names sort as the sequences do, and the kind of file.
enum SegmentName {
    /// The records.
    static let records = "log"
    /// The sparse index (`SegmentOffsets`), written when the segment is closed.
    static let index = "index"
    /// The receive times (`TimeMark`s), appended with each batch.
    static let times = "times"
    /// The producers' positions before the segment's first record.
    static let producers = "producers"

    static func file(_ first: UInt64, _ kind: String, in folder: FilePath) -> FilePath {
        let digits = String(first)
        return folder.appending(String(repeating: "0", count: max(0, 20 - digits.count)) + digits + "." + kind)
    }

    /// The first sequence a segment file's name gives, or nil for a file of some other name.
    static func first(ofRecordsFile name: String) -> UInt64? {
        let suffix = "." + records
        guard name.hasSuffix(suffix) else { return nil }
        let digits = name.dropLast(suffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let first = UInt64(digits), first > 0 else { return nil }
        return first
    }
}
