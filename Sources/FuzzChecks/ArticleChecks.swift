import Timeline

/// The readers of text sources: `ArticleReader.read` and `GDELTReader.read` over the whole input
/// (as UTF-8, invalid bytes replaced) and `DateText.parse` over each short line, checking what they
/// produce, not only that they return.
public struct ArticleChecks: FuzzCheck {
    public let reader: ArticleReader
    public let gdelt: GDELTReader

    /// Lines longer than this are not tried as dates: dates in tables are short, and long lines only
    /// slow the fuzzer down.
    public static let longestDateLine = 80

    public init(reader: ArticleReader) {
        self.reader = reader
        self.gdelt = GDELTReader(gazetteer: reader.gazetteer)
    }

    public func violations(in input: [UInt8]) -> [String] {
        let text = String(decoding: input, as: UTF8.self)
        let lineCount = Invariants.lineCount(input)
        let reading = reader.read(text, document: "fuzz.txt")
        var broken = Invariants.readingViolations(reading, lineCount: lineCount, document: "article")
        for event in reading.events {
            broken += Invariants.dateViolations(event.date, from: "an event's date")
            if let line = event.source.line, !(1...lineCount).contains(line) {
                broken.append("an event comes from line \(line) of a \(lineCount)-line article")
            }
        }
        broken += Invariants.lineEndViolations(input, reading, document: "article") {
            reader.read($0, document: "fuzz.txt")
        }
        let export = gdelt.read(text, document: "fuzz.tsv")
        broken += Invariants.readingViolations(export, lineCount: lineCount, document: "GDELT export")
        for event in export.events {
            // Through the JSON Lines contract and back: a description within its bounds, a valid code.
            broken += Invariants.eventViolations(event, from: "a GDELT event")
            if let line = event.source.line, !(1...lineCount).contains(line) {
                broken.append("a GDELT event comes from line \(line) of a \(lineCount)-line export")
            }
        }
        broken += Invariants.lineEndViolations(input, export, document: "GDELT export") {
            gdelt.read($0, document: "fuzz.tsv")
        }
        for line in text.split(separator: "\n", maxSplits: 64) where line.utf8.count <= Self.longestDateLine {
            if let date = try? DateText.parse(String(line)) {
                broken += Invariants.dateViolations(date, from: "the date text '\(line)'")
            }
        }
        return broken
    }
}
