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

    /// The column roles a visit table can have.
    enum Column: Hashable {
        case guest, host, place, date, description

        /// Which role a header names, from the words Wikipedia tables use.
        init?(header: String) {
            let text = header.lowercased()
            if text.contains("guest") || text.contains("visitor") || text == "visiting" || text.contains("delegation") {
                self = .guest
            } else if text.contains("host") {
                self = .host
            } else if text.contains("description") || text.contains("note") || text.contains("purpose")
                        || text.contains("remark") || text.contains("detail") || text.contains("comment") {
                self = .description
            } else if text.contains("date") || text == "when" || text == "year" || text == "dates" {
                self = .date
            } else if text.contains("place") || text.contains("location") || text.contains("city")
                        || text.contains("venue") || text == "where" {
                self = .place
            } else {
                return nil
            }
        }
    }

    public func read(_ text: String, document: String) -> SourceReading {
        var reading = SourceReading(document: document)
        var pair: (CountryCode, CountryCode)?
        var headings: [(level: Int, title: String)] = []
        var firstLineOfID: [String: Int] = [:]

        let lines = Lines.split(text).map(String.init)
        var index = 0

        func diagnose(_ severity: Diagnostic.Severity, _ line: Int, _ message: String) {
            reading.diagnostics.append(Diagnostic(severity, file: document, line: line, message))
        }
        func sectionPath() -> String? {
            let titles = headings.filter { $0.level > 1 }.map(\.title)
            return titles.isEmpty ? nil : titles.joined(separator: " / ")
        }
        func keep(_ event: TimelineEvent, line: Int) {
            if let first = firstLineOfID[event.id] {
                diagnose(.note, line, "repeats the event of line \(first); counted once")
                return
            }
            firstLineOfID[event.id] = line
            reading.events.append(event)
        }

        while index < lines.count {
            let lineNumber = index + 1
            let line = lines[index].trimmed("")

            if let heading = ArticleReader.heading(line) {
                headings.removeAll { $0.level >= heading.level }
                headings.append(heading)
                if heading.level == 1 {
                    if let found = countryPair(fromTitle: heading.title) {
                        pair = found
                    } else {
                        diagnose(.error, lineNumber, "the title '\(heading.title)' does not name two countries the gazetteer knows")
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
                    diagnose(.error, lineNumber, "a table before the title names the two countries; its \(block.count - 1) rows are not read")
                    continue
                }
                readTable(block, pair: pair, section: sectionPath(), document: document, diagnose: diagnose, keep: keep)
                continue
            }

            if line.hasPrefix("- ") || line.hasPrefix("* "), let heading = headings.last,
               let envoy = ambassadorHeading(heading.title) {
                let item = String(line.dropFirst(2)).trimmed("")
                if let event = ambassadorTerm(item, sender: envoy.sender, receiver: envoy.receiver,
                                              source: Provenance(document: document, section: sectionPath(), line: lineNumber),
                                              line: lineNumber, diagnose: diagnose) {
                    keep(event, line: lineNumber)
                }
            }
            index += 1
        }
        if pair == nil, !reading.diagnostics.contains(where: { $0.severity == .error }) {
            diagnose(.error, 1, "no '= A–B relations =' title line names the two countries")
        }
        return reading
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
    /// hyphenated names such as Guinea-Bissau still work.
    public func countryPair(fromTitle title: String) -> (CountryCode, CountryCode)? {
        var name = title
        for suffix in [" relations", " Relations", " bilateral relations"] where name.hasSuffix(suffix) {
            name = String(name.dropLast(suffix.count))
        }
        let characters = Array(name)
        for (offset, character) in characters.enumerated() where character == "\u{2013}" || character == "-" || character == "\u{2014}" {
            let left = String(characters[..<offset]).trimmed("")
            let right = String(characters[(offset + 1)...]).trimmed("")
            if let a = gazetteer.country(named: left), let b = gazetteer.country(named: right), a != b {
                return (a, b)
            }
        }
        if let range = name.firstRange(of: " and ") {
            if let a = gazetteer.country(named: String(name[..<range.lowerBound])),
               let b = gazetteer.country(named: String(name[range.upperBound...])), a != b {
                return (a, b)
            }
        }
        return nil
    }

    private func readTable(_ block: [(Int, String)], pair: (CountryCode, CountryCode), section: String?, document: String,
                           diagnose: (Diagnostic.Severity, Int, String) -> Void, keep: (TimelineEvent, Int) -> Void) {
        let (headerLine, headerText) = block[0]
        let headers = ArticleReader.cells(headerText)
        var columns: [Column: Int] = [:]
        for (position, header) in headers.enumerated() {
            guard let column = Column(header: header) else { continue }
            if columns[column] == nil { columns[column] = position }
        }
        let missing = [Column.guest, .place, .date].filter { columns[$0] == nil }
        if !missing.isEmpty {
            let names = missing.map { "\($0)" }.joined(separator: ", ")
            diagnose(.warning, headerLine, "a table without \(names) column(s) is not a visit table; its \(block.count - 1) rows are not read (headers: \(headers.joined(separator: " | ")))")
            return
        }
        for (rowIndex, (lineNumber, text)) in block.dropFirst().enumerated() {
            var cells = ArticleReader.cells(text)
            if cells.count > headers.count {
                diagnose(.error, lineNumber, "the row has \(cells.count) cells but the header has \(headers.count)")
                continue
            }
            while cells.count < headers.count { cells.append("") }
            func cell(_ column: Column) -> String? {
                guard let position = columns[column] else { return nil }
                let value = ArticleReader.stripMarkup(cells[position])
                return value.isEmpty ? nil : value
            }
            guard let guest = cell(.guest) else {
                diagnose(.error, lineNumber, "the row names no guest")
                continue
            }
            guard let dateText = cell(.date) else {
                diagnose(.error, lineNumber, "the row has no date")
                continue
            }
            guard let placeText = cell(.place) else {
                diagnose(.error, lineNumber, "the row has no place of visit")
                continue
            }
            let date: EDTFDate
            do {
                date = try DateText.parse(dateText)
            } catch {
                diagnose(.error, lineNumber, "\(error)")
                continue
            }
            guard let placeCountry = gazetteer.country(ofPlace: placeText) else {
                diagnose(.error, lineNumber, "the place '\(placeText)' is not in the gazetteer")
                continue
            }
            let to: CountryCode, from: CountryCode
            if placeCountry == pair.0 {
                (from, to) = (pair.1, pair.0)
            } else if placeCountry == pair.1 {
                (from, to) = (pair.0, pair.1)
            } else {
                diagnose(.error, lineNumber, "the place '\(placeText)' is in \(placeCountry), neither \(pair.0) nor \(pair.1)")
                continue
            }
            let event = TimelineEvent(kind: .visit, date: date, from: from, to: to, guest: guest, host: cell(.host),
                                      place: placeText, description: cell(.description),
                                      source: Provenance(document: document, section: section, line: lineNumber, row: rowIndex + 1))
            keep(event, lineNumber)
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

    /// "North Korean ambassadors to Mongolia" or "Ambassadors of Mongolia to North Korea" -> (sender, receiver).
    func ambassadorHeading(_ title: String) -> (sender: CountryCode, receiver: CountryCode)? {
        // Ranges are searched in the title itself (case-insensitively), never in a lower-cased copy
        // whose indices would not fit the original.
        if let range = title.range(of: " ambassadors to ", options: .caseInsensitive)
            ?? title.range(of: " ambassador to ", options: .caseInsensitive) {
            let senderText = String(title[title.startIndex..<range.lowerBound])
            let receiverText = String(title[range.upperBound...])
            guard let sender = gazetteer.country(adjective: senderText),
                  let receiver = gazetteer.country(named: receiverText) else { return nil }
            return (sender, receiver)
        }
        if let prefix = title.range(of: "ambassadors of ", options: [.caseInsensitive, .anchored]),
           let to = title.range(of: " to ", options: .caseInsensitive, range: prefix.upperBound..<title.endIndex) {
            let senderText = String(title[prefix.upperBound..<to.lowerBound])
            let receiverText = String(title[to.upperBound...])
            guard let sender = gazetteer.country(named: senderText),
                  let receiver = gazetteer.country(named: receiverText) else { return nil }
            return (sender, receiver)
        }
        return nil
    }

    /// "Hong Gyu (2013–2017)" -> an ambassador's term from 2013 to 2017.
    private func ambassadorTerm(_ item: String, sender: CountryCode, receiver: CountryCode, source: Provenance, line: Int,
                                diagnose: (Diagnostic.Severity, Int, String) -> Void) -> TimelineEvent? {
        let clean = ArticleReader.stripMarkup(item)
        guard clean.hasSuffix(")"), let open = clean.lastIndex(of: "(") else {
            diagnose(.error, line, "the ambassador entry '\(clean)' gives no term in parentheses")
            return nil
        }
        let name = String(clean[..<open]).trimmed("")
        let termText = String(clean[clean.index(after: open)..<clean.index(before: clean.endIndex)])
        guard !name.isEmpty else {
            diagnose(.error, line, "the ambassador entry '\(clean)' names nobody")
            return nil
        }
        let term: EDTFDate
        do {
            term = try DateText.parse(termText)
        } catch {
            diagnose(.error, line, "\(error)")
            return nil
        }
        return TimelineEvent(kind: .ambassadorTerm, date: term, from: sender, to: receiver, guest: name,
                             description: "Ambassador of \(gazetteer.name(of: sender)) to \(gazetteer.name(of: receiver))",
                             source: source)
    }
}
