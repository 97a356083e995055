/// What went through the broker since it started.
public struct BrokerCounters: Codable, Sendable, Equatable {
    public var accepted: UInt64 = 0
    public var duplicatesDropped: UInt64 = 0
    public var outOfOrderDropped: UInt64 = 0
    public var malformedDropped: UInt64 = 0
    public var replayRequests: UInt64 = 0
    public var recordsReplayed: UInt64 = 0
    /// `FOLLOW` requests answered, and the records they carried (consumers following the log).
    public var followRequests: UInt64 = 0
    public var recordsFollowed: UInt64 = 0
    /// Writes of the log that failed (a full disk, an I/O error): each pauses the producers.
    public var logWriteFailures: UInt64 = 0
    /// Segments of the log deleted by retention.
    public var segmentsDeleted: UInt64 = 0

    public init() {}
}

/// The broker's answer to `STATS`: its log's extent, who is attached, and its counters, as one
/// JSON object (`{"accepted":…,"lastSequence":…,…}`).
public struct BrokerStatistics: Codable, Sendable, Equatable {
    public var lastSequence: UInt64
    /// Producers with a position in the log.
    public var producers: Int
    /// Subscriptions SUB sockets hold now (each subscriber's prefixes counted; the pipeline's own
    /// consumers follow the log with `FOLLOW` instead, and hold none).
    public var subscriptions: Int
    /// Connections on the backend now: per-event messages are published only while there is one.
    public var subscriberConnections: Int?
    public var accepted: UInt64
    public var duplicatesDropped: UInt64
    public var outOfOrderDropped: UInt64
    public var malformedDropped: UInt64
    public var replayRequests: UInt64
    public var recordsReplayed: UInt64
    public var followRequests: UInt64?
    public var recordsFollowed: UInt64?
    /// `FOLLOW` requests held now: consumers that are at the head and wait for records.
    public var followersWaiting: Int?
    /// Rejected messages the dead-letter file could not take (a full disk): counted, not kept.
    public var deadLettersLost: UInt64
    /// Rejected messages written to the dead-letter file since the broker started.
    public var deadLettered: UInt64?
    /// For a broker of a pair: its role, state, epoch and replication (absent for a single broker).
    public var pair: PairStatistics?
    /// Set while the log cannot be written: the broker takes no producer message until it can
    /// (producers wait), and keeps serving consumers and replays.
    public var logPaused: Bool?
    /// Log writes that failed since the broker started.
    public var logWriteFailures: UInt64?
    /// The log on disk: its oldest record, its segments and their bytes.
    public var log: LogStatistics?
    /// The last sequence each durable consumer reported as passed (`CONSUMED`).
    public var consumers: [String: UInt64]?
    /// The last sequence each consumer reported as passed, durable or not, for those heard in the
    /// last 5 minutes (at most 64 names).
    public var reported: [String: UInt64]?
    /// The broker's resident memory, and the space left where its data folder is.
    public var residentBytes: UInt64?
    public var disk: DiskSpace?

    /// Every consumer's last reported position: the durable ones' and the others heard lately,
    /// the later of the two where a name has both.
    public var consumerPositions: [String: UInt64] {
        (consumers ?? [:]).merging(reported ?? [:]) { max($0, $1) }
    }

    public init(lastSequence: UInt64, producers: Int, subscriptions: Int, counters: BrokerCounters, deadLettersLost: UInt64 = 0) {
        self.lastSequence = lastSequence
        self.producers = producers
        self.subscriptions = subscriptions
        accepted = counters.accepted
        duplicatesDropped = counters.duplicatesDropped
        outOfOrderDropped = counters.outOfOrderDropped
        malformedDropped = counters.malformedDropped
        replayRequests = counters.replayRequests
        recordsReplayed = counters.recordsReplayed
        followRequests = counters.followRequests
        recordsFollowed = counters.recordsFollowed
        logWriteFailures = counters.logWriteFailures
        self.deadLettersLost = deadLettersLost
    }
}

/// The extent of the broker's log on disk, in `STATS`.
public struct LogStatistics: Codable, Sendable, Equatable {
    /// The oldest record the log holds (1 until retention deletes segments).
    public var firstSequence: UInt64
    public var segments: Int
    /// The bytes of every segment's records.
    public var bytes: Int64
    /// Segments deleted by retention since the broker started.
    public var segmentsDeleted: UInt64

    public init(firstSequence: UInt64, segments: Int, bytes: Int64, segmentsDeleted: UInt64 = 0) {
        self.firstSequence = firstSequence
        self.segments = segments
        self.bytes = bytes
        self.segmentsDeleted = segmentsDeleted
    }
}
