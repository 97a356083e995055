import Foundation
import Logging
import Synchronization
import Timeline
import ZeroMQ

/// Publishes a supply of events to the broker, numbered 1, 2, 3… under its producer id.
///
/// It uses an XPUB socket: the broker's subscription arriving on it says the connection is up, so
/// no event is sent into the void (the slow-joiner problem), and a subscription arriving again says
/// the broker restarted. Each time, the worker asks the broker how far its log got for this producer
/// and continues from there. `ZMQ_XPUB_NODROP` makes a full queue push back instead of dropping.
/// Finishing means the broker has logged every event, not merely that they were handed to libzmq.
///
/// Threads: `run` works on the calling thread with a `ProducerSession` of its own; other threads
/// read only `report`, which sits behind its own lock.
public final class ProducerWorker: SocketLoop {
    public let settings: ProducerSettings
    let supply: any EventSupply
    let context: ZMQContext
    let logger: Logger
    private let published: Mutex<ProducerReport>

    public init(settings: ProducerSettings, supply: any EventSupply, context: ZMQContext, logger: Logger) {
        self.settings = settings
        self.supply = supply
        self.context = context
        self.logger = logger
        published = Mutex(ProducerReport(producerID: settings.producerID))
    }

    /// What the worker has done so far.
    public var report: ProducerReport { published.withLock { $0 } }

    public func runLoop(stopper: LoopStopper) throws {
        _ = try run(stopper: stopper)
    }

    /// Runs until every event is logged by the broker (or, for an open-ended supply, until stopped).
    /// Returns false when stopped early.
    public func run(stopper: LoopStopper) throws -> Bool {
        let session = try ProducerSession(settings: settings, supply: supply, context: context, stopper: stopper, logger: logger) { [self] report in
            self.published.withLock { $0 = report }
        }
        defer { session.close() }
        return try session.run()
    }
}
