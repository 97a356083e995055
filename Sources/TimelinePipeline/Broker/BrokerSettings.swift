import Foundation

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

    public init(frontend: String, backend: String, replay: String, dataDirectory: String) {
        self.frontend = frontend
        self.backend = backend
        self.replay = replay
        self.dataDirectory = dataDirectory
    }
}
