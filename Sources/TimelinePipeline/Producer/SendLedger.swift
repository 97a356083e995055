/// What a producer worker did.
public struct ProducerReport: Sendable, Equatable {
    public var producerID: String
    public var sent: UInt64 = 0
    public var resent: UInt64 = 0
    public var acknowledged: UInt64 = 0
    public var reconnects: Int = 0

    public init(producerID: String) {
        self.producerID = producerID
    }
}

/// A producer's account of its events by producer sequence (1, 2, 3…): which one goes next, the
/// highest ever handed to the socket, and what the broker acknowledged. After a reconnect the
/// producer resumes from the broker's word, not from its own: events sent after what the broker
/// logged are sent again (and counted as resent), never skipped.
struct SendLedger: Equatable {
    /// The producer sequence of the last event handed over; the next event is `next + 1`, and
    /// `Int(next)` is its index in the supply.
    private(set) var next: UInt64
    /// The highest producer sequence ever handed over.
    private(set) var highestSent: UInt64
    private(set) var report: ProducerReport

    /// Starts after `logged`, the last producer sequence the broker has of this producer.
    init(producerID: String, logged: UInt64) {
        next = logged
        highestSent = logged
        report = ProducerReport(producerID: producerID)
        report.acknowledged = logged
    }

    /// Events `first...last` were handed to the socket.
    mutating func sent(_ first: UInt64, through last: UInt64) {
        let repeated = highestSent >= first ? min(last, highestSent) - first + 1 : 0
        report.resent += repeated
        report.sent += (last - first + 1) - repeated
        highestSent = max(highestSent, last)
        next = last
    }

    /// The broker reconnected and has logged through `logged`: go on after it. Returns whether
    /// events that were sent went missing on the way.
    mutating func resume(after logged: UInt64) -> Bool {
        report.reconnects += 1
        next = logged
        report.acknowledged = logged
        return logged < highestSent
    }

    /// The broker has logged through `logged`.
    mutating func acknowledged(_ logged: UInt64) {
        report.acknowledged = logged
    }
}
