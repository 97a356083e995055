import Foundation
import SystemPackage
import Timeline

/// The small files beside each segment of the log, and the log's clean-shutdown record. Each is
/// checked when read and dropped (to be rebuilt from the records) when it does not hold together:
/// the records are the truth, these only save reading them.
enum LogSegmentFiles {
    // MARK: The sparse index

    /// `(u64 sequence, u64 offset)` pairs, big-endian, one every `SegmentOffsets.stride` records.
    static func encode(_ offsets: SegmentOffsets) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(offsets.offsets.count * 16)
        for entry in offsets.entries {
            bytes.appendInteger(entry.sequence)
            bytes.appendInteger(UInt64(entry.offset))
        }
        return bytes
    }

    /// The index of a segment starting at `first` of `size` bytes, or nil when the bytes are not
    /// one: entries out of step, offsets that do not increase or lie past the segment's end.
    static func decodeOffsets(_ bytes: [UInt8], first: UInt64, size: Int64) -> SegmentOffsets? {
        guard bytes.count % 16 == 0 else { return nil }
        var offsets: [Int64] = []
        offsets.reserveCapacity(bytes.count / 16)
        let valid = bytes.withUnsafeBytes { raw -> Bool in
            for slot in 0..<(raw.count / 16) {
                let sequence = ByteReader.integer(raw, at: slot * 16, as: UInt64.self)
                let offset = ByteReader.integer(raw, at: slot * 16 + 8, as: UInt64.self)
                guard sequence == first + UInt64(slot) * SegmentOffsets.stride, offset < UInt64(max(size, 0)),
                      Int64(offset) > offsets.last ?? -1 else { return false }
                offsets.append(Int64(offset))
            }
            return true
        }
        guard valid, offsets.first == 0 || (offsets.isEmpty && size == 0) else { return nil }
        return SegmentOffsets(first: first, offsets: offsets)
    }

    // MARK: Receive times

    /// One mark: `(u64 sequence, i64 milliseconds)`, big-endian.
    static func encode(_ mark: TimeMark) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendInteger(mark.sequence)
        bytes.appendInteger(UInt64(bitPattern: mark.milliseconds))
        return bytes
    }

    /// The marks of a times file, up to the first that is torn (an incomplete mark after a crash)
    /// or out of order, and past none of the segment's records; and how many bytes of the file
    /// hold them.
    static func decodeTimes(_ bytes: [UInt8], first: UInt64, last: UInt64) -> (marks: [TimeMark], validBytes: Int) {
        var marks: [TimeMark] = []
        bytes.withUnsafeBytes { raw in
            for slot in 0..<(raw.count / 16) {
                let mark = TimeMark(sequence: ByteReader.integer(raw, at: slot * 16, as: UInt64.self),
                                    milliseconds: Int64(bitPattern: ByteReader.integer(raw, at: slot * 16 + 8, as: UInt64.self)))
                // Before 1970 or after 9999 is no receive time of this broker's: a damaged file.
                guard mark.sequence >= first, mark.sequence <= last, mark.milliseconds >= 0, mark.milliseconds <= 253_402_300_799_999 else { break }
                if let previous = marks.last, mark.sequence <= previous.sequence || mark.milliseconds < previous.milliseconds { break }
                marks.append(mark)
            }
        }
        return (marks, marks.count * 16)
    }

    // MARK: Producers' positions

    /// The producers' positions as of the end of a segment: the next segment's starting point when
    /// the log is opened after a crash, so that only the last segment's records are read.
    struct ProducerPositions: Codable, Equatable {
        /// The last sequence these positions count.
        var through: UInt64
        var positions: [String: UInt64]
    }

    static func readPositions(_ path: FilePath) throws(StorageError) -> ProducerPositions? {
        guard let bytes = try AtomicFile.read(path.string) else { return nil }
        return try? JSONCoding.decode(ProducerPositions.self, from: bytes)
    }

    // MARK: A clean shutdown

    /// What a log closed cleanly knew of its last segment, so that opening it again reads no
    /// record but the last: written at a clean close, removed when the log is opened.
    struct CleanShutdown: Codable, Equatable {
        static let fileName = "clean-shutdown.json"
        /// The first sequence of the last segment, and that segment's length.
        var segment: UInt64
        var size: Int64
        var lastSequence: UInt64
        /// Where the last record starts in the segment.
        var lastOffset: Int64
        var positions: [String: UInt64]
    }

    // MARK: Listing

    /// The first sequences of the segments in `folder`, in order.
    static func segments(in folder: FilePath) throws(StorageError) -> [UInt64] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.string)
        } catch {
            throw StorageError(path: folder.string, operation: "list", code: .ioError)
        }
        return names.compactMap(SegmentName.first(ofRecordsFile:)).sorted()
    }

    /// Removes what a roll, a retention pass or an atomic write cut short left behind: a segment's
    /// side files (index, times, positions) without its records file, and temporary files.
    static func removeLeftovers(in folder: FilePath, segments: [UInt64]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.string) else { return }
        let kept = Set(segments)
        for name in names {
            let parts = name.split(separator: ".", maxSplits: 1)
            let orphan = parts.count == 2 && parts[0].count == 20 && [SegmentName.index, SegmentName.times, SegmentName.producers].contains(String(parts[1]))
                && UInt64(parts[0]).map { !kept.contains($0) } == true
            if orphan || name.contains(".tmp-") { folder.appending(name).removeFile() }
        }
    }

    /// Removes every file of the segment starting at `first`.
    static func remove(_ first: UInt64, in folder: FilePath) {
        for kind in [SegmentName.records, SegmentName.index, SegmentName.times, SegmentName.producers] {
            SegmentName.file(first, kind, in: folder).removeFile()
        }
    }
}
