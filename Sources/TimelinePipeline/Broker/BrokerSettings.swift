import Foundation
import Timeline
import ZeroMQ

/// Where the broker listens and how it treats messages.
public struct BrokerSettings: Sendable {
    /// Producers connect here (XSUB).
    public var frontend: String
    /// Consumers subscribe here (XPUB).
    public var backend: String
    /// Replays and producer positions (ROUTER).
    public var replay: String
    public var dataDirectory: String
    public var maxMessageBytes = Int64(PipelineDefaults.maxMessageBytes)
    /// Per-subscriber queue on the backend; a subscriber that falls this far behind loses live
    /// messages (and then replays them) instead of stalling everyone.
    public var sendHighWaterMark = Int32(PipelineDefaults.sendHighWaterMark)
    /// Messages from producers queued before they are made to wait (producers never drop). A
    /// message may be a batch of up to 16 KiB, so this bounds the queue near 4 MiB.
    public var receiveHighWaterMark: Int32 = 256
    /// A segment of the log is closed at this size and the next batch starts a new one.
    public var segmentBytes = EventLog.defaultSegmentBytes
    /// When whole old segments of the log are deleted.
    public var retention = RetentionSettings()
    public var fsyncInterval: Duration = .seconds(PipelineDefaults.fsyncIntervalSeconds)
    /// Dead peers on the data sockets are found by TCP keepalive: probes after this many idle
    /// seconds, every 2 s, three unanswered and the connection is dropped. Not ZMTP heartbeats:
    /// with libzmq 4.3.4 a heartbeat timeout on a connection whose reader has stopped reading (a
    /// full receive queue, a consumer busy catching up) leads to an assertion failure,
    /// `_input_stopped` in stream_engine_base.cpp (libzmq issues 3937 and 4767).
    public var keepaliveIdleSeconds: Int32 = 10
    /// Largest replay batch, in records.
    public var maxReplayBatch: Int = 2_000
    /// The most records one `CHUNK` reply carries (it also stops near 1 MiB).
    public var maxChunkRecords: Int = 20_000
    /// CURVE on all three sockets when set (the ZAP handler must be running in the same context).
    public var security: Security?
    /// Where the broker's figures go for `/metrics`; nil when metrics are off.
    public var metrics: BrokerMetrics?
    /// Set for a broker of a pair.
    public var pair: PairSettings?

    public init(frontend: String, backend: String, replay: String, dataDirectory: String) {
        self.frontend = frontend
        self.backend = backend
        self.replay = replay
        self.dataDirectory = dataDirectory
    }
}

/// How a broker of a pair replicates its log and watches its peer (`broker.ha` and friends).
public struct PairSettings: Sendable {
    public enum Replication: String, Sendable, Codable {
        /// A record counts as logged (published, acknowledged to its producer) once both brokers
        /// have written it; while the peer is away or catching up, the active broker runs alone.
        case sync
        /// Records count as logged once the active broker has written them; the passive broker
        /// copies them as fast as it can. A failover may lose what it had not copied yet.
        case async
    }

    public var role: PairRole
    /// The other broker's peer endpoint, which this broker connects to.
    public var peer: String
    /// This broker's own peer endpoint, which the other one connects to.
    public var listen: String
    public var replication: Replication = .sync
    /// How long the peer may be silent before it counts as gone (Binary Star's timeout).
    public var peerTimeout: Duration = .seconds(PipelineDefaults.peerTimeoutSeconds)
    /// With CURVE: the other broker's public peer key, the only key let in on the peer endpoint.
    public var peerPublicKey: CurveKey?
    /// With CURVE: this broker's own peer key pair, its identity towards the other broker. Not the
    /// key clients know (the pair shares that one, `security.serverSecretKey`): each broker of the
    /// pair has its own, so no other holder of the service's key can pose as a broker of the pair.
    public var ownPeerKeys: CurveKeyPair?
    /// Held records beyond this make the active broker stop waiting for a slow peer and run alone
    /// until it has caught up again.
    public var maxHeldBytes = 64 << 20

    public init(role: PairRole, peer: String, listen: String) {
        self.role = role
        self.peer = peer
        self.listen = listen
    }

    /// How often each broker tells the other its state.
    public var heartbeatInterval: Duration { max(.milliseconds(20), peerTimeout / 5) }
}

/// When the broker deletes old segments of its log (`broker.retention.*`): by the log's size, by
/// the age of a segment's newest record, or both; with `keepUnread`, never a record one of
/// `consumers` has not yet reported as passed.
public struct RetentionSettings: Sendable, Equatable {
    /// Delete the oldest segments while the log's records take more than this.
    public var bytes: Int64?
    /// Delete a segment once its newest record is older than this.
    public var seconds: Double?
    public var keepUnread = false
    /// The durable consumers whose positions hold retention back, by the names they report.
    public var consumers: [String] = []

    public init(bytes: Int64? = nil, seconds: Double? = nil, keepUnread: Bool = false, consumers: [String] = []) {
        self.bytes = bytes
        self.seconds = seconds
        self.keepUnread = keepUnread
        self.consumers = consumers
    }

    /// Whether anything is ever deleted.
    public var deletes: Bool { bytes != nil || seconds != nil }
}
