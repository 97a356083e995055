import Dispatch
import Foundation
import Logging
import Synchronization

/// Syncs the event log to disk every `interval` on a thread of its own, so that the
/// broker's loop never waits for the disk (an fsync can take milliseconds, and every message
/// arriving meanwhile would wait with it). A power failure can lose at most the last interval.
final class LogSyncer: Sendable {
    private enum Phase {
        case idle, running, stopping, stopped
    }

    private struct State {
        var phase = Phase.idle
        /// The fsync error that stopped the thread, if one did.
        var failure: StorageError?
    }

    private let durability: EventLog.Durability
    private let interval: Duration
    private let logger: Logger
    private let state = Mutex(State())
    /// Signalled to cut the thread's wait short, and by the thread when it ends.
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(_ durability: EventLog.Durability, interval: Duration, logger: Logger) {
        self.durability = durability
        self.interval = max(.milliseconds(1), interval)
        self.logger = logger
    }

    /// The fsync error that stopped the syncer, if one did.
    var failure: StorageError? { state.withLock { $0.failure } }

    func start() {
        let starting = state.withLock { state in
            guard state.phase == .idle else { return false }
            state.phase = .running
            return true
        }
        guard starting else { return }
        let thread = Thread { [self] in run() }
        thread.name = "log-sync"
        thread.start()
    }

    /// Stops the thread and waits for it (an fsync in progress finishes first); later calls return
    /// at once.
    func stop() {
        let running = state.withLock { state in
            switch state.phase {
            case .running:
                state.phase = .stopping
                return true
            case .idle:
                state.phase = .stopped
                return false
            case .stopping, .stopped:
                return false
            }
        }
        guard running else { return }
        wake.signal()
        finished.wait()
        state.withLock { $0.phase = .stopped }
    }

    private func run() {
        defer { finished.signal() }
        while true {
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000)))
            if state.withLock({ $0.phase == .stopping }) { return }
            do {
                try durability.sync()
            } catch {
                logger.error("Could not sync the event log", metadata: ["log.path": "\(durability.path)", "error": "\(error)"])
                state.withLock { $0.failure = error }
                return
            }
        }
    }
}
