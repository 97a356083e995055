import Timeline

/// A consumer's position in the broker's sequence, with what it has seen of each producer.
public struct StreamPosition: Sendable, Equatable {
    /// The last broker sequence applied (or skipped by the topic filter).
    public var sequence: UInt64 = 0
    /// The highest producer sequence seen per producer id.
    public var producers: [String: UInt64] = [:]

    public init(sequence: UInt64 = 0, producers: [String: UInt64] = [:]) {
        self.sequence = sequence
        self.producers = producers
    }
}

/// What a consumer stream has done so far.
public struct StreamCounters: Sendable, Equatable {
    public var live: UInt64 = 0
    public var replayed: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var malformed: UInt64 = 0
    public var gapsRepaired: UInt64 = 0
    /// The broker's last sequence, as last heard.
    public var head: UInt64 = 0
}

/// The bookkeeping of a Clone-pattern consumer, without sockets: where it stands, what a message
/// with a given broker sequence means for it, and how far a catch-up from the log has come.
///
/// Broker sequences are consecutive, so a live message is either the next one (apply it), one at
/// or below the position (a repeat: drop it), or one past a gap (fetch the gap from the log first,
/// then apply it). The gap may hold only records of other topics (a filtered consumer); the log
/// says so by how far it scanned.
struct StreamProgress {
    /// What to do with a live message.
    enum Verdict: Equatable {
        case apply
        case duplicate
        /// Fetch `position + 1 ... through` from the log first.
        case gap(through: UInt64)
    }

    private var applied: StreamPosition
    /// The latest producer's id and sequence, kept aside while the same producer goes on (most
    /// messages in a row come from one producer) so applying a message does not touch the
    /// dictionary.
    private var lastProducer = ""
    private var lastProducerSequence: UInt64 = 0
    private(set) var counters = StreamCounters()

    init(position: StreamPosition) {
        applied = position
    }

    /// The last sequence applied or skipped.
    var sequence: UInt64 { applied.sequence }

    /// The position, with the latest producer's sequence folded in.
    var position: StreamPosition {
        var position = applied
        if !lastProducer.isEmpty { position.producers[lastProducer] = max(position.producers[lastProducer] ?? 0, lastProducerSequence) }
        return position
    }

    /// What a live message with broker sequence `sequence` means here. Also notes the sequence as
    /// the head, if it is the highest heard.
    mutating func classify(live sequence: UInt64) -> Verdict {
        heard(head: sequence)
        if sequence <= applied.sequence {
            counters.duplicates += 1
            return .duplicate
        }
        if sequence > applied.sequence + 1 { return .gap(through: sequence - 1) }
        return .apply
    }

    /// Whether a message from the log should still be applied (it is past the position).
    func isNew(_ sequence: UInt64) -> Bool { sequence > applied.sequence }

    /// Records a message as applied.
    mutating func applied(_ sequence: UInt64, producer: String, producerSequence: UInt64, replayed: Bool) {
        applied.sequence = sequence
        if !producer.isEmpty {
            if producer == lastProducer {
                lastProducerSequence = max(lastProducerSequence, producerSequence)
            } else {
                if !lastProducer.isEmpty { applied.producers[lastProducer] = max(applied.producers[lastProducer] ?? 0, lastProducerSequence) }
                lastProducer = producer
                lastProducerSequence = max(applied.producers[producer] ?? 0, producerSequence)
            }
        }
        if replayed { counters.replayed += 1 } else { counters.live += 1 }
    }

    /// Starts over from `position` (a state restored from elsewhere), keeping the counters.
    mutating func reposition(to position: StreamPosition) {
        applied = position
        lastProducer = ""
        lastProducerSequence = 0
    }

    /// Moves the position past records the log scanned without sending (other topics).
    mutating func skip(through sequence: UInt64) {
        applied.sequence = max(applied.sequence, sequence)
    }

    mutating func heard(head: UInt64) {
        counters.head = max(counters.head, head)
    }

    mutating func countMalformed() {
        counters.malformed += 1
    }

    mutating func countRepairedGap() {
        counters.gapsRepaired += 1
    }
}

/// One catch-up from the log: read chunks after the position until it reaches the target (the
/// broker's head when there is none, learnt from the first answer), and stop early when the log
/// has nothing further (the target lies beyond what it holds).
struct CatchUpPlan {
    /// The sequence to reach; nil until the first chunk tells the head.
    private(set) var goal: UInt64?
    /// Where the last chunk left the position, to see whether the next one moved it.
    private var positionBefore: UInt64 = 0
    private(set) var finished = false

    init(target: UInt64?) {
        goal = target
    }

    /// Whether a chunk after `position` is still needed.
    func needsMore(at position: UInt64) -> Bool {
        !finished && (goal.map { position < $0 } ?? true)
    }

    /// Notes a chunk's answer, before its records are applied. Returns the sequence after which
    /// to ask for the next chunk ahead of time, when one will be needed.
    mutating func received(head: UInt64, scannedThrough: UInt64, position: UInt64) -> UInt64? {
        if goal == nil { goal = head }
        positionBefore = position
        return scannedThrough > position && scannedThrough < goal! ? scannedThrough : nil
    }

    /// Notes where applying the chunk left the position; a chunk that moved nothing ends the
    /// catch-up.
    mutating func applied(position: UInt64) {
        if position == positionBefore { finished = true }
    }
}
