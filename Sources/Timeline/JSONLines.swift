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
        var bytes: [UInt8] = []
        encode(event, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes one event as one line of JSON, without the newline, over the contents of `out`
    /// (whose capacity is reused: the producer's hot path encodes into one buffer).
    public static func encode(_ event: TimelineEvent, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        append("{\"id\":", to: &out); appendString(event.id, to: &out)
        append(",\"kind\":", to: &out); appendString(event.kind.rawValue, to: &out)
        // An EDTF date is digits, `-`, `/`, `.` and `X`: nothing in it needs escaping.
        append(",\"date\":\"", to: &out); event.date.appendText(to: &out); out.append(UInt8(ascii: "\""))
        append(",\"from\":", to: &out); appendString(event.from.rawValue, to: &out)
        append(",\"to\":", to: &out); appendString(event.to.rawValue, to: &out)
        append(",\"guest\":", to: &out); appendOptional(event.guest, to: &out)
        append(",\"host\":", to: &out); appendOptional(event.host, to: &out)
        append(",\"place\":", to: &out); appendOptional(event.place, to: &out)
        append(",\"description\":", to: &out); appendOptional(event.description, to: &out)
        append(",\"cameo\":", to: &out); appendOptional(event.cameo, to: &out)
        append(",\"source\":{\"document\":", to: &out); appendString(event.source.document, to: &out)
        append(",\"section\":", to: &out); appendOptional(event.source.section, to: &out)
        append(",\"line\":", to: &out); appendInteger(event.source.line, to: &out)
        append(",\"row\":", to: &out); appendInteger(event.source.row, to: &out)
        append("}}", to: &out)
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

    /// What the statistics count of one record, read without building the event when it is in
    /// `encode`'s own layout (the general decoder reads anything else).
    public static func summary(of line: UnsafeRawBufferPointer) throws(EventDecodingError) -> EventSummary {
        let bytes = line.assumingMemoryBound(to: UInt8.self)
        if let fields = EventJSONFastPath.scan(bytes) { return EventJSONFastPath.summary(bytes, fields) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw EventDecodingError(key: nil, "not UTF-8") }
        return EventSummary(try decode(text, fallbackSource: Provenance(document: "")))
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
        // An empty section is no section, as an empty guest is no guest.
        let section = (object["section"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        return Provenance(document: document, section: section, line: try integer("line"), row: try integer("row"))
    }

    // MARK: - Writing JSON strings

    public static func appendOptional(_ value: String?, to out: inout String) {
        if let value { appendString(value, to: &out) } else { out += "null" }
    }

    /// Writes a JSON string literal, escaping quotes, backslashes and control characters.
    public static func appendString(_ value: String, to out: inout String) {
        var bytes: [UInt8] = []
        appendString(value, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    static func appendOptional(_ value: String?, to out: inout [UInt8]) {
        if let value { appendString(value, to: &out) } else { append("null", to: &out) }
    }

    static func appendInteger(_ value: Int?, to out: inout [UInt8]) {
        guard let value else { return append("null", to: &out) }
        if value < 0 { out.append(0x2D) }
        var magnitude = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { digits in
            repeat {
                digits[count] = UInt8(0x30 + magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(digits[index]) }
        }
    }

    @inline(__always)
    static func append(_ literal: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Writes a JSON string literal, escaping quotes, backslashes and control characters (as
    /// `\u00XX` in lower-case hex, except `\n`, `\r` and `\t`); other bytes are copied as they are.
    static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(0x22)
        let copied = value.utf8.withContiguousStorageIfAvailable { bytes in
            if !bytes.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
                out.append(contentsOf: bytes)
            } else {
                for byte in bytes { appendEscaped(byte, to: &out) }
            }
        }
        if copied == nil {
            for byte in value.utf8 { appendEscaped(byte, to: &out) }
        }
        out.append(0x22)
    }

    @inline(__always)
    private static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        switch byte {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(0x6E)
        case 0x0D: out.append(0x5C); out.append(0x72)
        case 0x09: out.append(0x5C); out.append(0x74)
        case 0..<0x20:
            let digits: StaticString = "0123456789abcdef"
            out.append(0x5C); out.append(0x75); out.append(0x30); out.append(0x30)
            out.append(digits.utf8Start[Int(byte >> 4)]); out.append(digits.utf8Start[Int(byte & 0x0F)])
        default: out.append(byte)
        }
    }
}
