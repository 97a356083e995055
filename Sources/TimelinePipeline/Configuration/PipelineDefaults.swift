/// The default of every configuration key, in one place: the configuration schema serves them
/// to the daemons, and the settings types start from them, so a daemon built in code (the demo,
/// tests) behaves as one started from the command line.
public enum PipelineDefaults {
    public static let frontend = "tcp://127.0.0.1:5601"
    public static let backend = "tcp://127.0.0.1:5602"
    public static let replay = "tcp://127.0.0.1:5603"
    public static let query = "tcp://127.0.0.1:5604"
    public static let peerListen = "tcp://127.0.0.1:5605"
    public static let peerTimeoutSeconds = 1.0

    public static let fsyncIntervalSeconds = 1.0
    public static let maxMessageBytes = 1 << 20
    public static let sendHighWaterMark = 10_000

    public static let producerWorkers = 1
    public static let producerRate = 0.0
    public static let eventsPerMessage = 64
    public static let connectTimeoutSeconds = 10.0
    public static let acknowledgeTimeoutSeconds = 30.0

    public static let checkpointEvery = 50_000
    public static let checkpointIntervalSeconds = 2.0

    public static let snapshotEveryEvents = 1_000
    public static let snapshotEverySeconds = 30.0
    public static let snapshotKeep = 5

    public static let monitorStatsIntervalSeconds = 10.0
    /// Where the live dashboard serves its page (`dashboard.listen`).
    public static let dashboardListen = "127.0.0.1:8080"
    /// How many recent events the dashboard's feed holds.
    public static let dashboardFeedCapacity = 200
}
