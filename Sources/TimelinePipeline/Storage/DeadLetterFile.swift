import Foundation
import Logging
import SystemPackage

/// Rejected messages, one JSON object per line in `dead-letters.jsonl` of the data folder: the
/// reason, where the message came from, and its body (as text when it is UTF-8, else base64).
///
/// Writing never stops the caller (the broker writes here for every malformed message): a line
/// that cannot be written (a full disk, a folder gone) is counted in `lost` and logged, at most
/// once per interval, and the next line is tried afresh.
public final class DeadLetterFile {
    public static let fileName = "dead-letters.jsonl"

    let path: String
    private let file: FilePath
    private let warnings: RateLimitedLog
    private let encoder = JSONEncoder()
    private var fd: FileDescriptor?
    /// Whether the file may end inside a line (a write that failed part way, or an earlier run
    /// that stopped in the middle of one): the next write checks, and ends that line first.
    private var mayEndMidLine = true
    /// Lines written since the file was opened, and lines that could not be.
    public private(set) var written: UInt64 = 0
    public private(set) var lost: UInt64 = 0

    public init(folder: String, logger: Logger) {
        file = FilePath(folder).appending(DeadLetterFile.fileName)
        path = file.string
        warnings = RateLimitedLog(logger: logger)
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    deinit {
        try? fd?.close()
    }

    public func write(reason: String, sequence: UInt64, producer: String, body: [UInt8]) {
        let letter = DeadLetter(reason: reason, sequence: sequence, producer: producer, body: body)
        do {
            var line = Array(try encoder.encode(letter))
            line.append(0x0A)
            try append(line)
            written += 1
        } catch {
            lost += 1
            warnings.warning("dead-letters", "Could not write the dead-letter file; rejected messages are only counted", metadata: [
                "file.path": "\(path)", "deadLetters.lost": "\(lost)", "error": "\(error)",
            ])
        }
    }

    private func append(_ line: [UInt8]) throws(StorageError) {
        let fd = try opened()
        var line = line
        if mayEndMidLine {
            if try !endsWithNewline(fd) { line.insert(0x0A, at: 0) }
            mayEndMidLine = false
        }
        do throws(StorageError) {
            try fileCall("write", file) { try fd.writeAll(line) }
        } catch {
            mayEndMidLine = true
            throw error
        }
    }

    /// The open file (appends only), opened now if it is not yet.
    private func opened() throws(StorageError) -> FileDescriptor {
        if let fd { return fd }
        let opened = try FileDescriptor.openForAppending(file)
        fd = opened
        return opened
    }

    /// Whether the file is empty or ends a line.
    private func endsWithNewline(_ fd: FileDescriptor) throws(StorageError) -> Bool {
        try fileCall("read", file) {
            let size = try fd.stat().size
            guard size > 0 else { return true }
            var last: UInt8 = 0
            _ = try withUnsafeMutableBytes(of: &last) { try fd.read(fromAbsoluteOffset: size - 1, into: $0) }
            return last == 0x0A
        }
    }
}

/// One line of the dead-letter file.
struct DeadLetter: Codable, Equatable {
    var reason: String
    var sequence: UInt64
    var producer: String
    /// The body when it is UTF-8 text; otherwise `bodyBase64` holds it.
    var body: String?
    var bodyBase64: String?

    init(reason: String, sequence: UInt64, producer: String, body: [UInt8]) {
        self.reason = reason
        self.sequence = sequence
        self.producer = producer
        if let text = String(validating: body, as: UTF8.self) {
            self.body = text
        } else {
            bodyBase64 = Data(body).base64EncodedString()
        }
    }
}
