import Foundation

/// JSON for the files and replies that are not on a hot path (status, `STATS`, `endpoints.json`,
/// the snapshot pointer): Codable types, written with sorted keys so the output is stable.
enum JSONCoding {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of numbers, strings and dictionaries of them cannot fail; should it
        // ever, an empty object is still valid JSON for the reader.
        guard let data = try? encoder.encode(value) else { return Array("{}".utf8) }
        return Array(data)
    }

    static func encodeText<T: Encodable>(_ value: T) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: some Sequence<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
