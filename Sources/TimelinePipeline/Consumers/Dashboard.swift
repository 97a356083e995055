import Foundation
import Logging
import Synchronization
import Timeline
import ZeroMQ

public struct DashboardSettings: Sendable {
    public var endpoints: ConsumerEndpoints
    /// How many recent events the feed holds.
    public var feedCapacity = PipelineDefaults.dashboardFeedCapacity
    /// Country names for the chart and the feed (from the gazetteer); codes where absent.
    public var countryNames: [CountryCode: String] = [:]
    public var security: Security?
    /// Figures for `/metrics` (position, lag); nil when metrics are off.
    public var metrics: ConsumerMetrics?

    public init(endpoints: ConsumerEndpoints) {
        self.endpoints = endpoints
    }
}

/// The live dashboard's consumer: follows the broker's log from its start (whatever retention
/// left of it) and folds every event into `model`, which the HTTP side reads. Adding an event is
/// one summary and an append under the model's lock; the page's messages are made elsewhere.
public final class Dashboard: SocketLoop {
    public let settings: DashboardSettings
    public let model: Mutex<DashboardModel>
    let context: ZMQContext
    let logger: Logger

    public init(settings: DashboardSettings, context: ZMQContext, logger: Logger) {
        self.settings = settings
        self.context = context
        self.logger = logger
        model = Mutex(DashboardModel(feedCapacity: settings.feedCapacity, countryNames: settings.countryNames))
    }

    public func runLoop(stopper: LoopStopper) throws {
        let stream = try ConsumerStream(context: context, endpoints: settings.endpoints, topics: [], position: StreamPosition(),
                                        security: settings.security, logger: logger)
        // Like the monitor's feed, it shows what the log still holds.
        stream.skipsDeletedRecords = true
        stream.metrics = settings.metrics
        defer { stream.close() }
        logger.info("Dashboard following the broker's log", metadata: ["zmq.replay": "\(settings.endpoints.replays.joined(separator: ","))"])
        let rejected = RateLimitedLog(logger: logger)
        let deliver: (StreamMessage) throws -> Void = { [self] message in
            let summary: EventSummary
            do {
                summary = try WireMessage.summarise(topic: message.topicBytes, header: message.header, body: message.bodyBytes)
            } catch {
                rejected.warning("undecodable", "Skipped a message whose event does not decode",
                                 metadata: ["stream.sequence": "\(message.sequence)", "error": "\(error)"])
                return
            }
            let item = DashboardFeedItem(sequence: message.sequence, topic: String(decoding: message.topicBytes, as: UTF8.self),
                                         summary: summary, body: String(decoding: message.bodyBytes, as: UTF8.self))
            model.withLock { $0.add(item, summary: summary) }
        }
        guard try stream.catchUp(stopper: stopper, deliver: deliver) else { return }
        repeat {
            let head = stream.counters.head
            model.withLock { $0.noteHead(head) }
        } while try stream.step(stopper: stopper, deliver: deliver)
    }
}
