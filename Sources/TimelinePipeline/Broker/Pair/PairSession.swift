import Foundation
import Logging
import Timeline
import ZeroMQ

/// Everything a broker of a pair keeps about the pair, inside `BrokerState` (under the broker's
/// lock, used by the loop thread): the failover state machine, the epochs, the two peer sockets,
/// what the active broker holds back for synchronous replication, and where the passive broker is
/// in copying the active one's log.
struct PairSession {
    static let epochFileName = "pair-epochs.json"

    /// Where the passive broker is in copying the active broker's log.
    enum CopyStep: Equatable {
        /// Not copying (active, starting, or the peer is not active).
        case idle
        /// Asked where the active broker's history of this broker's last epoch ends.
        case reconciling(requestID: UInt64)
        /// Waiting for records.
        case fetching(requestID: UInt64)
    }

    /// A `FETCH` the active broker holds until it has records to send or a heartbeat passes.
    struct HeldFetch {
        var envelope: [[UInt8]]
        var requestID: UInt64
        var after: UInt64
        var deadline: ContinuousClock.Instant
    }

    let settings: PairSettings
    let folder: String
    var star: BinaryStar
    var epochs: EpochHistory
    /// This broker's own peer endpoint: the other broker's requests.
    let router: ZMQSocket
    /// Connected to the other broker's peer endpoint: this broker's requests. Replaced by a fresh
    /// one when the peer falls silent, so requests queued for a dead peer are dropped with it.
    private(set) var dealer: ZMQSocket
    private(set) var dealerGeneration = 0
    private let context: ZMQContext
    private let security: Security?
    var window = ReplicationWindow()
    /// Whether records wait for the passive broker (synchronous replication with a peer that has
    /// caught up); otherwise the active broker runs alone.
    var holding = false
    /// The last sequence a subscriber may see: all of the log unless records are held.
    var releasedThrough: UInt64 = 0
    var heldFetch: HeldFetch?
    var copyStep = CopyStep.idle
    /// When the request of `copyStep` was sent: without an answer for two heartbeat intervals
    /// (the reply lost with a reset connection, a request the socket could not take), copying
    /// starts again from `EPOCHEND`.
    var copySent: ContinuousClock.Instant?
    /// The passive broker had every record the active one counted as logged, at the last chunk.
    var inStep = false
    var nextRequestID: UInt64 = 1
    var nextHeartbeat: ContinuousClock.Instant
    var dealerReset = false
    var counters = PairCounters()

    init(settings: PairSettings, folder: String, context: ZMQContext, security: Security?, now: ContinuousClock.Instant) throws {
        self.settings = settings
        self.folder = folder
        self.context = context
        self.security = security
        star = BinaryStar(role: settings.role, peerTimeout: settings.peerTimeout, now: now)
        epochs = try PairSession.loadEpochs(folder: folder)
        router = try ZMQSocket(context: context, type: .router)
        try router.setMaxMessageSize(64 << 10)
        try router.setLinger(milliseconds: 0)
        try PairSession.securePeerServer(router, security: security, settings: settings)
        try bindEndpoint(router, settings.listen, role: "endpoints.peerListen")
        dealer = try PairSession.connectDealer(context: context, security: security, settings: settings)
        nextHeartbeat = now
    }

    /// The endpoint this broker's peer socket is bound to, wildcard port resolved.
    var boundListen: String { (try? router.lastEndpoint) ?? settings.listen }

    func close() {
        router.close()
        dealer.close()
    }

    func status(lastSequence: UInt64) -> PeerStatus {
        PeerStatus(role: settings.role, state: star.state, epoch: epochs.latest, lastSequence: lastSequence)
    }

    mutating func takeRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    /// Drops the connection to a peer that fell silent, with whatever was queued for it.
    mutating func replaceDealer() throws {
        dealer.close()
        dealer = try PairSession.connectDealer(context: context, security: security, settings: settings)
        dealerGeneration += 1
    }

    /// Adds an epoch that starts at `firstSequence` and writes the list before anything is logged in it.
    mutating func beginEpoch(at firstSequence: UInt64) throws(StorageError) -> UInt64 {
        let known = max(epochs.latest, min(star.peer?.epoch ?? 0, EpochHistory.largestEpoch))
        let epoch = EpochHistory.next(after: known, role: settings.role)
        var next = epochs
        // Epochs that began past this log's end (a tail lost before it was synced) describe
        // records this broker no longer has.
        next.forget(after: firstSequence)
        next.begin(epoch, at: firstSequence)
        try PairSession.saveEpochs(next, folder: folder)
        epochs = next
        return epoch
    }

    /// Takes the active broker's list of epochs; returns false, keeping its own, for a list that
    /// cannot be a history.
    mutating func adoptEpochs(_ list: [EpochStart]) throws(StorageError) -> Bool {
        let next = EpochHistory(list)
        guard next.isConsistent else { return false }
        guard next != epochs else { return true }
        try PairSession.saveEpochs(next, folder: folder)
        epochs = next
        return true
    }

    // MARK: - Files and sockets

    static func loadEpochs(folder: String) throws -> EpochHistory {
        let path = folder + "/" + epochFileName
        guard let bytes = try AtomicFile.read(path) else { return EpochHistory() }
        do {
            return try JSONCoding.decode(EpochHistory.self, from: bytes)
        } catch {
            throw PipelineError.state(path: path, reason: "the pair's epoch file cannot be read: \(error)")
        }
    }

    static func saveEpochs(_ history: EpochHistory, folder: String) throws(StorageError) {
        try AtomicFile.write(JSONCoding.encode(history), to: folder + "/" + epochFileName)
    }

    /// With CURVE, the peer endpoint lets in only the other broker's key (a ZAP domain of its own).
    private static func securePeerServer(_ socket: ZMQSocket, security: Security?, settings: PairSettings) throws {
        guard security != nil else { return }
        guard settings.peerPublicKey != nil else { throw SecurityError.missingSetting("security.peerPublicKey") }
        guard let keys = settings.ownPeerKeys else { throw SecurityError.missingSetting("security.peerSecretKey") }
        try socket.setZapDomain(Security.peerZapDomain)
        try socket.setZapEnforceDomain(true)
        try socket.setCurveServer(secretKey: keys.secretKey)
    }

    private static func connectDealer(context: ZMQContext, security: Security?, settings: PairSettings) throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.setMaxMessageSize(64 << 20)
        try socket.setSendHighWaterMark(100)
        // Requests go only to a connection that is up: none queue for a peer that is away, to
        // be answered, or refused, long after.
        try socket.setImmediate(true)
        if security != nil, let keys = settings.ownPeerKeys, let peerKey = settings.peerPublicKey {
            // The broker's own peer certificate is its identity towards the other broker.
            try socket.setCurveClient(publicKey: keys.publicKey, secretKey: keys.secretKey, serverKey: peerKey)
        }
        do {
            try socket.connect(settings.peer)
        } catch {
            socket.close()
            throw PipelineError.endpoint(role: "endpoints.peer", endpoint: settings.peer, reason: "\(error)")
        }
        return socket
    }
}

/// What the pair did, for `STATS`.
struct PairCounters: Codable, Equatable {
    var recordsCopied: UInt64 = 0
    var recordsCut: UInt64 = 0
    var becameActive: UInt64 = 0
    var becamePassive: UInt64 = 0
    /// Producer messages that reached this broker while it was not active, dropped (the producer
    /// resends them to the active broker).
    var droppedWhileNotActive: UInt64 = 0
}

/// The pair's part of `STATS`.
public struct PairStatistics: Codable, Sendable, Equatable {
    public var role: String
    public var state: String
    public var epoch: UInt64
    public var replication: String
    /// Whether records wait for the peer (synchronous replication with a peer in step).
    public var replicating: Bool
    /// Passive broker: it had every record the active one counted as logged at the last chunk, so
    /// it may take over.
    public var inStep: Bool
    public var peerHeard: Bool
    public var peerState: String?
    public var peerLastSequence: UInt64?
    public var recordsCopied: UInt64
    public var recordsCut: UInt64
    public var becameActive: UInt64
    public var becamePassive: UInt64
    public var droppedWhileNotActive: UInt64
}
