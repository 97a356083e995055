import Foundation
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("The producer's rejected lines")
struct RejectedLinesTests {
    @Test("Each error is a JSON line with the file, line, reason and the line's text; unknowns are null; runs append")
    func writesAndAppends() throws {
        let folder = TemporaryFolder()
        let source = folder.file("source.jsonl")
        try "good\n{bad\nworse\n".write(toFile: source, atomically: true, encoding: .utf8)
        let diagnostics = [
            Diagnostic(.error, file: source, line: 2, "not valid JSON"),
            Diagnostic(.warning, file: source, line: 3, "only a warning"),
            Diagnostic(.error, file: source, line: nil, "no line"),
        ]
        let output = folder.file("producer")
        #expect(try RejectedLines.write(diagnostics, folder: output) == 2)
        #expect(try RejectedLines.write([diagnostics[0]], folder: output) == 1)
        let text = try String(contentsOfFile: output + "/" + RejectedLines.fileName, encoding: .utf8)
        let lines = try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(lines.count == 3)
        #expect(lines[0]["file"] as? String == source && (lines[0]["line"] as? NSNumber)?.intValue == 2)
        #expect(lines[0]["reason"] as? String == "not valid JSON" && lines[0]["text"] as? String == "{bad")
        #expect(lines[1]["line"] is NSNull && lines[1]["text"] is NSNull)
        #expect(lines[2]["text"] as? String == "{bad")
    }

    @Test("A folder that cannot be made is an error naming it")
    func unusableFolder() throws {
        let folder = TemporaryFolder()
        _ = FileManager.default.createFile(atPath: folder.file("plain"), contents: Data())
        #expect(throws: StorageError.self) {
            try RejectedLines.write([Diagnostic(.error, file: "x", line: 1, "bad")], folder: folder.file("plain/producer"))
        }
    }
}
