import Foundation
import Timeline

/// The kinds of source a producer or `ingest` reads.
public enum SourceFormat: String, Sendable, CaseIterable {
    /// A wiki-style article (`= A–B relations =`, tables, ambassador lists).
    case article
    /// JSON Lines of events, the `ingest --format jsonl` contract.
    case jsonl
    /// A GDELT 1.0 or 2.0 event export (tab-separated, 57, 58 or 61 columns).
    case gdelt
    /// A MediaWiki page as raw wikitext (`'''A–B relations'''`, `{| class="wikitable"` tables).
    case wikitext

    /// The extensions a folder's sources may have.
    public static let fileExtensions: Set<String> = ["txt", "jsonl", "ndjson", "csv", "wiki", "wikitext", "mediawiki"]

    /// `.wiki`/`.wikitext`/`.mediawiki` are wikitext, and so is a MediaWiki API response in JSON
    /// holding a page's wikitext, whatever its name; `.jsonl`/`.ndjson`/`.json` are JSON Lines.
    /// Otherwise the content decides: a row of a GDELT
    /// event export among the first ten non-blank lines (tab-separated, GDELT's number of columns,
    /// an event id and a date; one torn row does not hide the rest) means GDELT, whatever the
    /// file's name; then a first non-comment line starting with `{` (not wikitext's `{{` or `{|`)
    /// means JSON Lines. Then a first line that is an article's `= A–B relations =` title means an
    /// article, and wikitext's own markup in the head (a `{|` table, a `{{template}}` or `|-` line,
    /// `'''bold'''`, `<ref>`, a heading with a link or template) means wikitext. Failing
    /// those, a `.csv` name (GDELT's `.export.CSV`) means GDELT, anything else an article.
    public static func detect(path: String, text: String) -> SourceFormat {
        let ext = (path as NSString).pathExtension.lowercased()
        if ["wiki", "wikitext", "mediawiki"].contains(ext) { return .wikitext }
        // A MediaWiki API response in JSON (often saved as .json) is a wikitext page, not events.
        if text.first(where: { !$0.isWhitespace }) == "{", WikitextReader.apiPage(text) != nil { return .wikitext }
        if ["jsonl", "ndjson", "json"].contains(ext) { return .jsonl }
        // Only the head of the file is looked at. "\r\n" is one Character: split on it too, or a
        // CRLF file would be one line.
        let lines = text.prefix(1 << 16).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .filter { !$0.allSatisfy(\.isWhitespace) }
        if lines.prefix(10).contains(where: { GDELTReader.looksLikeExport(line: $0) }) { return .gdelt }
        for line in lines {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if trimmed.hasPrefix("#") { continue }
            // A JSON object, not wikitext's `{{template}}` or `{| table`.
            if trimmed.hasPrefix("{"), !trimmed.hasPrefix("{{"), !trimmed.hasPrefix("{|") { return .jsonl }
            break
        }
        if ext != "csv", looksLikeWikitext(lines) { return .wikitext }
        return ext == "csv" ? .gdelt : .article
    }

    /// Whether the head of a file is wikitext rather than an article: an article opens with its
    /// `= Title =` line, and wikitext has markup that articles do not use.
    static func looksLikeWikitext(_ lines: [Substring]) -> Bool {
        guard let first = lines.first.map(blankTrimmed) else { return false }
        // An article's title: one `=` each side (wikitext pages start at `==`).
        if first.hasPrefix("="), !first.hasPrefix("=="), first.hasSuffix("="), !first.hasSuffix("==") { return false }
        for line in lines.prefix(400) {
            let trimmed = blankTrimmed(line)
            // `|-` opens a wikitext row; `|---|---|` is a pipe table's rule, not wikitext.
            let row = trimmed.hasPrefix("|-") && !trimmed.dropFirst().hasSuffix("|")
            if trimmed.hasPrefix("{|") || trimmed.hasPrefix("{{") || row || trimmed == "|}"
                || trimmed.hasPrefix("<!--") || trimmed.contains("'''") || trimmed.range(of: "<ref", options: .caseInsensitive) != nil {
                return true
            }
            if trimmed.hasPrefix("=="), trimmed.hasSuffix("=="), trimmed.contains("[[") || trimmed.contains("{{") { return true }
        }
        return false
    }

    private static func blankTrimmed(_ line: Substring) -> Substring {
        var slice = line
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}

/// A source that could not be used at all.
public struct SourceError: Error, CustomStringConvertible, Sendable {
    public enum Reason: Sendable {
        case unreadable(String)
        case empty
        case noEvents
    }

    public let path: String
    public let reason: Reason
    /// What reading the source found wrong (for `noEvents`, why nothing in it was kept), to be
    /// shown before the error itself.
    public let diagnostics: [Diagnostic]

    public init(path: String, reason: Reason, diagnostics: [Diagnostic] = []) {
        self.path = path
        self.reason = reason
        self.diagnostics = diagnostics
    }

    public var description: String {
        switch reason {
        case .unreadable(let why): return "\(path): cannot read the source: \(why)"
        case .empty: return "\(path): the source is empty"
        case .noEvents:
            let errors = diagnostics.filter { $0.severity == .error }.count
            return "\(path): the source holds no events" + (errors == 0 ? "" : errors == 1 ? " (1 error above)" : " (\(errors) errors above)")
        }
    }
}

/// Reads sources from disk into events: articles, JSON Lines files, and folders of them.
public struct SourceLoader: Sendable {
    public let gazetteer: Gazetteer

    public init(gazetteer: Gazetteer) {
        self.gazetteer = gazetteer
    }

    /// The extensions (lower case) of the files a folder contributes.
    public static let folderExtensions: Set<String> = SourceFormat.fileExtensions

    /// Reads every source at `path`; a folder contributes its `.txt`, `.jsonl`, `.ndjson`, `.csv`,
    /// `.wiki`, `.wikitext` and `.mediawiki` files in name order.
    public func load(path: String, format: SourceFormat? = nil) throws(SourceError) -> [SourceReading] {
        var readings: [SourceReading] = []
        for file in try Self.files(at: path) {
            readings.append(try loadFile(file, format: format))
        }
        return readings
    }

    /// The files `load(path:)` reads at `path`: the file itself, or a folder's source files in name
    /// order. Throws when nothing is there, or a folder holds no source file.
    public static func files(at path: String) throws(SourceError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SourceError(path: path, reason: .unreadable("no such file or folder"))
        }
        guard isDirectory.boolValue else { return [path] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw SourceError(path: path, reason: .unreadable(error.localizedDescription))
        }
        let files = names.filter { folderExtensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        if files.isEmpty { throw SourceError(path: path, reason: .empty) }
        return files.map { (path as NSString).appendingPathComponent($0) }
    }

    /// Reads one file. Throws when the file cannot be read, is empty, or yields no event at all
    /// (every row rejected, or nothing in it that the reader recognises).
    public func loadFile(_ path: String, format: SourceFormat? = nil) throws(SourceError) -> SourceReading {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SourceError(path: path, reason: .unreadable(SourceLoader.reason(error)))
        }
        // A GDELT export is read even with a stray invalid byte (in a URL, say): one bad byte in a
        // day of events should not cost the day. Other sources must be UTF-8.
        let valid = String(data: data, encoding: .utf8)
        let text = valid ?? String(decoding: data, as: UTF8.self)
        if text.allSatisfy(\.isWhitespace) { throw SourceError(path: path, reason: .empty) }
        let format = format ?? SourceFormat.detect(path: path, text: text)
        if valid == nil, format != .gdelt { throw SourceError(path: path, reason: .unreadable("not UTF-8 text")) }
        var reading = read(text: text, document: path, format: format)
        if valid == nil {
            reading.diagnostics.insert(Diagnostic(.warning, file: path, line: nil, "not valid UTF-8: invalid bytes were read as U+FFFD"), at: 0)
        }
        if reading.events.isEmpty { throw SourceError(path: path, reason: .noEvents, diagnostics: reading.diagnostics) }
        return reading
    }

    public func read(text: String, document: String, format: SourceFormat) -> SourceReading {
        switch format {
        case .article: return ArticleReader(gazetteer: gazetteer).read(text, document: document)
        case .jsonl: return EventJSON.read(text, document: document)
        case .gdelt: return GDELTReader(gazetteer: gazetteer).read(text, document: document)
        case .wikitext:
            let reader = WikitextReader(gazetteer: gazetteer)
            guard let page = WikitextReader.apiPage(text) else { return reader.read(text, document: document) }
            // The page inside a MediaWiki API response: its lines are those of the page's wikitext.
            var reading = reader.read(page.wikitext, document: document, title: page.title)
            reading.diagnostics.insert(Diagnostic(.note, file: document, line: nil,
                                                  "a MediaWiki API response: line numbers are those of the page's wikitext inside it"), at: 0)
            return reading
        }
    }

    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}

/// Events from several sources merged into one set: the first reading of an id wins, and a later
/// reading of the same id is reported as a note naming both places.
public struct MergedEvents: Sendable {
    public private(set) var events: [TimelineEvent] = []
    public private(set) var diagnostics: [Diagnostic] = []
    /// The first source of each event, by its 16-byte key: the key the aggregator counts events
    /// by, cheaper to hash than the id's text.
    private var seen: [EventKey: Provenance] = [:]

    public init() {}

    public init(_ readings: [SourceReading]) {
        for reading in readings { add(reading) }
    }

    public mutating func add(_ reading: SourceReading) {
        diagnostics += reading.diagnostics
        // Room for this source's events, growing by doubling: reserving exactly what each of many
        // small sources needs would copy everything merged so far once per source.
        let needed = events.count + reading.events.count
        if needed > events.capacity { events.reserveCapacity(max(needed, 2 * events.capacity)) }
        if needed > seen.capacity { seen.reserveCapacity(max(needed, 2 * seen.capacity)) }
        for event in reading.events {
            let key = EventKey(id: event.id)
            if let first = seen[key] {
                let place = first.line.map { "\(first.document):\($0)" } ?? first.document
                diagnostics.append(Diagnostic(.note, file: event.source.document, line: event.source.line,
                                              "the same event as \(place) (id \(event.id)); counted once"))
                continue
            }
            seen[key] = event.source
            events.append(event)
        }
    }
}
