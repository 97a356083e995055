import Foundation
import Logging

/// Syncs the event log to disk every `interval` seconds on a thread of its own, so that the
/// broker's loop never waits for the disk (an fsync can take milliseconds, and every message
/// arriving meanwhile would wait with it). A power failure can lose at most the last interval.
final class LogSyncer: @unchecked Sendable {
    private let durability: EventLog.Durability
    private let interval: Double
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var running = false
    private var syncFailure: StorageError?

    init(_ durability: EventLog.Durability, interval: Double, logger: Logger) {
        self.durability = durability
        self.interval = max(0.001, interval)
        self.logger = logger
    }

    /// The fsync error that stopped the syncer, if one did.
    var failure: StorageError? { condition.withLock { syncFailure } }

    func start() {
        condition.withLock { running = true }
        let thread = Thread { [self] in run() }
        thread.name = "log-sync"
        thread.start()
    }

    /// Stops the thread and waits for it (an fsync in progress finishes first).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
    }

    private func run() {
        condition.lock()
        defer {
            running = false
            condition.broadcast()
            condition.unlock()
        }
        while !stopping {
            _ = condition.wait(until: Date(timeIntervalSinceNow: interval))
            if stopping { return }
            condition.unlock()
            do {
                try durability.sync()
                condition.lock()
            } catch {
                logger.error("Could not sync the event log", metadata: ["log.path": "\(durability.path)", "error": "\(error)"])
                condition.lock()
                syncFailure = error
                return
            }
        }
    }
}
