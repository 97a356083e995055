/// A reader for the exact layout `EventJSON.encode` writes (keys in its order, no spaces), the form
/// every producer of this project sends. It applies the same checks as the general decoder and gives
/// up (nil) at the first byte that does not fit the layout, so the general decoder, with its error
/// messages, handles everything else.
///
/// It works in two steps: `scan` checks the whole body and records where each value lies, without
/// making a single `String`; then `decode` builds the event, or `summary` takes only what the
/// aggregator counts. The broker validates with `scan` alone. Foundation's JSONSerialization costs
/// tens of microseconds per event; a scan costs a few hundred nanoseconds.
enum EventJSONFastPath {
    /// Where one JSON string value lies in the body: the bytes between the quotes, and whether they
    /// hold escapes to undo. `nil` spans (JSON `null`) are modelled by the optional around a `Span`.
    struct Span {
        var start: Int
        var end: Int
        var escaped: Bool
        var isEmpty: Bool { start == end }
    }

    /// A body that fits the layout and passed every check, with the positions of its values.
    struct Fields {
        var id: Span
        var kind: EventKind
        var date: EDTFDate
        var from: CountryCode
        var to: CountryCode
        /// Where the kind and the two codes lie: their bytes are the spellings the topic must hold.
        var kindSpan: Span
        var fromSpan: Span
        var toSpan: Span
        var guest: Span?
        var host: Span?
        var place: Span?
        var description: Span?
        var cameo: Span?
        var document: Span
        var section: Span?
        var line: Int?
        var row: Int?
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> TimelineEvent? {
        scan(bytes).map { decode(bytes, $0) }
    }

    /// The event of a body `scan` accepted.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ fields: Fields) -> TimelineEvent {
        func text(_ span: Span) -> String { string(bytes, span) }
        func optional(_ span: Span?) -> String? {
            guard let span, !span.isEmpty else { return nil }
            return string(bytes, span)
        }
        return TimelineEvent(id: text(fields.id), kind: fields.kind, date: fields.date, from: fields.from, to: fields.to,
                             guest: optional(fields.guest), host: optional(fields.host), place: optional(fields.place),
                             description: optional(fields.description), cameo: optional(fields.cameo),
                             source: Provenance(document: text(fields.document), section: optional(fields.section),
                                                line: fields.line, row: fields.row))
    }

    /// What the aggregator needs of a body `scan` accepted.
    static func summary(_ bytes: UnsafeBufferPointer<UInt8>, _ fields: Fields) -> EventSummary {
        // Ids are plain ASCII (checked), so they never hold escapes.
        let key = EventKey(idBytes: UnsafeBufferPointer(rebasing: bytes[fields.id.start..<fields.id.end]))
        let fact = fields.kind.tellsState ? StandingFact(decode(bytes, fields)) : nil
        return EventSummary(key: key, kind: fields.kind, date: fields.date, from: fields.from, to: fields.to, fact: fact)
    }

    static func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Fields? {
        var reader = Reader(bytes: bytes)
        guard reader.literal("{\"id\":"), let id = reader.string(limit: 64), isValidID(bytes, id),
              reader.literal(",\"kind\":"), let kindSpan = reader.string(limit: 32), let kind = eventKind(bytes, kindSpan),
              reader.literal(",\"date\":"), let dateSpan = reader.string(limit: 64), !dateSpan.escaped,
              let date = EDTFDate(edtfBytes: UnsafeBufferPointer(rebasing: bytes[dateSpan.start..<dateSpan.end])),
              reader.literal(",\"from\":"), let fromSpan = reader.string(limit: 2), let from = code(bytes, fromSpan),
              reader.literal(",\"to\":"), let toSpan = reader.string(limit: 2), let to = code(bytes, toSpan),
              reader.literal(",\"guest\":"), let guest = reader.optionalString(limit: 500),
              reader.literal(",\"host\":"), let host = reader.optionalString(limit: 500),
              reader.literal(",\"place\":"), let place = reader.optionalString(limit: 500),
              reader.literal(",\"description\":"), let description = reader.optionalString(limit: 4_000),
              reader.literal(",\"cameo\":"), let cameo = reader.optionalString(limit: 4),
              reader.literal(",\"source\":{\"document\":"), let document = reader.string(limit: 1_000), !document.isEmpty,
              reader.literal(",\"section\":"), let section = reader.optionalString(limit: 500),
              reader.literal(",\"line\":"), let line = reader.optionalInteger(),
              reader.literal(",\"row\":"), let row = reader.optionalInteger(),
              reader.literal("}}"), reader.atEnd else { return nil }
        if let cameo = cameo.value, !cameo.isEmpty {
            // 2 to 4 ASCII digits (an escape would not be a digit).
            guard !cameo.escaped, cameo.end - cameo.start >= 2,
                  bytes[cameo.start..<cameo.end].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        }
        return Fields(id: id, kind: kind, date: date, from: from, to: to, kindSpan: kindSpan, fromSpan: fromSpan, toSpan: toSpan,
                      guest: guest.value, host: host.value, place: place.value,
                      description: description.value, cameo: cameo.value, document: document, section: section.value,
                      line: line.value, row: row.value)
    }

    /// Whether the body's topic frame is the event's own `kind.FROM.TO`. The kind's and codes' bytes
    /// in the body are their exact spellings (`scan` matched them unescaped), so the topic is
    /// compared with those bytes.
    static func topicMatches(_ topic: UnsafeRawBufferPointer, _ bytes: UnsafeBufferPointer<UInt8>, _ fields: Fields) -> Bool {
        let kindStart = fields.kindSpan.start, kindCount = fields.kindSpan.end - fields.kindSpan.start
        guard topic.count == kindCount + 6 else { return false }
        for offset in 0..<kindCount where topic[offset] != bytes[kindStart + offset] { return false }
        let from = fields.fromSpan.start, to = fields.toSpan.start
        return topic[kindCount] == 0x2E && topic[kindCount + 1] == bytes[from] && topic[kindCount + 2] == bytes[from + 1]
            && topic[kindCount + 3] == 0x2E && topic[kindCount + 4] == bytes[to] && topic[kindCount + 5] == bytes[to + 1]
    }

    // MARK: - Values

    /// The string a span stands for, with escapes undone. The bytes were checked as UTF-8 by `scan`.
    static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ span: Span) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[span.start..<span.end])
        guard span.escaped else { return String(decoding: raw, as: UTF8.self) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(raw.count)
        var position = 0
        while position < raw.count {
            let byte = raw[position]
            guard byte == 0x5C else {
                unescaped.append(byte)
                position += 1
                continue
            }
            switch raw[position + 1] {
            case 0x22: unescaped.append(0x22)
            case 0x5C: unescaped.append(0x5C)
            case 0x6E: unescaped.append(0x0A)
            case 0x72: unescaped.append(0x0D)
            case 0x74: unescaped.append(0x09)
            default:
                // \u00XX, checked by the scan.
                unescaped.append(hex(raw[position + 4])! << 4 | hex(raw[position + 5])!)
                position += 6
                continue
            }
            position += 2
        }
        return String(decoding: unescaped, as: UTF8.self)
    }

    private static func isValidID(_ bytes: UnsafeBufferPointer<UInt8>, _ span: Span) -> Bool {
        guard !span.escaped, !span.isEmpty else { return false }
        return idBytes.withUnsafeBufferPointer { allowed in
            var valid = true
            for index in span.start..<span.end { valid = valid && allowed[Int(bytes[index])] }
            return valid
        }
    }

    /// Which bytes an id may hold (`EventID.isIDByte`), as a table.
    private static let idBytes: [Bool] = (0..<256).map { EventID.isIDByte(UInt8($0)) }

    private static func eventKind(_ bytes: UnsafeBufferPointer<UInt8>, _ span: Span) -> EventKind? {
        guard !span.escaped else { return nil }
        let count = span.end - span.start
        guard count > 0 else { return nil }
        let first = bytes[span.start]
        for (kind, spelling) in kindSpellings where spelling.count == count && spelling[0] == first {
            var equal = true
            for offset in 1..<count where spelling[offset] != bytes[span.start + offset] { equal = false }
            if equal { return kind }
        }
        return nil
    }

    private static let kindSpellings: [(EventKind, [UInt8])] = EventKind.allCases.map { ($0, Array($0.rawValue.utf8)) }

    /// Upper-case ISO codes only, as the general decoder demands.
    private static func code(_ bytes: UnsafeBufferPointer<UInt8>, _ span: Span) -> CountryCode? {
        guard !span.escaped, span.end - span.start == 2 else { return nil }
        return CountryCode(uppercaseASCII: bytes[span.start], bytes[span.start + 1])
    }

    static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: return byte - 0x30
        case 0x61...0x66: return byte - 0x61 + 10
        case 0x41...0x46: return byte - 0x41 + 10
        default: return nil
        }
    }

    /// A present-or-null value; the outer optional says whether it parsed at all.
    struct Nullable<T> {
        var value: T?
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool { index == bytes.count }

        @inline(__always)
        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            let expected = UnsafeRawPointer(text.utf8Start), here = UnsafeRawPointer(bytes.baseAddress! + index)
            var offset = 0
            while count - offset >= 8 {
                guard here.loadUnaligned(fromByteOffset: offset, as: UInt64.self) == expected.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                else { return false }
                offset += 8
            }
            while offset < count {
                guard here.load(fromByteOffset: offset, as: UInt8.self) == expected.load(fromByteOffset: offset, as: UInt8.self) else { return false }
                offset += 1
            }
            index += count
            return true
        }

        /// A JSON string with the escapes the encoder writes (\" \\ \n \r \t \u00XX below 0x20),
        /// valid UTF-8, of at most `limit` characters; anything else gives up.
        ///
        /// The limit is checked on bytes, an upper bound of the characters: a longer value of few
        /// enough characters (multi-byte text near the limit) goes to the general decoder.
        mutating func string(limit: Int) -> Span? {
            guard index < bytes.count, bytes[index] == 0x22 else { return nil }
            index += 1
            let start = index
            var escaped = false
            var ascii = true
            let count = bytes.count
            let base = UnsafeRawPointer(bytes.baseAddress!)
            while index < count {
                // Eight bytes at a time while none of them needs a look (a quote, a backslash, a
                // control character or a byte above 0x7F); else straight to the first that does.
                if count - index >= 8 {
                    let special = Reader.specialBytes(UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
                    if special == 0 {
                        index += 8
                        continue
                    }
                    index += special.trailingZeroBitCount >> 3
                }
                let byte = bytes[index]
                if byte == 0x22 { break }
                if byte < 0x20 { return nil }
                if byte >= 0x80 { ascii = false }
                if byte == 0x5C {
                    guard index + 1 < bytes.count else { return nil }
                    switch bytes[index + 1] {
                    case 0x22, 0x5C, 0x6E, 0x72, 0x74:
                        index += 2
                    case 0x75:
                        guard index + 5 < bytes.count, bytes[index + 2] == 0x30, bytes[index + 3] == 0x30,
                              let high = EventJSONFastPath.hex(bytes[index + 4]), let low = EventJSONFastPath.hex(bytes[index + 5]),
                              high << 4 | low < 0x20 else { return nil }
                        index += 6
                    default:
                        return nil
                    }
                    escaped = true
                    continue
                }
                index += 1
            }
            guard index < bytes.count else { return nil }
            let end = index
            index += 1
            guard end - start <= limit else { return nil }
            if !ascii, !UTF8Validation.isValid(UnsafeBufferPointer(rebasing: bytes[start..<end])) { return nil }
            return Span(start: start, end: end, escaped: escaped)
        }

        /// Eight bytes, the first in the lowest bits: zero when none is a quote, a backslash, below
        /// 0x20 or above 0x7F; else the lowest set bit is the high bit of the first such byte. (A
        /// byte's high bit is set in `(x - 0x01…) & ~x` when x is 0, or by the borrow of a lower
        /// byte that was 0: never below the first match, so the lowest one is exact.)
        @inline(__always)
        static func specialBytes(_ word: UInt64) -> UInt64 {
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            func zeroBytes(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }
            let quote = zeroBytes(word ^ (ones &* 0x22))
            let backslash = zeroBytes(word ^ (ones &* 0x5C))
            // Below 0x20: subtracting 0x20 borrows (the high bit is clear, so ~word keeps it).
            let control = (word &- ones &* 0x20) & ~word & highs
            return quote | backslash | control | (word & highs)
        }

        mutating func optionalString(limit: Int) -> Nullable<Span>? {
            if literal("null") { return Nullable(value: nil) }
            guard let span = string(limit: limit) else { return nil }
            return Nullable(value: span.isEmpty ? nil : span)
        }

        mutating func optionalInteger() -> Nullable<Int>? {
            if literal("null") { return Nullable(value: nil) }
            var value = 0
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39, index - start < 15 {
                value = value * 10 + Int(bytes[index] - 0x30)
                index += 1
            }
            guard index > start, index < bytes.count, bytes[index] == 0x2C || bytes[index] == 0x7D else { return nil }
            // A leading zero is not JSON.
            if bytes[start] == 0x30, index - start > 1 { return nil }
            return Nullable(value: value)
        }
    }
}

/// UTF-8 validation without building a string (RFC 3629: no overlong forms, no surrogates, nothing
/// above U+10FFFF).
enum UTF8Validation {
    static func isValid(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return false
            }
            guard index + length <= count else { return false }
            let second = bytes[index + 1]
            guard second >= low, second <= high else { return false }
            for offset in 2..<max(2, length) where bytes[index + offset] & 0xC0 != 0x80 { return false }
            index += length
        }
        return true
    }
}
