import Foundation
import Logging
import Synchronization
import TimelinePipeline
import ZeroMQ

/// A real broker on loopback ports the system picks, its loop on a thread of its own, its log in
/// a temporary folder.
final class RunningBroker: Sendable {
    let broker: Broker
    private let stopper: LoopStopper
    private let done = DispatchSemaphore(value: 0)
    private let folder: String

    init(context: ZMQContext) throws {
        folder = NSTemporaryDirectory() + "timeline-broker-" + UUID().uuidString
        let loopback = "tcp://127.0.0.1:*"
        broker = try Broker(settings: BrokerSettings(frontend: loopback, backend: loopback, replay: loopback, dataDirectory: folder),
                            context: context, logger: Logger(label: "test.broker"))
        stopper = try LoopStopper(context: context, name: "test-broker")
        let thread = Thread { [broker, stopper, done] in
            defer { done.signal() }
            try? broker.runLoop(stopper: stopper)
        }
        thread.start()
    }

    var frontend: String { broker.bound.endpoints["frontend"]! }
    var backend: String { broker.bound.endpoints["backend"]! }
    var replay: String { broker.bound.endpoints["replay"]! }

    /// Stops the loop (which closes the broker's sockets) and waits for it; safe to call twice.
    func stop() {
        stopper.stop()
        done.wait()
        done.signal()
    }

    func remove() {
        stop()
        stopper.close()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// Waits for `condition` with a deadline, polling every few milliseconds; true when it held.
func eventually(within timeout: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

/// A value another thread sets once.
final class Outcome<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)

    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    var get: Value? { value.withLock { $0 } }
}
