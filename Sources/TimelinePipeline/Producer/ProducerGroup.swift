import Logging
import ServiceLifecycle
import ZeroMQ

/// Runs a producer's workers side by side, each on its own thread with its own socket and its own
/// producer id, and finishes when all have finished (or on graceful shutdown). With a progress
/// display and a known number of events, it shows the events the broker logged out of them.
public struct ProducerGroup: Service {
    public let workers: [ProducerWorker]
    let context: ZMQContext
    /// Where the progress goes, and the events in all (nil for a followed file: no end).
    let progress: ProgressDisplay
    let total: Int?

    public init(workers: [ProducerWorker], context: ZMQContext, progress: ProgressDisplay = .off, total: Int? = nil) {
        self.workers = workers
        self.context = context
        self.progress = progress
        self.total = total
    }

    public func run() async throws {
        let watcher = Task { await showProgress() }
        defer { watcher.cancel() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    try await SocketLoopService(name: "producer", loop: worker, context: context).run()
                }
            }
            try await group.waitForAll()
        }
        watcher.cancel()
        await watcher.value
    }

    /// Samples the workers' reports ten times a second until cancelled, then shows the final state.
    private func showProgress() async {
        guard !progress.isOff, let total else { return }
        var reporter = ProgressReporter(title: "producing", unit: "events", total: UInt64(total), display: progress)
        func acknowledged() -> UInt64 { reports.reduce(0) { $0 + $1.acknowledged } }
        while !Task.isCancelled {
            reporter.update(done: acknowledged())
            try? await Task.sleep(for: .milliseconds(100))
        }
        reporter.update(done: acknowledged())
        reporter.finish()
    }

    /// What each worker did.
    public var reports: [ProducerReport] { workers.map(\.report) }

    /// Splits `supply` among `count` workers (worker k takes events k, k+count, k+2·count…), each
    /// publishing as `<producerID>.w<k>`; a single worker publishes as `producerID` itself.
    /// With a progress display, a supply with an end is shown as the broker logs it.
    public static func split(_ supply: any EventSupply, count: Int, settings: ProducerSettings, context: ZMQContext, logger: Logger,
                             progress: ProgressDisplay = .off) -> ProducerGroup {
        let total = supply.isOpenEnded ? nil : supply.count
        var settings = settings
        if !progress.isOff, total != nil { settings.tracksAcknowledgements = true }
        if count <= 1 {
            return ProducerGroup(workers: [ProducerWorker(settings: settings, supply: supply, context: context, logger: logger)], context: context,
                                 progress: progress, total: total)
        }
        var workerSettings = settings
        if let rate = settings.rate { workerSettings.rate = rate / Double(count) }
        return ProducerGroup(workers: (0..<count).map { index in
            var own = workerSettings
            own.producerID = "\(settings.producerID).w\(index)"
            return ProducerWorker(settings: own, supply: StridedSupply(supply, offset: index, stride: count), context: context, logger: logger)
        }, context: context, progress: progress, total: total)
    }
}
