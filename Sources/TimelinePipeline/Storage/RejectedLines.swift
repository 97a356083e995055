import Foundation
import SystemPackage
import Timeline

/// The dead-letter file of a producer: one JSON object per rejected row or line of a source, with
/// the file, the line, the reason and the line's text, so nothing rejected is lost from sight.
public enum RejectedLines {
    public static let fileName = "rejected.jsonl"

    /// Appends the error diagnostics to `folder/rejected.jsonl`; returns how many were written.
    @discardableResult
    public static func write(_ diagnostics: [Diagnostic], folder: String) throws -> Int {
        let errors = diagnostics.filter { $0.severity == .error }
        guard !errors.isEmpty else { return 0 }
        try AtomicFile.prepareFolder(folder)
        var linesByFile: [String: [Substring]] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out: [UInt8] = []
        for diagnostic in errors {
            if linesByFile[diagnostic.file] == nil {
                let text = (try? String(contentsOfFile: diagnostic.file, encoding: .utf8)) ?? ""
                linesByFile[diagnostic.file] = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            }
            var text: String?
            if let line = diagnostic.line, let lines = linesByFile[diagnostic.file], line >= 1, line <= lines.count {
                text = String(lines[line - 1])
            }
            out += try encoder.encode(RejectedLine(file: diagnostic.file, line: diagnostic.line, reason: diagnostic.message, text: text))
            out.append(0x0A)
        }
        let file = FilePath(folder).appending(fileName)
        let fd = try FileDescriptor.openForAppending(file)
        defer { try? fd.close() }
        try fileCall("write", file) { try fd.writeAll(out) }
        return errors.count
    }
}

/// One line of the rejected-lines file; a line number or text that is not known is written as null.
struct RejectedLine: Codable, Equatable {
    var file: String
    var line: Int?
    var reason: String
    var text: String?

    private enum CodingKeys: String, CodingKey {
        case file, line, reason, text
    }

    func encode(to encoder: any Encoder) throws {
        var fields = encoder.container(keyedBy: CodingKeys.self)
        try fields.encode(file, forKey: .file)
        try fields.encode(line, forKey: .line)
        try fields.encode(reason, forKey: .reason)
        try fields.encode(text, forKey: .text)
    }
}
