/// A decoder for the exact layout `EventJSON.encode` writes (keys in its order, no spaces), the form
/// every producer of this project sends. It applies the same checks as the general decoder and
/// gives up (nil) at the first byte that does not fit the layout, so the general decoder, with its
/// error messages, handles everything else. It exists because Foundation's JSONSerialization costs
/// tens of microseconds per event on the broker's and the aggregator's hot paths.
enum EventJSONFastPath {
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> TimelineEvent? {
        var reader = Reader(bytes: bytes)
        guard reader.literal("{\"id\":"), let id = reader.string(),
              reader.literal(",\"kind\":"), let kindText = reader.string(), let kind = EventKind(rawValue: kindText),
              reader.literal(",\"date\":"), let dateText = reader.string(), let date = EDTFDate(edtf: dateText),
              reader.literal(",\"from\":"), let from = reader.string().flatMap(code),
              reader.literal(",\"to\":"), let to = reader.string().flatMap(code),
              reader.literal(",\"guest\":"), let guest = reader.optionalString(limit: 500),
              reader.literal(",\"host\":"), let host = reader.optionalString(limit: 500),
              reader.literal(",\"place\":"), let place = reader.optionalString(limit: 500),
              reader.literal(",\"description\":"), let description = reader.optionalString(limit: 4_000),
              reader.literal(",\"cameo\":"), let cameo = reader.optionalString(limit: 4),
              reader.literal(",\"source\":{\"document\":"), let document = reader.string(), !document.isEmpty, document.count <= 1_000,
              reader.literal(",\"section\":"), let section = reader.optionalString(limit: 500),
              reader.literal(",\"line\":"), let line = reader.optionalInteger(),
              reader.literal(",\"row\":"), let row = reader.optionalInteger(),
              reader.literal("}}"), reader.atEnd,
              EventID.isValid(id) else { return nil }
        if let cameo = cameo.value, !(cameo.count >= 2 && cameo.allSatisfy(\.isASCIIDigit)) { return nil }
        return TimelineEvent(id: id, kind: kind, date: date, from: from, to: to, guest: guest.value, host: host.value,
                             place: place.value, description: description.value, cameo: cameo.value,
                             source: Provenance(document: document, section: section.value, line: line.value, row: row.value))
    }

    /// Upper-case ISO codes only, as the general decoder demands.
    private static func code(_ text: String) -> CountryCode? {
        guard text.utf8.count == 2, text.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) else { return nil }
        return CountryCode(text)
    }

    /// A present-or-null value; the outer optional says whether it parsed at all.
    struct Nullable<T> {
        var value: T?
    }

    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool { index == bytes.count }

        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return false }
            let expected = UnsafeBufferPointer(start: text.utf8Start, count: count)
            for offset in 0..<count where bytes[index + offset] != expected[offset] { return false }
            index += count
            return true
        }

        /// A JSON string with the escapes the encoder writes (\" \\ \n \r \t \u00XX); anything else gives up.
        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == 0x22 else { return nil }
            index += 1
            let start = index
            var plain = true
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x22 { break }
                if byte < 0x20 { return nil }
                if byte == 0x5C {
                    plain = false
                    index += 2
                    continue
                }
                index += 1
            }
            guard index < bytes.count else { return nil }
            let end = index
            index += 1
            let raw = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if plain { return String(validating: raw, as: UTF8.self) }
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
                guard position + 1 < raw.count else { return nil }
                switch raw[position + 1] {
                case 0x22: unescaped.append(0x22)
                case 0x5C: unescaped.append(0x5C)
                case 0x6E: unescaped.append(0x0A)
                case 0x72: unescaped.append(0x0D)
                case 0x74: unescaped.append(0x09)
                case 0x75:
                    // Only \u00XX below 0x20, as the encoder writes control characters.
                    guard position + 5 < raw.count, raw[position + 2] == 0x30, raw[position + 3] == 0x30,
                          let high = hex(raw[position + 4]), let low = hex(raw[position + 5]) else { return nil }
                    let value = high << 4 | low
                    guard value < 0x20 else { return nil }
                    unescaped.append(value)
                    position += 6
                    continue
                default: return nil
                }
                position += 2
            }
            return String(validating: unescaped, as: UTF8.self)
        }

        mutating func optionalString(limit: Int) -> Nullable<String>? {
            if literal("null") { return Nullable(value: nil) }
            guard let text = string(), text.count <= limit else { return nil }
            return Nullable(value: text.isEmpty ? nil : text)
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

        private func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: return byte - 0x30
            case 0x61...0x66: return byte - 0x61 + 10
            case 0x41...0x46: return byte - 0x41 + 10
            default: return nil
            }
        }
    }
}
