public struct ProducerSettings: Sendable {
    /// The broker's frontend (XSUB) and replay (ROUTER) endpoints.
    public var frontend: String
    public var replay: String
    /// A stable name: the broker tracks each producer's position under it, so a producer restarted
    /// with the same id resumes where the broker's log ends instead of publishing twice.
    public var producerID: String
    /// Events per second for the whole producer (all workers together); nil for as fast as possible.
    public var rate: Double?
    /// How long to wait for the broker to show up before giving up.
    public var connectTimeout: Duration = .seconds(PipelineDefaults.connectTimeoutSeconds)
    /// How long to wait, after the last send, for the broker to have logged everything.
    public var acknowledgeTimeout: Duration = .seconds(PipelineDefaults.acknowledgeTimeoutSeconds)
    /// Messages queued towards the broker before sends wait; with batches of up to 16 KiB, about
    /// 16 MiB at most.
    public var sendHighWaterMark: Int32 = 1_000
    /// Events per message when there is no rate limit (a `WireBatch`); 1 sends each on its own.
    /// With a rate every event goes on its own, as soon as it is due.
    public var eventsPerMessage = PipelineDefaults.eventsPerMessage
    /// The most body bytes a batch carries (a single event may be larger).
    public var maxBatchBytes = 16 << 10
    /// CURVE client keys when security is on.
    public var security: Security?

    public init(frontend: String, replay: String, producerID: String) {
        self.frontend = frontend
        self.replay = replay
        self.producerID = producerID
    }
}
