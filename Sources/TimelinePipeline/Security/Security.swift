import Foundation
import Logging
import Synchronization
import Timeline
import ZeroMQ

/// Why a daemon cannot have the security it is configured for, or a client was turned away.
public enum SecurityError: Error, CustomStringConvertible {
    case unavailable
    case missingSetting(String)
    case keyFile(path: String, reason: String)
    case authenticationFailed(endpoint: String, detail: String)

    public var description: String {
        switch self {
        case .unavailable: return "security is on, but this libzmq has no CURVE support (zmq_has(\"curve\") is false)"
        case .missingSetting(let key): return "security is on, but '\(key)' names no key file"
        case .keyFile(let path, let reason): return "the key file \(path) \(reason)"
        case .authenticationFailed(let endpoint, let detail):
            return "authentication failed at \(endpoint): \(detail) (is this client's public key on the server's allow list, and the server key right?)"
        }
    }
}

/// Which CURVE files a daemon uses (configuration keys `security.*`).
public struct SecuritySettings: Sendable {
    public var enabled = false
    /// Servers (broker, aggregator query endpoint): their secret certificate.
    public var serverSecretKeyFile: String = ""
    /// Clients: the server's public certificate.
    public var serverPublicKeyFile: String = ""
    /// Clients: their own secret certificate.
    public var clientSecretKeyFile: String = ""
    /// Servers: the folder of client public certificates allowed in.
    public var authorizedKeysFolder: String = ""

    public init() {}
}

/// CURVE for one daemon: loaded and checked at start, so a daemon that cannot have the security it
/// is configured for refuses to start, saying which file and why.
public final class Security: Sendable {
    public static let zapDomain = "timeline"
    /// The ZAP domain of a broker's peer endpoint, where only the other broker of the pair gets in.
    public static let peerZapDomain = "timeline-peer"

    public let serverKeys: CurveKeyPair?
    public let allowed: [CurveKey: String]
    public let clientKeys: CurveKeyPair?
    public let serverPublicKey: CurveKey?

    /// Nil when security is off. `server` and `client` say which roles this daemon plays.
    public static func load(_ settings: SecuritySettings, server: Bool, client: Bool) throws -> Security? {
        guard settings.enabled else { return nil }
        guard zmqHas("curve") else { throw SecurityError.unavailable }
        var serverKeys: CurveKeyPair?
        var allowed: [CurveKey: String] = [:]
        var clientKeys: CurveKeyPair?
        var serverPublicKey: CurveKey?
        if server {
            guard !settings.serverSecretKeyFile.isEmpty else { throw SecurityError.missingSetting("security.serverSecretKey") }
            guard !settings.authorizedKeysFolder.isEmpty else { throw SecurityError.missingSetting("security.authorizedKeys") }
            let contents = try CurveCertificate.read(settings.serverSecretKeyFile, needSecret: true)
            serverKeys = CurveKeyPair(publicKey: contents.publicKey, secretKey: contents.secretKey!)
            allowed = try CurveCertificate.allowList(folder: settings.authorizedKeysFolder)
        }
        if client {
            guard !settings.clientSecretKeyFile.isEmpty else { throw SecurityError.missingSetting("security.clientSecretKey") }
            guard !settings.serverPublicKeyFile.isEmpty else { throw SecurityError.missingSetting("security.serverPublicKey") }
            let own = try CurveCertificate.read(settings.clientSecretKeyFile, needSecret: true)
            clientKeys = CurveKeyPair(publicKey: own.publicKey, secretKey: own.secretKey!)
            serverPublicKey = try CurveCertificate.read(settings.serverPublicKeyFile, needSecret: false).publicKey
        }
        return Security(serverKeys: serverKeys, allowed: allowed, clientKeys: clientKeys, serverPublicKey: serverPublicKey)
    }

    init(serverKeys: CurveKeyPair?, allowed: [CurveKey: String], clientKeys: CurveKeyPair?, serverPublicKey: CurveKey?) {
        self.serverKeys = serverKeys
        self.allowed = allowed
        self.clientKeys = clientKeys
        self.serverPublicKey = serverPublicKey
    }

    /// A socket that others connect to: CURVE server, ZAP domain, and failing closed when no ZAP
    /// handler answers.
    public func configureServer(_ socket: ZMQSocket) throws {
        guard let serverKeys else { return }
        try socket.setZapDomain(Security.zapDomain)
        try socket.setZapEnforceDomain(true)
        try socket.setCurveServer(secretKey: serverKeys.secretKey)
    }

    /// A socket that connects to a server.
    public func configureClient(_ socket: ZMQSocket) throws {
        guard let clientKeys, let serverPublicKey else { return }
        try socket.setCurveClient(publicKey: clientKeys.publicKey, secretKey: clientKeys.secretKey, serverKey: serverPublicKey)
    }

    public var isServer: Bool { serverKeys != nil }
}

/// Configures a server socket when security is on.
func secureServer(_ socket: ZMQSocket, _ security: Security?) throws {
    try security?.configureServer(socket)
}

/// Configures a client socket when security is on.
func secureClient(_ socket: ZMQSocket, _ security: Security?) throws {
    try security?.configureClient(socket)
}
