import Foundation

/// Why one JSON Lines record is not an event. Names the key when one is at fault.
public struct EventDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public let key: String?
    public let reason: String

    public init(key: String?, _ reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { key.map { "key '\($0)': \(reason)" } ?? reason }
}

/// The JSON Lines form of events: one JSON object per line, the public contract of `timeline ingest`.
///
/// ```
/// {"id":"…","kind":"visit","date":"1956-07-16/1956-07-18","from":"KP","to":"MN","guest":"…","host":"…",
///  "place":"Ulaanbaatar","description":null,"cameo":"042","source":{"document":"…","section":"…","line":31,"row":2}}
/// ```
/// Keys always appear in this order and absent values are `null`. On input, `id` may be omitted (it is
/// then derived from the facts), as may `guest`, `host`, `place`, `description`, `cameo` and `source`.
public enum EventJSON {
    /// The longest text each field may hold, in characters: longer is an out-of-range value, not a name.
    static let maximumLengths: [String: Int] = ["guest": 500, "host": 500, "place": 500, "description": 4_000]

    /// Keys an input record may carry; anything else is rejected so that typos do not pass unseen.
    static let knownKeys: Set<String> = ["id", "kind", "date", "from", "to", "guest", "host", "place", "description", "cameo", "source"]

    /// One event as one line of JSON, without the newline.
    public static func encode(_ event: TimelineEvent) -> String {
        var out = "{"
        out += "\"id\":"; appendString(event.id, to: &out)
        out += ",\"kind\":\"\(event.kind.rawValue)\""
        out += ",\"date\":\"\(event.date.description)\""
        out += ",\"from\":\"\(event.from.rawValue)\",\"to\":\"\(event.to.rawValue)\""
        out += ",\"guest\":"; appendOptional(event.guest, to: &out)
        out += ",\"host\":"; appendOptional(event.host, to: &out)
        out += ",\"place\":"; appendOptional(event.place, to: &out)
        out += ",\"description\":"; appendOptional(event.description, to: &out)
        out += ",\"cameo\":"; appendOptional(event.cameo, to: &out)
        out += ",\"source\":{\"document\":"; appendString(event.source.document, to: &out)
        out += ",\"section\":"; appendOptional(event.source.section, to: &out)
        out += ",\"line\":" + (event.source.line.map(String.init) ?? "null")
        out += ",\"row\":" + (event.source.row.map(String.init) ?? "null")
        out += "}}"
        return out
    }

    /// Decodes one record. `fallbackSource` is the provenance used when the record has none.
    public static func decode(_ line: some StringProtocol, fallbackSource: Provenance) throws(EventDecodingError) -> TimelineEvent {
        var text = String(line)
        if let event = text.withUTF8({ EventJSONFastPath.decode($0) }) { return event }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [])
        } catch {
            throw EventDecodingError(key: nil, "not valid JSON")
        }
        guard let record = object as? [String: Any] else { throw EventDecodingError(key: nil, "not a JSON object") }
        return try decode(record, fallbackSource: fallbackSource)
    }

    public static func decode(_ record: [String: Any], fallbackSource: Provenance) throws(EventDecodingError) -> TimelineEvent {
        if let unknown = record.keys.filter({ !knownKeys.contains($0) }).sorted().first {
            throw EventDecodingError(key: unknown, "unknown key")
        }
        let kindText = try requiredString(record, "kind")
        guard let kind = EventKind(rawValue: kindText) else {
            throw EventDecodingError(key: "kind", "'\(kindText)' is not one of \(EventKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let dateText = try requiredString(record, "date")
        guard let date = EDTFDate(edtf: dateText) else {
            throw EventDecodingError(key: "date", "'\(dateText)' is not an EDTF date such as 1956, 2007-07, 1974-12-21 or 2017/..")
        }
        let from = try country(record, "from")
        let to = try country(record, "to")
        let guest = try optionalString(record, "guest")
        let host = try optionalString(record, "host")
        let place = try optionalString(record, "place")
        let description = try optionalString(record, "description")
        let cameo = try optionalString(record, "cameo")
        if let cameo, !(cameo.count >= 2 && cameo.count <= 4 && cameo.allSatisfy(\.isASCIIDigit)) {
            throw EventDecodingError(key: "cameo", "'\(cameo)' is not a CAMEO code (2 to 4 digits)")
        }
        let source = try provenance(record["source"], fallback: fallbackSource)
        if let id = try optionalString(record, "id") {
            guard EventID.isValid(id) else {
                throw EventDecodingError(key: "id", "must be 1 to 64 characters from A-Z a-z 0-9 . _ : -")
            }
            return TimelineEvent(id: id, kind: kind, date: date, from: from, to: to, guest: guest, host: host, place: place,
                                 description: description, cameo: cameo, source: source)
        }
        return TimelineEvent(kind: kind, date: date, from: from, to: to, guest: guest, host: host, place: place,
                             description: description, cameo: cameo, source: source)
    }

    /// Reads a whole JSON Lines document. Blank lines and lines starting with `#` are skipped; a bad
    /// line becomes an error diagnostic naming its line and key, and the good lines around it are kept.
    /// Records with the same id are one event.
    public static func read(_ text: String, document: String) -> SourceReading {
        var reading = SourceReading(document: document)
        var firstLineOfID: [String: Int] = [:]
        var lineNumber = 0
        for rawLine in Lines.split(text) {
            lineNumber += 1
            let line = rawLine.trimmed("")
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                let event = try decode(line, fallbackSource: Provenance(document: document, line: lineNumber))
                if let first = firstLineOfID[event.id] {
                    reading.diagnostics.append(Diagnostic(.note, file: document, line: lineNumber, "repeats the event of line \(first) (id \(event.id)); counted once"))
                    continue
                }
                firstLineOfID[event.id] = lineNumber
                reading.events.append(event)
            } catch {
                reading.diagnostics.append(Diagnostic(.error, file: document, line: lineNumber, "\(error)"))
            }
        }
        return reading
    }

    // MARK: - Field helpers

    private static func requiredString(_ record: [String: Any], _ key: String) throws(EventDecodingError) -> String {
        guard let value = record[key], !(value is NSNull) else { throw EventDecodingError(key: key, "missing") }
        guard let text = value as? String else { throw EventDecodingError(key: key, "must be a string") }
        guard !text.isEmpty else { throw EventDecodingError(key: key, "must not be empty") }
        return text
    }

    private static func optionalString(_ record: [String: Any], _ key: String) throws(EventDecodingError) -> String? {
        guard let value = record[key], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw EventDecodingError(key: key, "must be a string or null") }
        if let limit = maximumLengths[key], text.count > limit {
            throw EventDecodingError(key: key, "longer than \(limit) characters")
        }
        return text.isEmpty ? nil : text
    }

    private static func country(_ record: [String: Any], _ key: String) throws(EventDecodingError) -> CountryCode {
        let text = try requiredString(record, key)
        guard text.count == 2, text == text.uppercased(), let code = CountryCode(text) else {
            throw EventDecodingError(key: key, "'\(text)' is not an ISO 3166-1 alpha-2 code such as MN or KP")
        }
        return code
    }

    private static func provenance(_ value: Any?, fallback: Provenance) throws(EventDecodingError) -> Provenance {
        guard let value, !(value is NSNull) else { return fallback }
        if let document = value as? String {
            guard !document.isEmpty else { throw EventDecodingError(key: "source", "must not be empty") }
            return Provenance(document: document)
        }
        guard let object = value as? [String: Any] else {
            throw EventDecodingError(key: "source", "must be an object or a string")
        }
        guard let document = object["document"] as? String, !document.isEmpty else {
            throw EventDecodingError(key: "source.document", "missing")
        }
        guard document.count <= 1_000 else { throw EventDecodingError(key: "source.document", "longer than 1000 characters") }
        if let section = object["section"], !(section is NSNull) {
            guard let text = section as? String, text.count <= 500 else {
                throw EventDecodingError(key: "source.section", "must be a string of at most 500 characters")
            }
        }
        func integer(_ key: String) throws(EventDecodingError) -> Int? {
            guard let raw = object[key], !(raw is NSNull) else { return nil }
            // Foundation hands JSON booleans over as NSNumber too; its type code tells them apart.
            guard let number = raw as? NSNumber, String(cString: number.objCType) != "c", number.doubleValue >= 0,
                  number.doubleValue == number.doubleValue.rounded(), number.doubleValue < 1e15 else {
                throw EventDecodingError(key: "source.\(key)", "must be a non-negative integer")
            }
            return number.intValue
        }
        let section = object["section"] as? String
        return Provenance(document: document, section: section, line: try integer("line"), row: try integer("row"))
    }

    // MARK: - Writing JSON strings

    public static func appendOptional(_ value: String?, to out: inout String) {
        if let value { appendString(value, to: &out) } else { out += "null" }
    }

    /// Writes a JSON string literal, escaping quotes, backslashes and control characters.
    public static func appendString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
