import Foundation
import Logging
import Timeline
import ZeroMQ

/// Reads the pipeline's health every `interval` for a page that shows it (the dashboard): each
/// broker's `STATS` and the aggregator's `STATUS`, assessed with the previous reading as
/// `timeline status` assesses two (rates per second between them, each consumer's lag), and
/// handed to `publish` on this loop's thread.
public final class HealthPoller: SocketLoop {
    public let replays: [String]
    public let query: String
    public let interval: Duration
    /// How long one broker or the aggregator is waited for, each reading.
    public let timeout: Duration
    let security: Security?
    let context: ZMQContext
    let logger: Logger
    let publish: @Sendable (PipelineHealth) -> Void

    public init(replays: [String], query: String, interval: Duration = .seconds(1), timeout: Duration = .milliseconds(400),
                security: Security?, context: ZMQContext, logger: Logger, publish: @escaping @Sendable (PipelineHealth) -> Void) {
        self.replays = replays
        self.query = query
        self.interval = interval
        self.timeout = timeout
        self.security = security
        self.context = context
        self.logger = logger
        self.publish = publish
    }

    public func runLoop(stopper: LoopStopper) throws {
        var previous: (reading: (brokers: [BrokerReading], aggregator: AggregatorReading), at: ContinuousClock.Instant)?
        while !stopper.isStopped {
            let started = ContinuousClock.now
            let reading = (brokers: replays.map { BrokerReading.read($0, context: context, security: security, timeout: timeout, logger: logger) },
                           aggregator: AggregatorReading.read(query, context: context, security: security, timeout: timeout, logger: logger))
            let health = PipelineHealth.assess(first: previous?.reading ?? reading, second: previous == nil ? nil : reading,
                                               interval: previous.map { $0.at.duration(to: started).inSeconds } ?? 0, limits: .init())
            publish(health)
            previous = (reading, started)
            // The pace of the readings: woken early only by the stopper.
            var poller = Poller()
            _ = poller.add(stopper.receiver)
            let left = interval - started.duration(to: .now)
            if left > .zero { _ = try poller.poll(timeoutMilliseconds: left.pollMilliseconds) }
        }
    }
}
