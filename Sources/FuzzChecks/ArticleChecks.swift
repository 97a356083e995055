import Timeline

/// The readers of text sources: `ArticleReader.read`, `WikitextReader.read` and `GDELTReader.read`
/// over the whole input (as UTF-8, invalid bytes replaced) and `DateText.parse` over each short line,
/// checking what they produce, not only that they return.
public struct ArticleChecks: FuzzCheck {
    public let reader: ArticleReader
    public let wikitext: WikitextReader
    public let gdelt: GDELTReader

    /// Lines longer than this are not tried as dates: dates in tables are short, and long lines only
    /// slow the fuzzer down.
    public static let longestDateLine = 80

    public init(reader: ArticleReader) {
        self.reader = reader
        self.wikitext = WikitextReader(gazetteer: reader.gazetteer)
        self.gdelt = GDELTReader(gazetteer: reader.gazetteer)
    }

    public func violations(in input: [UInt8]) -> [String] {
        let text = String(decoding: input, as: UTF8.self)
        let lineCount = Invariants.lineCount(input)
        var broken = Self.sourceViolations(input, lineCount: lineCount, document: "article") { reader.read($0, document: "fuzz.txt") }
        broken += Self.sourceViolations(input, lineCount: lineCount, document: "wikitext page") { wikitext.read($0, document: "fuzz.wiki") }
        broken += Self.sourceViolations(input, lineCount: lineCount, document: "GDELT export") { gdelt.read($0, document: "fuzz.tsv") }
        for line in text.split(separator: "\n", maxSplits: 64) where line.utf8.count <= Self.longestDateLine {
            if let date = try? DateText.parse(String(line)) {
                broken += Invariants.dateViolations(date, from: "the date text '\(line)'")
            }
        }
        return broken
    }

    /// What one reader made of the input: diagnostics and events on its lines, distinct ids, events
    /// that survive the JSON Lines contract (names and descriptions within their bounds, dates that
    /// are EDTF), and the same reading with CRLF line ends as with LF.
    static func sourceViolations(_ input: [UInt8], lineCount: Int, document: String,
                                 read: (String) -> SourceReading) -> [String] {
        let reading = read(String(decoding: input, as: UTF8.self))
        var broken = Invariants.readingViolations(reading, lineCount: lineCount, document: document)
        for event in reading.events {
            broken += Invariants.eventViolations(event, from: "an event of the \(document)")
            if let line = event.source.line, !(1...lineCount).contains(line) {
                broken.append("an event comes from line \(line) of a \(lineCount)-line \(document)")
            }
        }
        broken += Invariants.lineEndViolations(input, reading, document: document, read: read)
        return broken
    }
}
