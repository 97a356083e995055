public struct ProducerSettings: Sendable {
    /// The broker's frontend (XSUB) and replay (ROUTER) endpoints; for a broker pair, both
    /// brokers', paired by position: `frontends[i]` belongs to the broker at `replays[i]`.
    public var frontends: [String]
    public var replays: [String]
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
    /// Ask the broker every second how far it logged while sending, so that the report's
    /// `acknowledged` moves during the run (for a progress display), not only at the end. A pair
    /// and a followed file ask anyway.
    public var tracksAcknowledgements = false
    /// CURVE client keys when security is on.
    public var security: Security?

    /// One broker.
    public init(frontend: String, replay: String, producerID: String) {
        self.init(frontends: [frontend], replays: [replay], producerID: producerID)
    }

    /// One broker, or a pair: the two lists name the same brokers in the same order.
    public init(frontends: [String], replays: [String], producerID: String) {
        self.frontends = frontends
        self.replays = replays
        self.producerID = producerID
    }
}
