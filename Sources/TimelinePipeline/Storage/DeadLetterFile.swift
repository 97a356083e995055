import Foundation
import Logging
import Timeline

/// Rejected messages, one JSON object per line in `dead-letters.jsonl` of the data folder: the
/// reason, where the message came from, and its body (as text when it is UTF-8, else base64).
public final class DeadLetterFile {
    let path: String
    let logger: Logger
    private var handle: FileHandle?
    private var failed = false

    public init(folder: String, logger: Logger) {
        path = (folder as NSString).appendingPathComponent("dead-letters.jsonl")
        self.logger = logger
    }

    public func write(reason: String, sequence: UInt64, producer: String, body: [UInt8]) {
        var line = "{\"reason\":"
        EventJSON.appendString(reason, to: &line)
        line += ",\"sequence\":\(sequence),\"producer\":"
        EventJSON.appendString(producer, to: &line)
        if let text = String(validating: body, as: UTF8.self) {
            line += ",\"body\":"
            EventJSON.appendString(text, to: &line)
        } else {
            line += ",\"bodyBase64\":\"\(Data(body).base64EncodedString())\""
        }
        line += "}\n"
        append(line)
    }

    func append(_ line: String) {
        guard !failed else { return }
        if handle == nil {
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            handle = FileHandle(forWritingAtPath: path)
            handle?.seekToEndOfFile()
        }
        guard let handle else {
            failed = true
            logger.error("Cannot write the dead-letter file; rejected messages are only counted from now on", metadata: ["file.path": "\(path)"])
            return
        }
        handle.write(Data(line.utf8))
    }
}
