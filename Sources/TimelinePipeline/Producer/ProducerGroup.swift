import Logging
import ServiceLifecycle
import ZeroMQ

/// Runs a producer's workers side by side, each on its own thread with its own socket and its own
/// producer id, and finishes when all have finished (or on graceful shutdown).
public struct ProducerGroup: Service {
    public let workers: [ProducerWorker]
    let context: ZMQContext

    public init(workers: [ProducerWorker], context: ZMQContext) {
        self.workers = workers
        self.context = context
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    try await SocketLoopService(name: "producer", loop: worker, context: context).run()
                }
            }
            try await group.waitForAll()
        }
    }

    /// What each worker did.
    public var reports: [ProducerReport] { workers.map(\.report) }

    /// Splits `supply` among `count` workers (worker k takes events k, k+count, k+2·count…), each
    /// publishing as `<producerID>.w<k>`; a single worker publishes as `producerID` itself.
    public static func split(_ supply: any EventSupply, count: Int, settings: ProducerSettings, context: ZMQContext, logger: Logger) -> ProducerGroup {
        if count <= 1 {
            return ProducerGroup(workers: [ProducerWorker(settings: settings, supply: supply, context: context, logger: logger)], context: context)
        }
        var workerSettings = settings
        if let rate = settings.rate { workerSettings.rate = rate / Double(count) }
        return ProducerGroup(workers: (0..<count).map { index in
            var own = workerSettings
            own.producerID = "\(settings.producerID).w\(index)"
            return ProducerWorker(settings: own, supply: StridedSupply(supply, offset: index, stride: count), context: context, logger: logger)
        }, context: context)
    }
}
