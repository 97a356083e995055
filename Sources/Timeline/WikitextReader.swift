import Foundation

/// One line of wikitext as the reader sees it: comments and footnotes removed, and a template or
/// comment that spans lines joined into the line where it opens. `number` is that line's number.
struct WikitextLine {
    var number: Int
    var text: String
}

/// Reads a MediaWiki page about the relations between two countries, as raw wikitext (what the
/// MediaWiki API returns): the two countries from the lead (`'''Mongolia–North Korea relations'''`),
/// `== Section ==` headings as the section path, `{| class="wikitable" … |}` tables of visits and
/// of ambassadors, and bulleted lists of ambassadors under headings such as
/// `=== North Korean ambassadors to Mongolia ===`.
///
/// Tables are matched by header name as in `ArticleReader` (guest, host, place, date, description;
/// any order, extra columns allowed), with rowspan and colspan resolved: a date spanning two rows
/// belongs to both. Cells are read as the page shows them (see `WikitextMarkup`). Every data row
/// becomes an event or a diagnostic naming its line; identical rows are one event. Prose is not mined.
public struct WikitextReader: Sendable {
    public let gazetteer: Gazetteer

    public init(gazetteer: Gazetteer) {
        self.gazetteer = gazetteer
    }

    var tables: RelationsTables { RelationsTables(gazetteer: gazetteer) }
    var markup: WikitextMarkup { WikitextMarkup(gazetteer: gazetteer) }

    /// How many lines a template may span to be joined into one line; an opening `{{` without its
    /// `}}` within them is text.
    static let longestTemplate = 400

    /// Reads a page. `title` is the page's title where it is known apart from its text (from a
    /// MediaWiki API response); a title naming two countries settles the pair before the lead does.
    public func read(_ text: String, document: String, title: String? = nil) -> SourceReading {
        var collector = ReadingCollector(document: document)
        let lines = WikitextReader.logicalLines(text)
        let pair = title.flatMap { ArticleReader(gazetteer: gazetteer).countryPair(fromTitle: $0) } ?? countryPair(lines)
        if pair == nil {
            collector.diagnose(.error, 1, "the lead names no two countries the gazetteer knows (as in '''Mongolia–North Korea relations''')")
        }
        var headings = SectionPath()
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.text.trimmed("")
            if let heading = ArticleReader.heading(trimmed) {
                let title = markup.render(heading.title).joined
                headings.enter(level: heading.level, title: title.isEmpty ? heading.title : title)
                index += 1
                continue
            }
            if trimmed.hasPrefix("{|") {
                let (table, next) = WikitextTable.read(lines, from: index)
                index = next
                if !table.closed {
                    collector.diagnose(.warning, table.line, "the table is not closed with '|}' before the page ends")
                }
                for nested in table.nestedTables {
                    collector.diagnose(.warning, nested, "a table inside a table cell is not read")
                }
                guard let pair else {
                    if table.rows.count > 1 {
                        collector.diagnose(.error, table.line, "a table on a page whose lead names no two countries; its rows are not read")
                    }
                    continue
                }
                readTable(table, pair: pair, headings: headings, document: document, into: &collector)
                continue
            }
            if let first = trimmed.first, first == "*" || first == "#", let envoy = ambassadorContext(headings, caption: nil, pair: pair) {
                let item = markup.render(String(trimmed.drop(while: { $0 == "*" || $0 == "#" || $0 == ":" }))).joined
                if !item.isEmpty {
                    collector.keep(ambassadorItem(item, envoy: envoy,
                                                  source: Provenance(document: document, section: headings.path, line: line.number)),
                                   line: line.number)
                }
            }
            index += 1
        }
        return collector.reading
    }

    // MARK: - Lines

    /// The page's lines with comments (`<!-- -->`) and footnotes (`<ref>…</ref>`, `<ref name=x/>`)
    /// removed, and each template or comment that spans lines joined into the line where it opens.
    /// An unclosed comment hides the rest of the page, as in MediaWiki; an unclosed `<ref>` is
    /// removed alone.
    static func logicalLines(_ text: String) -> [WikitextLine] {
        let physical = Lines.split(text)
        // Comments and footnotes first, over the whole page.
        var lines: [WikitextLine] = []
        var current: WikitextLine?
        var inComment = false
        var inRef = false
        let lastRefClose = text.range(of: "</ref", options: [.caseInsensitive, .backwards])?.lowerBound
        for (offset, raw) in physical.enumerated() {
            var out = current?.text ?? ""
            let number = current?.number ?? offset + 1
            var rest = raw[...]
            while !rest.isEmpty {
                if inComment {
                    guard let end = rest.range(of: "-->") else { rest = ""; break }
                    rest = rest[end.upperBound...]
                    inComment = false
                    continue
                }
                if inRef {
                    guard let end = rest.range(of: "</ref", options: .caseInsensitive) else { rest = ""; break }
                    rest = rest[end.upperBound...]
                    rest = rest[(rest.firstIndex(of: ">").map { rest.index(after: $0) } ?? rest.endIndex)...]
                    inRef = false
                    continue
                }
                guard let open = rest.firstIndex(of: "<") else { out += rest; break }
                out += rest[..<open]
                rest = rest[open...]
                if rest.hasPrefix("<!--") {
                    rest = rest.dropFirst(4)
                    inComment = true
                    continue
                }
                if rest.count >= 4, rest.prefix(4).lowercased() == "<ref",
                   let after = rest.dropFirst(4).first, after == ">" || after == " " || after == "/" || after == "\t" {
                    guard let close = rest.firstIndex(of: ">") else { out += rest; rest = ""; break }
                    let selfClosing = rest[rest.index(before: close)] == "/"
                    let afterTag = rest[rest.index(after: close)...]
                    let hasClose = lastRefClose.map { $0 >= afterTag.startIndex } ?? false
                    rest = afterTag
                    if !selfClosing, hasClose { inRef = true }
                    continue
                }
                out.append("<")
                rest = rest.dropFirst()
            }
            if inComment || inRef {
                current = WikitextLine(number: number, text: out)
            } else {
                current = nil
                lines.append(WikitextLine(number: number, text: out))
            }
        }
        if let current { lines.append(current) }
        return joinTemplates(lines)
    }

    /// Joins the lines of a template that spans several (an infobox, a list in a cell) into one.
    static func joinTemplates(_ lines: [WikitextLine]) -> [WikitextLine] {
        var joined: [WikitextLine] = []
        var index = 0
        while index < lines.count {
            var balance = braceBalance(lines[index].text)
            guard balance > 0 else {
                joined.append(lines[index])
                index += 1
                continue
            }
            var end = index + 1
            while end < lines.count, end - index <= longestTemplate, balance > 0 {
                balance += braceBalance(lines[end].text)
                end += 1
            }
            if balance > 0 {
                // Never closed: the `{{` is text, and the lines stay as they are.
                joined.append(lines[index])
                index += 1
                continue
            }
            let text = lines[index..<end].map(\.text).joined(separator: "\n")
            joined.append(WikitextLine(number: lines[index].number, text: text))
            index = end
        }
        return joined
    }

    /// `{{` opened minus `}}` closed on a line.
    static func braceBalance(_ text: String) -> Int {
        var balance = 0
        var previous: Character?
        for character in text {
            if character == "{", previous == "{" { balance += 1; previous = nil; continue }
            if character == "}", previous == "}" { balance -= 1; previous = nil; continue }
            previous = character
        }
        return balance
    }

    // MARK: - The pair

    /// The two countries the page is about, from the lead: a bold phrase `'''A–B relations'''`, a
    /// `{{DISPLAYTITLE:…}}`, an infobox of bilateral relations, or a plain `A–B relations` or
    /// `relations between A and B` in the lead's text.
    func countryPair(_ lines: [WikitextLine]) -> (CountryCode, CountryCode)? {
        let articles = ArticleReader(gazetteer: gazetteer)
        var lead: [String] = []
        for line in lines.prefix(200) {
            let trimmed = line.text.trimmed("")
            if let heading = ArticleReader.heading(trimmed) {
                if heading.level == 1, let pair = articles.countryPair(fromTitle: markup.render(heading.title).joined) { return pair }
                break
            }
            lead.append(line.text)
        }
        // Bold phrases, first to last.
        for text in lead {
            for phrase in WikitextReader.boldPhrases(text) {
                if let pair = articles.countryPair(fromTitle: markup.render(phrase).joined) { return pair }
            }
        }
        for text in lead {
            if let range = text.range(of: "{{DISPLAYTITLE:", options: .caseInsensitive),
               let end = text[range.upperBound...].range(of: "}}"),
               let pair = articles.countryPair(fromTitle: markup.render(String(text[range.upperBound..<end.lowerBound])).joined) {
                return pair
            }
            if let range = text.range(of: "{{Infobox bilateral relations", options: .caseInsensitive),
               let pair = infoboxPair(String(text[range.upperBound...])) {
                return pair
            }
        }
        for text in lead where !text.hasPrefix("{{") {
            if let pair = pairInProse(markup.render(text).joined) { return pair }
        }
        return nil
    }

    /// The texts between `'''` and `'''` (or `'''''`) on a line.
    static func boldPhrases(_ text: String) -> [String] {
        var phrases: [String] = []
        var rest = Substring(text)
        while let open = rest.range(of: "'''") {
            var start = open.upperBound
            while start < rest.endIndex, rest[start] == "'" { start = rest.index(after: start) }
            guard let close = rest[start...].range(of: "''") else { break }
            phrases.append(String(rest[start..<close.lowerBound]))
            var after = close.upperBound
            while after < rest.endIndex, rest[after] == "'" { after = rest.index(after: after) }
            rest = rest[after...]
        }
        return phrases
    }

    /// `{{Infobox bilateral relations|Mongolia–North Korea|Mongolia|North Korea|…}}`: the second
    /// and third positional arguments name the countries, or the `country1` and `country2` ones.
    func infoboxPair(_ arguments: String) -> (CountryCode, CountryCode)? {
        // The infobox's own arguments: split at the pipes outside links and nested templates.
        var pieces: [String] = []
        var piece = ""
        var depth = 0
        var previous: Character?
        for character in arguments {
            if character == previous, character == "[" || character == "{" { depth += 1; previous = nil; piece.append(character); continue }
            if character == previous, character == "]" || character == "}" { depth -= 1; previous = nil; piece.append(character); continue }
            previous = character
            if depth < 0 { break }
            if character == "|", depth == 0 {
                pieces.append(piece.trimmed(""))
                piece = ""
            } else {
                piece.append(character)
            }
        }
        pieces.append(piece.replacingAll("}}", with: "").trimmed(""))
        pieces.removeFirst()
        let positional = pieces.filter { !$0.contains("=") }
        var named: [String: String] = [:]
        for piece in pieces {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            named[piece[..<equals].trimmed("").lowercased()] = piece[piece.index(after: equals)...].trimmed("")
        }
        let names = positional.count >= 3 ? (positional[1], positional[2]) : (named["country1"] ?? "", named["country2"] ?? "")
        guard let a = gazetteer.country(named: names.0), let b = gazetteer.country(named: names.1), a != b else { return nil }
        return (a, b)
    }

    /// "… the Mongolia–North Korea relations …" or "relations between Mongolia and North Korea".
    func pairInProse(_ text: String) -> (CountryCode, CountryCode)? {
        let articles = ArticleReader(gazetteer: gazetteer)
        let words = text.split(separator: " ").map { String($0).trimmed(",.;:()\"") }
        for (index, word) in words.enumerated() where word.lowercased() == "relations" {
            // The words before "relations", shortest first.
            for length in stride(from: 1, through: min(8, index), by: 1) {
                let phrase = words[(index - length)..<index].joined(separator: " ")
                guard phrase.contains("–") || phrase.contains("-") || phrase.contains("—") else { continue }
                if let pair = articles.countryPair(fromTitle: phrase) { return pair }
            }
            // "relations between A and B".
            guard index + 2 < words.count, words[index + 1].lowercased() == "between" else { continue }
            let rest = Array(words[(index + 2)...].prefix(14))
            guard let and = rest.firstIndex(where: { $0.lowercased() == "and" }) else { continue }
            guard let a = gazetteer.country(named: rest[..<and].joined(separator: " ")) else { continue }
            for length in stride(from: min(6, rest.count - and - 1), through: 1, by: -1) {
                if let b = gazetteer.country(named: rest[(and + 1)..<(and + 1 + length)].joined(separator: " ")), a != b {
                    return (a, b)
                }
            }
        }
        return nil
    }

    // MARK: - Tables

    /// The sender and receiver of the ambassadors that a caption or the headings above name
    /// ("North Korean ambassadors to Mongolia"); on a page about a pair, a title naming only the
    /// sender ("Mongolian ambassadors", "Ambassadors of Mongolia") sends to the other country.
    func ambassadorContext(_ headings: SectionPath, caption: String?,
                           pair: (CountryCode, CountryCode)?) -> (sender: CountryCode, receiver: CountryCode)? {
        let titles = (caption.map { [$0] } ?? []) + headings.headings.reversed().map(\.title)
        for title in titles {
            if let envoy = tables.ambassadorHeading(title) { return envoy }
        }
        guard let pair else { return nil }
        for title in titles {
            guard let sender = ambassadorSender(title) else { continue }
            if sender == pair.0 { return (pair.0, pair.1) }
            if sender == pair.1 { return (pair.1, pair.0) }
        }
        return nil
    }

    /// "Mongolian ambassadors", "List of ambassadors of Mongolia" -> Mongolia.
    func ambassadorSender(_ title: String) -> CountryCode? {
        var text = Substring(title.trimmed(""))
        if let list = text.range(of: "list of ", options: [.caseInsensitive, .anchored]) { text = text[list.upperBound...] }
        for ending in [" ambassadors", " ambassador"] {
            if let range = text.range(of: ending, options: [.caseInsensitive, .anchored, .backwards]) {
                return gazetteer.country(adjective: String(text[..<range.lowerBound]))
            }
        }
        for opening in ["ambassadors of ", "ambassador of "] {
            if let range = text.range(of: opening, options: [.caseInsensitive, .anchored]) {
                return gazetteer.country(named: String(text[range.upperBound...]))
            }
        }
        return nil
    }

    /// "Hong Gyu (2013–2017)", or "2013–2017: Hong Gyu".
    func ambassadorItem(_ item: String, envoy: (sender: CountryCode, receiver: CountryCode),
                        source: Provenance) -> Result<TimelineEvent, RowProblem> {
        if !item.hasSuffix(")"), let colon = item.firstIndex(of: ":") {
            let termText = String(item[..<colon])
            let name = String(item[item.index(after: colon)...]).trimmed("")
            if !name.isEmpty, let term = try? DateText.parse(termText) {
                return tables.ambassadorTerm(name: name, term: term, sender: envoy.sender, receiver: envoy.receiver, source: source)
            }
        }
        return tables.ambassadorEntry(item, sender: envoy.sender, receiver: envoy.receiver, source: source)
    }

    /// The roles of an ambassadors table's columns.
    enum EnvoyColumn: Hashable {
        case name, term, start, end

        init?(header: String) {
            let text = header.lowercased()
            if text.contains("start") || text.contains("took office") || text.contains("appointed") || text.contains("assumed")
                || text.contains("credentials") || text.contains("began") || text == "from" || text == "since" {
                self = .start
            } else if text.contains("end") || text.contains("left office") || text.contains("until") || text == "to" {
                self = .end
            } else if text.contains("term") || text.contains("tenure") || text.contains("years") || text.contains("period")
                        || text.contains("in office") || text.contains("served") || text == "dates" || text == "date" {
                self = .term
            } else if text.contains("name") || text.contains("ambassador") || text.contains("envoy") || text.contains("head of mission")
                        || text.contains("representative") {
                self = .name
            } else {
                return nil
            }
        }
    }

    private func readTable(_ table: WikitextTable, pair: (CountryCode, CountryCode), headings: SectionPath, document: String,
                           into collector: inout ReadingCollector) {
        let (rows, cells) = table.grid()
        guard !rows.isEmpty else { return }
        var rendered: [Int: WikitextMarkup.Text] = [:]
        func text(_ cell: Int) -> WikitextMarkup.Text {
            guard cell >= 0 else { return WikitextMarkup.Text(parts: [], flags: []) }
            if let done = rendered[cell] { return done }
            let value = markup.render(cells[cell].content)
            rendered[cell] = value
            return value
        }
        // The header rows open the table; without any, its first row names the columns.
        var headerCount = rows.prefix(while: \.isHeader).count
        if headerCount == 0 { headerCount = 1 }
        let width = rows.prefix(headerCount).map(\.columns.count).max() ?? 0
        // Each column's header as its lowest header cell names it, and as all its header cells do
        // (a title spanning several columns above them, "Visit" over "Guest").
        var headers = Array(repeating: "", count: width)
        var lowest = Array(repeating: "", count: width)
        for row in rows.prefix(headerCount) {
            for (column, cell) in row.columns.enumerated() where cell >= 0 {
                let name = text(cell).joined
                if !name.isEmpty { lowest[column] = name }
                if !name.isEmpty, !headers[column].contains(name) {
                    headers[column] = headers[column].isEmpty ? name : headers[column] + " " + name
                }
            }
        }
        let dataRows = rows.dropFirst(headerCount).filter { !$0.isHeader }
        let caption = table.caption.map { markup.render($0).joined }
        let section = headings.path

        // An ambassadors table: a name and a term (or its start) under a heading or caption that says whose.
        if let envoy = ambassadorContext(headings, caption: caption, pair: pair) {
            var envoyColumns: [EnvoyColumn: Int] = [:]
            for (position, header) in headers.enumerated() {
                if let role = EnvoyColumn(header: header), envoyColumns[role] == nil { envoyColumns[role] = position }
            }
            if let nameColumn = envoyColumns[.name], envoyColumns[.term] != nil || envoyColumns[.start] != nil {
                for row in dataRows {
                    func cell(_ column: Int?) -> WikitextMarkup.Text {
                        guard let column, column < row.columns.count else { return WikitextMarkup.Text(parts: [], flags: []) }
                        return text(row.columns[column])
                    }
                    let source = Provenance(document: document, section: section, line: row.line)
                    let name = cell(nameColumn).joined
                    guard !name.isEmpty else {
                        collector.diagnose(.error, row.line, "the row names no ambassador")
                        continue
                    }
                    collector.keep(envoyTerm(name: name, term: cell(envoyColumns[.term]), start: cell(envoyColumns[.start]),
                                             end: cell(envoyColumns[.end]), envoy: envoy, source: source),
                                   line: row.line)
                }
                return
            }
        }

        var columns = RelationsTables.columns(lowest)
        if RelationsTables.missingVisitColumns(columns) != nil { columns = RelationsTables.columns(headers) }
        if let names = RelationsTables.missingVisitColumns(columns) {
            collector.diagnose(.warning, table.line, "a table without \(names) column(s) is not a visit table; its \(dataRows.count) rows are not read (headers: \(headers.joined(separator: " | ")))")
            return
        }
        for (rowIndex, row) in dataRows.enumerated() {
            if row.columns.count > headers.count {
                collector.diagnose(.error, row.line, "the row has \(row.columns.count) cells but the header has \(headers.count)")
                continue
            }
            func cell(_ column: RelationsTables.Column) -> WikitextMarkup.Text {
                guard let position = columns[column], position < row.columns.count else { return WikitextMarkup.Text(parts: [], flags: []) }
                return text(row.columns[position])
            }
            func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }
            let place = cell(.place)
            let date = cell(.date)
            var dates = date.parts.count > 1 ? [date.joined] + date.parts : date.parts
            if date.parts.count > 1 { dates.append(date.parts.joined(separator: " – ")) }
            let start = cell(.start), end = cell(.end)
            let dateTexts = RelationsTables.dateTexts(date: dates, start: start.isEmpty ? [] : [start.joined],
                                                      end: end.isEmpty ? [] : [end.joined])
            let source = Provenance(document: document, section: section, line: row.line, row: rowIndex + 1)
            collector.keep(tables.visit(guest: nonEmpty(cell(.guest).joined), host: nonEmpty(cell(.host).joined),
                                        place: nonEmpty(place.parts.joined(separator: ", ")), places: place.parts,
                                        placeHints: place.flags, dateTexts: dateTexts,
                                        description: nonEmpty(cell(.description).joined), pair: pair, source: source),
                           line: row.line)
        }
    }

    /// An ambassador's term from a term column, or from start and end columns.
    private func envoyTerm(name: String, term: WikitextMarkup.Text, start: WikitextMarkup.Text, end: WikitextMarkup.Text,
                           envoy: (sender: CountryCode, receiver: CountryCode), source: Provenance) -> Result<TimelineEvent, RowProblem> {
        let date: EDTFDate
        if !term.isEmpty {
            switch RelationsTables.firstDate([term.joined] + term.parts) {
            case .success(let parsed): date = parsed
            case .failure(let error): return .failure(RowProblem("\(error)"))
            }
        } else if !start.isEmpty {
            let first: EDTFDate
            switch RelationsTables.firstDate([start.joined] + start.parts) {
            case .success(let parsed): first = parsed
            case .failure(let error): return .failure(RowProblem("\(error)"))
            }
            var last: EDTFDate?
            let endText = end.joined
            if !endText.isEmpty, !["present", "incumbent", "current", "now", "–", "-"].contains(endText.lowercased()) {
                switch RelationsTables.firstDate([endText] + end.parts) {
                case .success(let parsed): last = parsed
                case .failure(let error): return .failure(RowProblem("\(error)"))
                }
            }
            guard let startDate = first.start else { return .failure("the term has no start") }
            let endDate = last?.end
            if let endDate, endDate < startDate { return .failure("the term ends before it starts") }
            date = endDate == startDate ? .single(startDate) : .interval(start: startDate, end: endDate)
        } else {
            return .failure("the row gives no term")
        }
        return tables.ambassadorTerm(name: name, term: date, sender: envoy.sender, receiver: envoy.receiver, source: source)
    }
}

// MARK: - MediaWiki API responses

extension WikitextReader {
    /// A page inside a MediaWiki API response in JSON: `action=parse&prop=wikitext` (`parse.wikitext`,
    /// as `{"*": …}` or, with `formatversion=2`, a string) or `action=query&prop=revisions&rvprop=content`
    /// (the first page's first revision, its `*` or `content`, or that of its `main` slot).
    public struct APIPage: Sendable, Equatable {
        public var title: String?
        public var wikitext: String
    }

    /// The page a MediaWiki API response holds; nil when the text is no such response.
    public static func apiPage(_ text: String) -> APIPage? {
        let head = text.drop(while: \.isWhitespace)
        guard head.hasPrefix("{"), head.prefix(300).contains("\"parse\"") || head.prefix(300).contains("\"query\""),
              let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        func content(_ value: Any?) -> String? {
            if let text = value as? String { return text }
            guard let fields = value as? [String: Any] else { return nil }
            if let text = (fields["*"] ?? fields["content"]) as? String { return text }
            if let slots = fields["slots"] as? [String: Any] { return content(slots["main"]) }
            return nil
        }
        if let parse = object["parse"] as? [String: Any], let wikitext = content(parse["wikitext"]) {
            return APIPage(title: parse["title"] as? String, wikitext: wikitext)
        }
        guard let query = object["query"] as? [String: Any] else { return nil }
        let pages: [Any]
        if let list = query["pages"] as? [Any] {
            pages = list
        } else if let table = query["pages"] as? [String: Any] {
            pages = table.keys.sorted().compactMap { table[$0] }
        } else {
            return nil
        }
        for case let page as [String: Any] in pages {
            guard let revisions = page["revisions"] as? [Any], let wikitext = content(revisions.first) else { continue }
            return APIPage(title: page["title"] as? String, wikitext: wikitext)
        }
        return nil
    }
}
