import Foundation
import Logging
import Timeline
import ZeroMQ

/// What one broker answered to `STATS` (or why it did not).
public struct BrokerReading: Codable, Sendable, Equatable {
    public var endpoint: String
    public var answered: Bool
    public var error: String?
    public var statistics: BrokerStatistics?
    /// When the answer came (`monotonicSeconds()`): rates divide by the time between two answers,
    /// not by the time meant between the readings (asking others in between takes time too).
    public var readAt: Double?

    public init(endpoint: String, answered: Bool, error: String? = nil, statistics: BrokerStatistics? = nil, readAt: Double? = nil) {
        self.endpoint = endpoint
        self.answered = answered
        self.error = error
        self.statistics = statistics
        self.readAt = readAt
    }
}

extension BrokerReading {
    /// Asks the broker at `endpoint` for `STATS`, once, waiting at most `timeout`. Blocking: from
    /// a thread of its own.
    public static func read(_ endpoint: String, context: ZMQContext, security: Security?, timeout: Duration, logger: Logger) -> BrokerReading {
        do {
            let client = try ControlClient(context: context, endpoints: [endpoint], role: "endpoints.replay", security: security,
                                           retry: .once(timeout: timeout), logger: logger)
            defer { client.close() }
            guard case .stats(let json)? = try client.call(BrokerCommand.stats, answer: BrokerAnswer.self) else {
                return BrokerReading(endpoint: endpoint, answered: true, error: "an unexpected answer to STATS")
            }
            return BrokerReading(endpoint: endpoint, answered: true, statistics: try JSONCoding.decode(BrokerStatistics.self, from: json),
                                 readAt: monotonicSeconds())
        } catch {
            return BrokerReading(endpoint: endpoint, answered: false, error: "\(error)")
        }
    }
}

extension AggregatorReading {
    /// Asks the aggregator at `endpoint` for `STATUS`, once, waiting at most `timeout`.
    public static func read(_ endpoint: String, context: ZMQContext, security: Security?, timeout: Duration, logger: Logger) -> AggregatorReading {
        do {
            let client = try AggregatorClient(context: context, endpoint: endpoint, security: security, timeout: timeout, logger: logger)
            defer { client.close() }
            return AggregatorReading(endpoint: endpoint, status: try client.status(), readAt: monotonicSeconds())
        } catch {
            return AggregatorReading(endpoint: endpoint, error: "\(error)")
        }
    }
}

/// What the aggregator answered to `STATUS` (or why it did not).
public struct AggregatorReading: Codable, Sendable, Equatable {
    public var endpoint: String
    public var error: String?
    public var status: AggregatorStatus?
    public var readAt: Double?

    public init(endpoint: String, error: String? = nil, status: AggregatorStatus? = nil, readAt: Double? = nil) {
        self.endpoint = endpoint
        self.error = error
        self.status = status
        self.readAt = readAt
    }
}

/// The whole pipeline at a glance, for `timeline status`: each broker, the aggregator, every
/// consumer the brokers heard from, rates from two readings, and what is wrong. Pure: the
/// readings come from the command.
public struct PipelineHealth: Codable, Sendable, Equatable {
    /// When something is wrong enough for a health check to fail.
    public struct Limits: Sendable, Equatable {
        /// A consumer further behind than this many events is falling behind.
        public var maxLag: UInt64 = 100_000
        /// A data folder's disk with less than this share free is filling.
        public var minDiskFree: Double = 0.10
        /// The name the aggregator reports its position under (`aggregator.consumerName`).
        public var aggregatorName = "aggregator"

        public init(maxLag: UInt64 = 100_000, minDiskFree: Double = 0.10, aggregatorName: String = "aggregator") {
            self.maxLag = maxLag
            self.minDiskFree = minDiskFree
            self.aggregatorName = aggregatorName
        }
    }

    public struct Broker: Codable, Sendable, Equatable {
        public var endpoint: String
        public var answered: Bool
        public var error: String?
        /// `single`, or the pair's state (`active`, `passive`, …).
        public var state: String?
        public var acceptedPerSecond: Double?
        public var statistics: BrokerStatistics?
    }

    public struct Consumer: Codable, Sendable, Equatable {
        public var name: String
        /// The last sequence it reported as passed (`CONSUMED`: checkpointed, snapshotted).
        public var position: UInt64
        public var lag: UInt64
        public var perSecond: Double?
    }

    public struct Aggregator: Codable, Sendable, Equatable {
        public var endpoint: String
        public var answered: Bool
        public var error: String?
        public var eventsPerSecond: Double?
        public var status: AggregatorStatus?
    }

    public var healthy: Bool
    public var brokers: [Broker]
    public var aggregator: Aggregator
    public var consumers: [Consumer]
    public var problems: [String]

    /// Assesses `first` (and `second`, taken `interval` seconds later, for rates; the later one
    /// is the one judged).
    public static func assess(first: (brokers: [BrokerReading], aggregator: AggregatorReading),
                              second: (brokers: [BrokerReading], aggregator: AggregatorReading)?, interval: Double,
                              limits: Limits) -> PipelineHealth {
        let now = second ?? first
        var problems: [String] = []
        /// Per second between two answers: timed by when each came when known, else `interval`.
        func rate(_ before: UInt64?, _ after: UInt64?, from: Double?, to: Double?) -> Double? {
            guard second != nil, let before, let after, after >= before else { return nil }
            let seconds = from.flatMap { from in to.map { $0 - from } } ?? interval
            return seconds > 0 ? Double(after - before) / seconds : nil
        }
        var brokers: [Broker] = []
        for (index, reading) in now.brokers.enumerated() {
            let earlier = second == nil ? nil : first.brokers[safe: index]
            let statistics = reading.statistics
            brokers.append(Broker(endpoint: reading.endpoint, answered: statistics != nil, error: reading.error,
                                  state: statistics.map { $0.pair?.state ?? "single" },
                                  acceptedPerSecond: rate(earlier?.statistics?.accepted, statistics?.accepted, from: earlier?.readAt, to: reading.readAt),
                                  statistics: statistics))
            guard let statistics else {
                if now.brokers.count > 1 { problems.append("broker \(reading.endpoint) does not answer: \(reading.error ?? "no answer")") }
                continue
            }
            if let pair = statistics.pair, pair.state == "active", !pair.peerHeard {
                problems.append("broker \(reading.endpoint) is active alone: its peer has not been heard")
            }
            if statistics.logPaused == true {
                problems.append("broker \(reading.endpoint) cannot write its log: producers wait (see its log for why)")
            }
            if let disk = statistics.disk, disk.freeShare < limits.minDiskFree {
                problems.append("broker \(reading.endpoint): the disk of its data folder is filling, "
                    + "\(percent(disk.freeShare)) free (\(Self.mebibytes(disk.freeBytes)) of \(Self.mebibytes(disk.totalBytes)))")
            }
        }
        let answered = now.brokers.compactMap(\.statistics)
        if answered.isEmpty {
            problems.append("no broker answered (endpoints.replay: \(now.brokers.map(\.endpoint).joined(separator: ",")))")
        } else if !answered.contains(where: { $0.pair == nil || $0.pair?.state == "active" }) {
            problems.append("no broker of the pair is active")
        } else if answered.filter({ $0.pair?.state == "active" }).count > 1 {
            problems.append("more than one broker is active: the pair is split, each logging on its own")
        }
        // Consumers, as the broker that serves them (the active or single one) last heard.
        var consumers: [Consumer] = []
        let serving = now.brokers.firstIndex { $0.statistics.map { $0.pair == nil || $0.pair?.state == "active" } ?? false }
        if let serving, let statistics = now.brokers[serving].statistics {
            let positions = statistics.consumerPositions
            let earlier = second == nil ? nil : first.brokers[safe: serving]
            let before = earlier?.statistics?.consumerPositions ?? [:]
            for name in positions.keys.sorted() {
                let position = positions[name]!
                let lag = statistics.lastSequence > position ? statistics.lastSequence - position : 0
                consumers.append(Consumer(name: name, position: position, lag: lag,
                                          perSecond: rate(before[name], position, from: earlier?.readAt, to: now.brokers[serving].readAt)))
                if lag > limits.maxLag {
                    problems.append("consumer \(name) is falling behind: \(lag) events behind the broker (over \(limits.maxLag))")
                }
            }
        }
        let reading = now.aggregator
        let aggregator = Aggregator(endpoint: reading.endpoint, answered: reading.status != nil, error: reading.error,
                                    eventsPerSecond: rate(first.aggregator.status?.sequence, reading.status?.sequence,
                                                          from: first.aggregator.readAt, to: reading.readAt),
                                    status: reading.status)
        if let status = reading.status {
            // Said once: the consumer line above already says so when the broker heard from it.
            if status.lag > limits.maxLag, !consumers.contains(where: { $0.name == limits.aggregatorName && $0.lag > limits.maxLag }) {
                problems.append("the aggregator is falling behind: \(status.lag) events behind the broker (over \(limits.maxLag))")
            }
        } else if consumers.contains(where: { $0.name == limits.aggregatorName }) {
            // The broker heard from an aggregator since it started: one ran, and no longer answers.
            problems.append("the aggregator at \(reading.endpoint) does not answer: \(reading.error ?? "no answer")")
        }
        return PipelineHealth(healthy: problems.isEmpty, brokers: brokers, aggregator: aggregator, consumers: consumers, problems: problems)
    }
}

func percent(_ share: Double) -> String { String(format: "%.0f%%", share * 100) }

extension PipelineHealth {
    /// Bytes as MiB with one decimal, for people.
    public static func mebibytes(_ bytes: UInt64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
