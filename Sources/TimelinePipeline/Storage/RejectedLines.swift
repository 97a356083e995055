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
        var out = ""
        for diagnostic in errors {
            if linesByFile[diagnostic.file] == nil {
                let text = (try? String(contentsOfFile: diagnostic.file, encoding: .utf8)) ?? ""
                linesByFile[diagnostic.file] = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            }
            out += "{\"file\":"
            EventJSON.appendString(diagnostic.file, to: &out)
            out += ",\"line\":" + (diagnostic.line.map(String.init) ?? "null") + ",\"reason\":"
            EventJSON.appendString(diagnostic.message, to: &out)
            out += ",\"text\":"
            if let line = diagnostic.line, let lines = linesByFile[diagnostic.file], line >= 1, line <= lines.count {
                EventJSON.appendString(String(lines[line - 1]), to: &out)
            } else {
                out += "null"
            }
            out += "}\n"
        }
        let path = (folder as NSString).appendingPathComponent(fileName)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw StorageError(path: path, operation: "open", code: .permissionDenied) }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(out.utf8))
        return errors.count
    }
}
