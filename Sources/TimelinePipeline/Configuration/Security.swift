import Foundation
import Logging
import Synchronization
import Timeline
import ZeroMQ

/// CURVE key files in the ZeroMQ certificate style (as czmq writes them): a public certificate
/// `NAME.key` with the public key, and a secret certificate `NAME.key_secret` with both keys, only
/// readable by its owner.
public enum CurveCertificate {
    public struct Contents: Sendable {
        public var publicKey: CurveKey
        public var secretKey: CurveKey?
    }

    /// Writes `NAME.key` and `NAME.key_secret` into `folder`; returns their paths.
    public static func write(_ pair: CurveKeyPair, name: String, folder: String) throws -> (publicFile: String, secretFile: String) {
        try AtomicFile.prepareFolder(folder)
        let stamp = ISO8601DateFormatter().string(from: Date())
        let publicFile = (folder as NSString).appendingPathComponent("\(name).key")
        let secretFile = (folder as NSString).appendingPathComponent("\(name).key_secret")
        let metadata = "metadata\n    name = \"\(name)\"\ncurve\n    public-key = \"\(pair.publicKey.z85)\"\n"
        try AtomicFile.write("#   ****  Generated on \(stamp) by timeline  ****\n#   ZeroMQ CURVE Public Certificate\n#   Exchange securely, or use a secure mechanism to verify the contents\n#   of this file after exchange. Store public certificates in your home\n#   directory, in the .curve subdirectory.\n\n" + metadata,
                             to: publicFile)
        try AtomicFile.write("#   ****  Generated on \(stamp) by timeline  ****\n#   ZeroMQ CURVE **Secret** Certificate\n#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n" + metadata + "    secret-key = \"\(pair.secretKey.z85)\"\n",
                             to: secretFile)
        guard chmod(secretFile, 0o600) == 0 else { throw StorageError(path: secretFile, operation: "chmod") }
        return (publicFile, secretFile)
    }

    /// Reads a certificate; with `needSecret`, it must hold the secret key too, and that key must
    /// belong to the public key.
    public static func read(_ path: String, needSecret: Bool) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecurityError.keyFile(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw SecurityError.keyFile(path: path, reason: "is not text") }
        var publicText: String?
        var secretText: String?
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if key == "public-key" { publicText = value }
            if key == "secret-key" { secretText = value }
        }
        guard let publicText else { throw SecurityError.keyFile(path: path, reason: "holds no public-key") }
        guard let publicKey = CurveKey(z85: publicText) else { throw SecurityError.keyFile(path: path, reason: "its public-key is not a 40-character Z85 key") }
        var secretKey: CurveKey?
        if let secretText {
            guard let key = CurveKey(z85: secretText) else { throw SecurityError.keyFile(path: path, reason: "its secret-key is not a 40-character Z85 key") }
            guard (try? CurveKeyPair.derive(fromSecret: key))?.publicKey == publicKey else {
                throw SecurityError.keyFile(path: path, reason: "its secret-key does not belong to its public-key")
            }
            secretKey = key
        }
        if needSecret, secretKey == nil { throw SecurityError.keyFile(path: path, reason: "holds no secret-key (a .key_secret file is needed)") }
        return Contents(publicKey: publicKey, secretKey: secretKey)
    }

    /// Every public key in the certificates (`*.key`) of a folder: the allow list.
    public static func allowList(folder: String) throws -> [CurveKey: String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
              let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw SecurityError.keyFile(path: folder, reason: "is not a readable folder of public certificates")
        }
        var keys: [CurveKey: String] = [:]
        for name in names.sorted() where name.hasSuffix(".key") {
            let path = (folder as NSString).appendingPathComponent(name)
            keys[try read(path, needSecret: false).publicKey] = String(name.dropLast(4))
        }
        return keys
    }
}

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

/// The ZAP handler (RFC 27) of a daemon's context: lets in CURVE clients whose public key is on
/// the allow list, and logs every client it turns away with its key and address.
public final class ZAPAuthenticator: SocketLoop {
    let allowed: [CurveKey: String]
    let logger: Logger
    let socket: ZMQSocket
    /// Handshakes let in and turned away, read by other threads.
    private let tally = Mutex((accepted: 0, rejected: 0))

    /// Binds `inproc://zeromq.zap.01`; call before the server sockets bind.
    public init(context: ZMQContext, allowed: [CurveKey: String], logger: Logger) throws {
        self.allowed = allowed
        self.logger = logger
        socket = try ZMQSocket(context: context, type: .rep)
        try socket.setLinger(milliseconds: 0)
        try socket.bind("inproc://zeromq.zap.01")
    }

    public var counts: (accepted: Int, rejected: Int) { tally.withLock { $0 } }

    public func runLoop(stopper: LoopStopper) throws {
        defer { socket.close() }
        var poller = Poller()
        let zapIndex = poller.add(socket)
        let stopIndex = poller.add(stopper.receiver)
        while true {
            let ready = try poller.poll(timeoutMilliseconds: -1)
            if ready.contains(where: { $0.index == stopIndex }) { return }
            if ready.contains(where: { $0.index == zapIndex }), let request = try socket.receive(dontWait: true) {
                try socket.send(answer(request.map(\.bytes)))
            }
        }
    }

    /// `version, request id, domain, address, identity, mechanism, credentials…` ->
    /// `version, request id, status code, status text, user id, metadata`.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
        guard frames.count >= 6 else {
            return [Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let requestID = frames[1]
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard mechanism == "CURVE", frames.count >= 7, let key = CurveKey(bytes: frames[6]) else {
            tally.withLock { $0.rejected += 1 }
            logger.warning("Rejected a client that does not use CURVE", metadata: ["client.address": "\(address)", "zap.mechanism": "\(mechanism)"])
            return reply("400", "CURVE required")
        }
        if let name = allowed[key] {
            tally.withLock { $0.accepted += 1 }
            logger.debug("Accepted a client", metadata: ["client.address": "\(address)", "client.key": "\(key.z85)", "client.name": "\(name)"])
            return reply("200", "OK", user: name)
        }
        tally.withLock { $0.rejected += 1 }
        logger.warning("Rejected a client whose key is not on the allow list", metadata: [
            "client.address": "\(address)", "client.key": "\(key.z85)",
        ])
        return reply("400", "key not allowed")
    }
}

/// Watches a client socket's handshakes, so that a rejected client says so instead of waiting in
/// silence for a server that will never let it in.
public final class HandshakeWatch: Sendable {
    let monitor: SocketMonitor
    let endpoint: String

    public init(socket: ZMQSocket, endpoint: String) throws {
        self.endpoint = endpoint
        monitor = try socket.monitor(events: [.handshakeFailedAuth, .handshakeFailedNoDetail, .handshakeFailedProtocol])
    }

    /// Throws when a handshake has failed since the last check; never blocks.
    public func check() throws {
        while let event = try monitor.next(timeoutMilliseconds: 0) {
            switch event.kind {
            case .handshakeFailedAuth:
                throw SecurityError.authenticationFailed(endpoint: endpoint, detail: "the server refused this client (ZAP status \(event.value))")
            case .handshakeFailedProtocol, .handshakeFailedNoDetail:
                throw SecurityError.authenticationFailed(endpoint: endpoint, detail: "the security handshake failed (\(event.kind), \(event.value))")
            default:
                continue
            }
        }
    }

    public func close() {
        monitor.close()
    }
}
