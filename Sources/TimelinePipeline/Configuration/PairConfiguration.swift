import Configuration
import Timeline
import ZeroMQ

extension PipelineConfiguration {
    /// The broker pair's settings (`broker.ha`, `endpoints.peer`, `endpoints.peerListen`,
    /// `broker.replication`, `broker.peerTimeoutSeconds`, `security.peerPublicKey`), or nil for a
    /// single broker (`broker.ha` = none).
    public func pairSettings(securityEnabled: Bool) throws -> PairSettings? {
        let ha = try wrap("broker.ha") { try reader.requiredString(forKey: "broker.ha") }
        if ha == "none" { return nil }
        guard let role = PairRole(name: ha) else {
            throw ConfigurationError(file: origin(of: "broker.ha"), key: "broker.ha", reason: "'\(ha)' is not none, primary or backup")
        }
        let peer = try wrap("endpoints.peer") { try reader.requiredString(forKey: "endpoints.peer") }
        guard !peer.isEmpty else {
            throw ConfigurationError(file: origin(of: "endpoints.peer"), key: "endpoints.peer",
                                     reason: "a broker of a pair (broker.ha = \(ha)) needs the other broker's peer endpoint")
        }
        let peerEndpoint = try string("endpoints.peer")
        var settings = PairSettings(role: role, peer: peerEndpoint, listen: try string("endpoints.peerListen"))
        let replication = try wrap("broker.replication") { try reader.requiredString(forKey: "broker.replication") }
        guard let mode = PairSettings.Replication(rawValue: replication) else {
            throw ConfigurationError(file: origin(of: "broker.replication"), key: "broker.replication", reason: "'\(replication)' is not sync or async")
        }
        settings.replication = mode
        settings.peerTimeout = try duration("broker.peerTimeoutSeconds")
        guard settings.peerTimeout >= Duration.milliseconds(100) else {
            throw ConfigurationError(file: origin(of: "broker.peerTimeoutSeconds"), key: "broker.peerTimeoutSeconds",
                                     reason: "the peer timeout must be at least 0.1 s")
        }
        if securityEnabled {
            let publicFile = try string("security.peerPublicKey"), secretFile = try string("security.peerSecretKey")
            guard !publicFile.isEmpty else {
                throw ConfigurationError(file: origin(of: "security.peerPublicKey"), key: "security.peerPublicKey",
                                         reason: "with security on, a broker of a pair needs the other broker's public peer certificate")
            }
            guard !secretFile.isEmpty else {
                throw ConfigurationError(file: origin(of: "security.peerSecretKey"), key: "security.peerSecretKey",
                                         reason: "with security on, a broker of a pair needs its own secret peer certificate")
            }
            settings.peerPublicKey = try CurveCertificate.read(publicFile, needSecret: false).publicKey
            let own = try CurveCertificate.read(secretFile, needSecret: true)
            settings.ownPeerKeys = CurveKeyPair(publicKey: own.publicKey, secretKey: own.secretKey!)
        }
        return settings
    }
}
