import Foundation

/// Reads a wiki-style article about the relations between two countries: a `= A–B relations =`
/// title, `== Section ==` headings, pipe tables of visits whose first row names the columns, and
/// bullet lists of ambassadors under headings such as `=== North Korean ambassadors to Mongolia ===`.
///
/// Tables are matched by header name, so columns may come in any order and extra columns are
/// allowed. Every row becomes an event or a diagnostic with its line and the reason; identical rows
/// are one event. Prose is not mined: facts told only in prose belong in a curated events file.
public struct ArticleReader: Sendable {
    public let gazetteer: Gazetteer

    public init(gazetteer: Gazetteer) {
        self.gazetteer = gazetteer
    }

    var tables: RelationsTables { RelationsTables(gazetteer: gazetteer) }

    public func read(_ text: String, document: String) -> SourceReading {
        var collector = ReadingCollector(document: document)
        var pair: (CountryCode, CountryCode)?
        var headings = SectionPath()

        let lines = Lines.split(text).map(String.init)
        var index = 0

        while index < lines.count {
            let lineNumber = index + 1
            let line = lines[index].trimmed("")

            if let heading = ArticleReader.heading(line) {
                headings.enter(level: heading.level, title: heading.title)
                if heading.level == 1 {
                    if let found = countryPair(fromTitle: heading.title) {
                        pair = found
                    } else {
                        collector.diagnose(.error, lineNumber, "the title '\(heading.title)' does not name two countries the gazetteer knows")
                    }
                }
                index += 1
                continue
            }

            if line.hasPrefix("|") {
                var block: [(Int, String)] = []
                while index < lines.count, lines[index].trimmed("").hasPrefix("|") {
                    block.append((index + 1, lines[index].trimmed("")))
                    index += 1
                }
                guard let pair else {
                    collector.diagnose(.error, lineNumber, "a table before the title names the two countries; its \(block.count - 1) rows are not read")
                    continue
                }
                readTable(block, pair: pair, section: headings.path, document: document, into: &collector)
                continue
            }

            if line.hasPrefix("- ") || line.hasPrefix("* "), let heading = headings.headings.last,
               let envoy = tables.ambassadorHeading(heading.title) {
                let item = ArticleReader.stripMarkup(String(line.dropFirst(2)).trimmed(""))
                collector.keep(tables.ambassadorEntry(item, sender: envoy.sender, receiver: envoy.receiver,
                                                      source: Provenance(document: document, section: headings.path, line: lineNumber)),
                               line: lineNumber)
            }
            index += 1
        }
        if pair == nil, !collector.hasErrors {
            collector.diagnose(.error, 1, "no '= A–B relations =' title line names the two countries")
        }
        return collector.reading
    }

    // MARK: - Parts

    static func heading(_ line: String) -> (level: Int, title: String)? {
        guard line.hasPrefix("="), line.hasSuffix("="), line.count >= 3 else { return nil }
        let level = line.prefix(while: { $0 == "=" }).count
        let title = line.trimmed("=")
        guard !title.isEmpty else { return nil }
        return (level, title)
    }

    /// "Mongolia–North Korea relations" -> (MN, KP). Tries every dash as the split point, so
    /// hyphenated names such as Guinea-Bissau still work. Demonyms name countries too
    /// ("Mongolian–North Korean relations").
    public func countryPair(fromTitle title: String) -> (CountryCode, CountryCode)? {
        var name = title
        for suffix in [" relations", " Relations", " bilateral relations"] where name.hasSuffix(suffix) {
            name = String(name.dropLast(suffix.count))
        }
        let characters = Array(name)
        for (offset, character) in characters.enumerated() where character == "\u{2013}" || character == "-" || character == "\u{2014}" {
            let left = String(characters[..<offset]).trimmed("")
            let right = String(characters[(offset + 1)...]).trimmed("")
            if let a = gazetteer.country(adjective: left), let b = gazetteer.country(adjective: right), a != b {
                return (a, b)
            }
        }
        if let range = name.firstRange(of: " and ") {
            if let a = gazetteer.country(adjective: String(name[..<range.lowerBound])),
               let b = gazetteer.country(adjective: String(name[range.upperBound...])), a != b {
                return (a, b)
            }
        }
        return nil
    }

    private func readTable(_ block: [(Int, String)], pair: (CountryCode, CountryCode), section: String?, document: String,
                           into collector: inout ReadingCollector) {
        let (headerLine, headerText) = block[0]
        let headers = ArticleReader.cells(headerText)
        let columns = RelationsTables.columns(headers)
        if let names = RelationsTables.missingVisitColumns(columns) {
            collector.diagnose(.warning, headerLine, "a table without \(names) column(s) is not a visit table; its \(block.count - 1) rows are not read (headers: \(headers.joined(separator: " | ")))")
            return
        }
        for (rowIndex, (lineNumber, text)) in block.dropFirst().enumerated() {
            var cells = ArticleReader.cells(text)
            if cells.count > headers.count {
                collector.diagnose(.error, lineNumber, "the row has \(cells.count) cells but the header has \(headers.count)")
                continue
            }
            while cells.count < headers.count { cells.append("") }
            func cell(_ column: RelationsTables.Column) -> String? {
                guard let position = columns[column] else { return nil }
                let value = ArticleReader.stripMarkup(cells[position])
                return value.isEmpty ? nil : value
            }
            collector.keep(tables.visit(guest: cell(.guest), host: cell(.host), place: cell(.place),
                                        dateTexts: RelationsTables.dateTexts(date: cell(.date).map { [$0] } ?? [], start: cell(.start).map { [$0] } ?? [],
                                                                             end: cell(.end).map { [$0] } ?? []),
                                        description: cell(.description), pair: pair,
                                        source: Provenance(document: document, section: section, line: lineNumber, row: rowIndex + 1)),
                           line: lineNumber)
        }
    }

    /// `| a | b | c |` -> ["a", "b", "c"]; empty cells are kept.
    static func cells(_ row: String) -> [String] {
        var body = Substring(row)
        if body.hasPrefix("|") { body = body.dropFirst() }
        if body.hasSuffix("|") { body = body.dropLast() }
        return body.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmed("") }
    }

    /// Removes footnote marks and wiki link brackets: `[[Pyongyang]]` -> `Pyongyang`, `1956[3]` -> `1956`,
    /// `[[Ulan Bator|Ulaanbaatar]]` -> `Ulaanbaatar`.
    static func stripMarkup(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "[") {
            out += rest[..<open]
            let afterOpen = rest[rest.index(after: open)...]
            if afterOpen.hasPrefix("["), let close = afterOpen.firstRange(of: "]]") {
                let inner = afterOpen.dropFirst()[..<close.lowerBound]
                out += inner.split(separator: "|").last.map(String.init) ?? ""
                rest = afterOpen[close.upperBound...]
            } else if let close = afterOpen.firstIndex(of: "]") {
                rest = afterOpen[afterOpen.index(after: close)...]
            } else {
                out += rest
                rest = ""
            }
        }
        out += rest
        return out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
