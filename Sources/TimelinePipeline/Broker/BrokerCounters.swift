import Foundation

/// Counters a daemon keeps about what went through it.
public struct BrokerCounters: Sendable, Equatable {
    public var accepted: UInt64 = 0
    public var duplicatesDropped: UInt64 = 0
    public var outOfOrderDropped: UInt64 = 0
    public var malformedDropped: UInt64 = 0
    public var replayRequests: UInt64 = 0
    public var recordsReplayed: UInt64 = 0
}
