import CZeroMQ

/// Z85, the printable encoding ZeroMQ uses for CURVE keys (ZeroMQ RFC 32).
public enum Z85 {
    /// The 85 characters of the encoding, in digit order.
    static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// Encodes `bytes` (`zmq_z85_encode`); nil unless the count is a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count / 4 * 5 + 1)
        let encoded = text.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                zmq_z85_encode(out.baseAddress, input.baseAddress, input.count) != nil
            }
        }
        guard encoded else { return nil }
        return String(decoding: text.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes `text` (`zmq_z85_decode`); nil unless its length is a multiple of 5 and every
    /// character is in the Z85 alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 5 == 0, characters.allSatisfy(alphabet.contains) else { return nil }
        var bytes = [UInt8](repeating: 0, count: characters.count / 5 * 4)
        let decoded = bytes.withUnsafeMutableBufferPointer { out in
            zmq_z85_decode(out.baseAddress, text) != nil
        }
        return decoded ? bytes : nil
    }
}

/// A 32-byte CURVE key (public or secret), held in its 40-character Z85 form.
public struct CurveKey: Hashable, Sendable, CustomStringConvertible {
    /// The key as 40 Z85 characters.
    public let z85: String

    /// Accepts exactly 40 valid Z85 characters.
    public init?(z85: String) {
        guard z85.utf8.count == 40, Z85.decode(z85) != nil else { return nil }
        self.z85 = z85
    }

    /// Accepts exactly 32 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32, let text = Z85.encode(bytes) else { return nil }
        self.z85 = text
    }

    /// The key's 32 bytes.
    public var bytes: [UInt8] {
        Z85.decode(z85) ?? []
    }

    /// Only the first characters, so that logging a secret key does not reveal it.
    public var description: String {
        "CurveKey(\(z85.prefix(5))…)"
    }
}

/// A CURVE public key and the secret key it belongs to.
public struct CurveKeyPair: Sendable {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    public init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Makes a fresh random key pair (`zmq_curve_keypair`). Throws `ENOTSUP` when libzmq was built
    /// without CURVE.
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_keypair") { zmq_curve_keypair(&publicText, &secretText) }
        guard let publicKey = CurveKey(z85: z85Text(publicText)),
              let secretKey = CurveKey(z85: z85Text(secretText))
        else { throw ZMQError(code: EINVAL, operation: "zmq_curve_keypair") }
        return CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
    }

    /// Recomputes the public key that belongs to `secretKey` (`zmq_curve_public`).
    public static func derive(fromSecret secretKey: CurveKey) throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        try zmqCall("zmq_curve_public") { zmq_curve_public(&publicText, secretKey.z85) }
        guard let publicKey = CurveKey(z85: z85Text(publicText)) else {
            throw ZMQError(code: EINVAL, operation: "zmq_curve_public")
        }
        return CurveKeyPair(publicKey: publicKey, secretKey: secretKey)
    }
}

/// The text in a NUL-terminated buffer that libzmq filled.
private func z85Text(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

extension ZMQSocket {
    /// Makes this socket a CURVE server with the given secret key (`ZMQ_CURVE_SERVER` = 1, then
    /// `ZMQ_CURVE_SECRETKEY`). Clients must know the matching public key. Set before bind.
    public func setCurveServer(secretKey: CurveKey) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: secretKey.bytes)
    }

    /// Makes this socket a CURVE client (`ZMQ_CURVE_SERVERKEY`, `ZMQ_CURVE_PUBLICKEY`,
    /// `ZMQ_CURVE_SECRETKEY`) of the server whose public key is `serverKey`. Set before connect.
    public func setCurveClient(publicKey: CurveKey, secretKey: CurveKey, serverKey: CurveKey) throws(ZMQError) {
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: serverKey.bytes)
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: publicKey.bytes)
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: secretKey.bytes)
    }

    /// Whether this socket is a CURVE server (`ZMQ_CURVE_SERVER`).
    public var isCurveServer: Bool {
        get throws(ZMQError) { try int32Option(ZMQ_CURVE_SERVER) != 0 }
    }

    /// The socket's `ZMQ_CURVE_PUBLICKEY`; nil when none is set.
    public var curvePublicKey: CurveKey? {
        get throws(ZMQError) { try curveKeyOption(ZMQ_CURVE_PUBLICKEY) }
    }

    /// The socket's `ZMQ_CURVE_SERVERKEY`; nil when none is set.
    public var curveServerKey: CurveKey? {
        get throws(ZMQError) { try curveKeyOption(ZMQ_CURVE_SERVERKEY) }
    }

    private func curveKeyOption(_ option: Int32) throws(ZMQError) -> CurveKey? {
        let bytes = try bytesOption(option, capacity: 32)
        return bytes.allSatisfy { $0 == 0 } ? nil : CurveKey(bytes: bytes)
    }
}
