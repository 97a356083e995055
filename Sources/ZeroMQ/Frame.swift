/// One part of a multipart ZeroMQ message: an opaque run of bytes.
public struct Frame: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A frame holding the UTF-8 encoding of `string`.
    public init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// The bytes decoded as UTF-8, or nil when they are not valid UTF-8.
    public var string: String? {
        String(validating: bytes, as: UTF8.self)
    }

    public var count: Int { bytes.count }

    public var isEmpty: Bool { bytes.isEmpty }

    /// The text when it is printable UTF-8, otherwise the bytes in hexadecimal (first 64 bytes).
    public var description: String {
        if let text = string, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "\"\(text)\""
        }
        let shown = bytes.prefix(64).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        return bytes.count > 64 ? "0x\(shown)… (\(bytes.count) bytes)" : "0x\(shown)"
    }
}

/// A multipart message: the frames that libzmq delivers together or not at all.
public typealias Message = [Frame]
