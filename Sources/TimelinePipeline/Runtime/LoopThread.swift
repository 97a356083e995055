import Foundation
import ServiceLifecycle
import Synchronization
import ZeroMQ

/// Runs `body` on a thread of its own, so that blocking libzmq calls never hold one of the few
/// threads of Swift's cooperative pool, and returns its result to the awaiting task.
public func runOnDedicatedThread<T: Sendable>(name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Tells a socket loop on another thread to stop, through an inproc PAIR socket that the loop polls
/// alongside its own sockets: the loop wakes at once, and no flag is polled on a timer.
public final class LoopStopper: Sendable {
    private let sender: ZMQSocket
    /// The end the loop polls; readable once `stop()` was called.
    public let receiver: ZMQSocket
    /// Whether `stop()` was called; the sender is used under the same lock.
    private let stopped = Mutex(false)

    public init(context: ZMQContext, name: String) throws {
        let endpoint = "inproc://timeline-stop-\(name)-\(UUID().uuidString)"
        receiver = try ZMQSocket(context: context, type: .pair)
        try receiver.bind(endpoint)
        sender = try ZMQSocket(context: context, type: .pair)
        try sender.connect(endpoint)
    }

    /// Asks the loop to stop; safe from any thread, and more than once.
    public func stop() {
        stopped.withLock { stopped in
            guard !stopped else { return }
            stopped = true
            _ = try? sender.send([Frame("stop")], dontWait: true)
        }
    }

    public var isStopped: Bool {
        stopped.withLock { $0 }
    }

    public func close() {
        stopped.withLock { _ in
            sender.close()
            receiver.close()
        }
    }
}

/// Something that runs a blocking loop until its stopper fires.
public protocol SocketLoop: AnyObject, Sendable {
    /// Runs until `stopper` is stopped or the work is done; called on a dedicated thread.
    func runLoop(stopper: LoopStopper) throws
}

/// Runs a `SocketLoop` as a service: on a dedicated thread, stopped on graceful shutdown or
/// cancellation.
public struct SocketLoopService: Service {
    public let name: String
    let loop: any SocketLoop
    let context: ZMQContext

    public init(name: String, loop: any SocketLoop, context: ZMQContext) {
        self.name = name
        self.loop = loop
        self.context = context
    }

    public func run() async throws {
        let stopper = try LoopStopper(context: context, name: name)
        defer { stopper.close() }
        let loop = self.loop
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await runOnDedicatedThread(name: "timeline.\(name)") { try loop.runLoop(stopper: stopper) }
            } onGracefulShutdown: {
                stopper.stop()
            }
        } onCancel: {
            stopper.stop()
        }
    }
}
