import Foundation

/// What the readers of articles share: the columns of visit tables, how a row of one becomes a
/// visit, how an ambassador's entry becomes a term, and how a reading gathers its events, section
/// path and diagnostics. `ArticleReader` (plain-text articles) and `WikitextReader` (MediaWiki
/// wikitext) differ only in how they find tables, rows and cells.
struct RelationsTables: Sendable {
    let gazetteer: Gazetteer

    /// The column roles a visit table can have.
    enum Column: Hashable {
        /// `start` and `end` are the first and last day of a visit, in columns of their own.
        case guest, host, place, date, start, end, description

        /// Which role a header names, from the words Wikipedia tables use.
        init?(header: String) {
            let text = header.lowercased()
            if text.contains("guest") || text.contains("visitor") || text == "visiting" || text.contains("delegation")
                || (text.contains("leader") && !text.contains("host")) {
                self = .guest
            } else if text.contains("host") {
                self = .host
            } else if text.contains("description") || text.contains("note") || text.contains("purpose")
                        || text.contains("remark") || text.contains("detail") || text.contains("comment") {
                self = .description
            } else if let bound = Column(boundOf: text) {
                self = bound
            } else if text.contains("date") || text == "when" || text == "year" || text == "dates" {
                self = .date
            } else if text.contains("place") || text.contains("location") || text.contains("city")
                        || text.contains("venue") || text == "where" {
                self = .place
            } else {
                return nil
            }
        }

        /// "Start", "Arrival", "Start date", "From" -> start; "End", "Departure", "Until", "To" -> end (whole words).
        private init?(boundOf text: String) {
            let words = Set(text.split(whereSeparator: { !$0.isLetter }).map(String.init))
            if !words.isDisjoint(with: ["start", "arrival", "arrived", "from", "began", "begin", "beginning"]) {
                self = .start
            } else if !words.isDisjoint(with: ["end", "ended", "departure", "departed", "until", "to"]) {
                self = .end
            } else {
                return nil
            }
        }
    }

    /// The texts to try as a row's date: the date column's, else the start column's to the end column's.
    static func dateTexts(date: [String], start: [String], end: [String]) -> [String] {
        if !date.isEmpty { return date }
        guard let first = start.first else { return [] }
        guard let last = end.first else { return [first] }
        return ["\(first) – \(last)"]
    }

    /// The position of each role among `headers` (the first header naming a role wins).
    static func columns(_ headers: [String]) -> [Column: Int] {
        var columns: [Column: Int] = [:]
        for (position, header) in headers.enumerated() {
            guard let column = Column(header: header) else { continue }
            if columns[column] == nil { columns[column] = position }
        }
        return columns
    }

    /// The roles a visit table must have that `columns` lacks, as a phrase ("guest, date"); nil when none is missing.
    static func missingVisitColumns(_ columns: [Column: Int]) -> String? {
        let missing = [Column.guest, .place, .date].filter { columns[$0] == nil && ($0 != .date || columns[.start] == nil) }
        return missing.isEmpty ? nil : missing.map { "\($0)" }.joined(separator: ", ")
    }

    /// The longest guest, host or place the JSON Lines contract takes.
    static let longestName = 500
    /// The longest description the JSON Lines contract takes.
    static let longestDescription = 4_000

    /// One row of a visit table as a visit, or why it is none.
    ///
    /// `places` are the texts to try for the place, in order (the whole cell first, then its parts);
    /// the first one the gazetteer places in a country of the pair settles the direction, and the
    /// guest comes from the other country. `placeHints` are countries the cell itself names (a flag
    /// beside a place the gazetteer does not know); they settle the direction only when no text does.
    func visit(guest: String?, host: String?, place: String?, places: [String] = [], placeHints: [CountryCode] = [],
               dateTexts: [String], description: String?, pair: (CountryCode, CountryCode),
               source: Provenance) -> Result<TimelineEvent, RowProblem> {
        guard let guest else { return .failure("the row names no guest") }
        guard let dateText = dateTexts.first else { return .failure("the row has no date") }
        let hint = placeHints.first { $0 == pair.0 || $0 == pair.1 }
        guard let placeText = place ?? hint.map({ gazetteer.name(of: $0) }) else {
            return .failure("the row has no place of visit")
        }
        for (name, text) in [("guest", guest), ("host", host ?? ""), ("place", placeText)] where text.count > Self.longestName {
            return .failure("the \(name) is longer than \(Self.longestName) characters")
        }
        if let description, description.count > Self.longestDescription {
            return .failure("the description is longer than \(Self.longestDescription) characters")
        }
        let date: EDTFDate
        switch Self.firstDate(dateTexts) {
        case .success(let parsed): date = parsed
        case .failure(let error): return .failure(RowProblem("\(error)"))
        }
        var placeCountry: CountryCode?
        for candidate in [placeText] + places {
            guard let country = gazetteer.country(ofPlace: candidate) else { continue }
            placeCountry = country
            if country == pair.0 || country == pair.1 { break }
        }
        if placeCountry == nil || (placeCountry != pair.0 && placeCountry != pair.1), let hint {
            placeCountry = hint
        }
        guard let placeCountry else { return .failure("the place '\(placeText)' is not in the gazetteer") }
        let to: CountryCode, from: CountryCode
        if placeCountry == pair.0 {
            (from, to) = (pair.1, pair.0)
        } else if placeCountry == pair.1 {
            (from, to) = (pair.0, pair.1)
        } else {
            return .failure("the place '\(placeText)' is in \(placeCountry), neither \(pair.0) nor \(pair.1)")
        }
        return .success(TimelineEvent(kind: .visit, date: date, from: from, to: to, guest: guest, host: host,
                                      place: placeText, description: description, source: source))
    }

    /// The first of `texts` that reads as a date, each tried as written and then without what it
    /// says in parentheses ("12 May 1987 (state visit)"); when none does, the error of the first.
    static func firstDate(_ texts: [String]) -> Result<EDTFDate, DateTextError> {
        var firstError: DateTextError?
        for text in texts.flatMap({ [$0, withoutParentheses($0)] }) where !text.isEmpty {
            do {
                return .success(try DateText.parse(text))
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        return .failure(firstError ?? DateTextError(text: "", reason: "the date is empty"))
    }

    /// The text without its parenthesised parts; empty when it has none (nothing new to try).
    static func withoutParentheses(_ text: String) -> String {
        guard text.contains("(") else { return "" }
        var out = ""
        var depth = 0
        for character in text {
            if character == "(" { depth += 1; continue }
            if character == ")" { depth = max(0, depth - 1); continue }
            if depth == 0 { out.append(character) }
        }
        return out.trimmed("")
    }

    /// "North Korean ambassadors to Mongolia" or "Ambassadors of Mongolia to North Korea" -> (sender, receiver).
    func ambassadorHeading(_ title: String) -> (sender: CountryCode, receiver: CountryCode)? {
        // Ranges are searched in the title itself (case-insensitively), never in a lower-cased copy
        // whose indices would not fit the original.
        if let range = title.range(of: " ambassadors to ", options: .caseInsensitive)
            ?? title.range(of: " ambassador to ", options: .caseInsensitive) {
            var senderText = String(title[title.startIndex..<range.lowerBound])
            if let list = senderText.range(of: "list of ", options: [.caseInsensitive, .anchored]) {
                senderText = String(senderText[list.upperBound...])
            }
            let receiverText = String(title[range.upperBound...])
            guard let sender = gazetteer.country(adjective: senderText),
                  let receiver = gazetteer.country(named: receiverText) else { return nil }
            return (sender, receiver)
        }
        var rest = Substring(title)
        if let list = rest.range(of: "list of ", options: [.caseInsensitive, .anchored]) { rest = rest[list.upperBound...] }
        for opening in ["ambassadors of ", "ambassador of "] {
            if let prefix = rest.range(of: opening, options: [.caseInsensitive, .anchored]),
               let to = rest.range(of: " to ", options: .caseInsensitive, range: prefix.upperBound..<rest.endIndex) {
                let senderText = String(rest[prefix.upperBound..<to.lowerBound])
                let receiverText = String(rest[to.upperBound...])
                guard let sender = gazetteer.country(named: senderText),
                      let receiver = gazetteer.country(named: receiverText) else { return nil }
                return (sender, receiver)
            }
        }
        return nil
    }

    /// "Hong Gyu (2013–2017)" -> an ambassador's term from 2013 to 2017.
    func ambassadorEntry(_ clean: String, sender: CountryCode, receiver: CountryCode,
                         source: Provenance) -> Result<TimelineEvent, RowProblem> {
        guard clean.hasSuffix(")"), let open = clean.lastIndex(of: "(") else {
            return .failure("the ambassador entry '\(clean)' gives no term in parentheses")
        }
        let name = String(clean[..<open]).trimmed("")
        let termText = String(clean[clean.index(after: open)..<clean.index(before: clean.endIndex)])
        guard !name.isEmpty else { return .failure("the ambassador entry '\(clean)' names nobody") }
        let term: EDTFDate
        do {
            term = try DateText.parse(termText)
        } catch {
            return .failure(RowProblem("\(error)"))
        }
        return ambassadorTerm(name: name, term: term, sender: sender, receiver: receiver, source: source)
    }

    /// An ambassador's term, sender to receiver.
    func ambassadorTerm(name: String, term: EDTFDate, sender: CountryCode, receiver: CountryCode,
                        source: Provenance) -> Result<TimelineEvent, RowProblem> {
        guard name.count <= Self.longestName else {
            return .failure("the ambassador's name is longer than \(Self.longestName) characters")
        }
        return .success(TimelineEvent(kind: .ambassadorTerm, date: term, from: sender, to: receiver, guest: name,
                                      description: "Ambassador of \(gazetteer.name(of: sender)) to \(gazetteer.name(of: receiver))",
                                      source: source))
    }
}

/// Why a row or entry gave no event, as the diagnostic will say it.
struct RowProblem: Error, ExpressibleByStringInterpolation, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
    init(stringLiteral value: String) { description = value }
    init(stringInterpolation: DefaultStringInterpolation) { description = String(stringInterpolation: stringInterpolation) }
}

/// A reading being gathered: diagnostics, and events of which repeats are noted rather than kept.
struct ReadingCollector {
    private(set) var reading: SourceReading
    private var firstLineOfID: [String: Int] = [:]

    init(document: String) {
        reading = SourceReading(document: document)
    }

    mutating func diagnose(_ severity: Diagnostic.Severity, _ line: Int, _ message: String) {
        reading.diagnostics.append(Diagnostic(severity, file: reading.document, line: line, message))
    }

    mutating func keep(_ event: TimelineEvent, line: Int) {
        if let first = firstLineOfID[event.id] {
            diagnose(.note, line, "repeats the event of line \(first); counted once")
            return
        }
        firstLineOfID[event.id] = line
        reading.events.append(event)
    }

    /// Keeps the event, or reports why there is none as an error on `line`.
    mutating func keep(_ result: Result<TimelineEvent, RowProblem>, line: Int) {
        switch result {
        case .success(let event): keep(event, line: line)
        case .failure(let problem): diagnose(.error, line, problem.description)
        }
    }

    var hasErrors: Bool { reading.diagnostics.contains { $0.severity == .error } }
}

/// The headings above the current line.
struct SectionPath {
    private(set) var headings: [(level: Int, title: String)] = []

    mutating func enter(level: Int, title: String) {
        headings.removeAll { $0.level >= level }
        headings.append((level, title))
    }

    /// The longest section the JSON Lines contract takes.
    static let longest = 500

    /// The titles below the page title, "Inter-nation visits / Heads of State and Government"; nil at
    /// the top. A path longer than the contract allows is cut, ending with "…".
    var path: String? {
        let titles = headings.filter { $0.level > 1 }.map(\.title)
        guard !titles.isEmpty else { return nil }
        let path = titles.joined(separator: " / ")
        return path.count <= Self.longest ? path : String(path.prefix(Self.longest - 1)) + "…"
    }
}
