import Foundation
import SystemPackage
import Timeline

/// What `latest.json` in the snapshot folder says: which snapshot is the latest, and what it holds.
public struct SnapshotPointer: Codable, Sendable, Equatable {
    public var file: String
    public var sequence: UInt64
    public var eventCount: Int
    public var createdAt: String
}

/// The snapshot folder's JSON files.
///
/// A snapshot is `snapshot-<sequence, 12 digits>.json`:
/// `{"version":1,"createdAt":…,"sequence":…,"eventCount":…,"statistics":{…the JSON report…},"events":[…]}`
/// with the report as `Report.render(.json)` lays it out (over several lines, its closing brace
/// alone at the start of a line) and one event a line in the array, in the JSON Lines contract's
/// layout, separated by `,\n`, after `[\n` and before `\n]}\n`. `latest.json` (a
/// `SnapshotPointer`) names the latest one. Both are replaced atomically.
enum SnapshotFiles {
    static let pointerName = "latest.json"

    static func name(sequence: UInt64) -> String {
        String(format: "snapshot-%012llu.json", sequence)
    }

    /// `latest.json` is a few hundred bytes; anything much larger is not one.
    static let largestPointer: Int64 = 64 << 10

    /// The pointer in `latest.json`, or nil when there is none. It must be a small regular file
    /// naming a regular file of the folder, with a sequence a consumer can hold (at most 2^63 - 1)
    /// and an event count that file can hold: the folder may be anyone's (`--bootstrap-snapshot`).
    static func readPointer(folder: String) throws -> SnapshotPointer? {
        let path = FilePath(folder).appending(pointerName)
        guard let status = try? path.stat() else { return nil }
        guard status.type == .regular, status.size <= largestPointer else {
            throw PipelineError.state(path: path.string, reason: "is not a pointer file (a regular file of at most 64 KiB)")
        }
        guard let bytes = try AtomicFile.read(path.string) else { return nil }
        guard let pointer = try? JSONCoding.decode(SnapshotPointer.self, from: bytes), !pointer.file.contains("/"),
              !pointer.file.isEmpty, pointer.file != ".", pointer.file != ".." else {
            throw PipelineError.state(path: path.string, reason: "does not name a snapshot file")
        }
        let snapshot = FilePath(folder).appending(pointer.file)
        guard let snapshotStatus = try? snapshot.stat(), snapshotStatus.type == .regular else {
            throw PipelineError.state(path: path.string, reason: "names \(pointer.file), which is not a file of the folder")
        }
        // Each event takes at least 3 bytes of the file ("{}" and its separator).
        guard pointer.sequence <= UInt64(Int64.max), pointer.eventCount >= 0, Int64(pointer.eventCount) <= Int64(snapshotStatus.size) / 3 else {
            throw PipelineError.state(path: path.string, reason: "says sequence \(pointer.sequence) and \(pointer.eventCount) events, "
                + "which \(pointer.file) (\(snapshotStatus.size) bytes) cannot hold")
        }
        return pointer
    }

    static func writePointer(_ pointer: SnapshotPointer, folder: String) throws(StorageError) {
        try AtomicFile.write(JSONCoding.encode(pointer) + [0x0A], to: FilePath(folder).appending(pointerName).string)
    }

    /// Writes a snapshot file atomically, the statistics from `report` and the events from
    /// `events` (whose records must all be written) streamed rather than held in memory.
    static func write(to path: String, sequence: UInt64, createdAt: String, report: Report, events: SnapshotEventFile) throws {
        try AtomicFile.write(to: path) { out in
            try out.append("{\"version\":1,\"createdAt\":\"\(createdAt)\",\"sequence\":\(sequence),\"eventCount\":\(events.count),")
            try out.append("\"statistics\":")
            try report.writeJSON { try out.append($0) }
            try out.append(",\"events\":[\n")
            var first = true
            try events.forEachWritten { json in
                if !first { try out.append(",\n") }
                first = false
                try out.append(json)
            }
            try out.append("\n]}\n")
        }
    }

    /// The line that opens the events array: the report's closing brace, then the key.
    private static let eventsOpening = Array("},\"events\":[".utf8)
    private static let eventsClosing = Array("]}".utf8)
    /// A line longer than this is not one a snapshot holds.
    private static let longestLine = 16 << 20

    /// Calls `body` with each event of a snapshot file, as the JSON of its line (without the comma
    /// that separates it from the next), reading the file a block at a time. Returns how many
    /// there were; throws when the file does not have a snapshot's layout.
    @discardableResult
    static func forEachEvent(inSnapshot path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let file = FilePath(path)
        let fd = try fileCall("open", file) { try FileDescriptor.open(file, .readOnly, options: [.closeOnExec]) }
        defer { try? fd.close() }
        let size = try fileCall("stat", file) { try fd.stat().size }
        var reader = ChunkedFileReader(fd, path: file, from: 0, to: size)
        var inEvents = false
        var count = 0
        while true {
            // The next line, without its newline: search what is in hand, reading more until found.
            var lineLength: Int?
            var searched = 0
            while lineLength == nil {
                lineLength = reader.withAvailable { bytes in bytes[searched...].firstIndex(of: 0x0A) }
                if lineLength != nil { break }
                searched = reader.available
                guard searched < longestLine, try reader.require(searched + 1) else {
                    throw PipelineError.state(path: path, reason: inEvents ? "the events array is not closed" : "holds no events array")
                }
            }
            let length = lineLength!
            let done = try reader.withAvailable { bytes -> Bool in
                var line = UnsafeRawBufferPointer(rebasing: bytes[..<length])
                if !inEvents {
                    inEvents = line.elementsEqual(eventsOpening)
                    return false
                }
                if line.elementsEqual(eventsClosing) { return true }
                if line.isEmpty { return false }
                if line.last == UInt8(ascii: ",") { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
                try body(line)
                count += 1
                return false
            }
            reader.consume(length + 1)
            if done { return count }
        }
    }
}
