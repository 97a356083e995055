import CZeroMQ
import Foundation

/// A steerable proxy (`zmq_proxy_steerable`) that shuttles messages between two sockets on a
/// thread of its own, e.g. XSUB (frontend, where publishers connect) to XPUB (backend, where
/// subscribers connect), forwarding subscriptions the other way.
///
/// While the proxy runs, its thread owns the frontend, backend and capture sockets: other calls on
/// them wait until it stops. It is steered over an inproc PAIR socket pair that it creates.
public final class ZMQProxy: @unchecked Sendable {
    private enum State {
        case idle
        case running
        case stopped
    }

    public let frontend: ZMQSocket
    public let backend: ZMQSocket
    public let capture: ZMQSocket?
    /// The proxy's end of the control pair, bound at a unique inproc endpoint.
    private let control: ZMQSocket
    /// Our end of the control pair, connected to `control`.
    private let commands: ZMQSocket

    private let condition = NSCondition()
    private var state = State.idle
    private var failure: ZMQError?

    /// Prepares a proxy between `frontend` and `backend`, copying every message to `capture` if
    /// given. The sockets must belong to `context` and be bound or connected already (or later, from
    /// before ``start()``). Nothing runs until ``start()``.
    public init(context: ZMQContext, frontend: ZMQSocket, backend: ZMQSocket, capture: ZMQSocket? = nil) throws(ZMQError) {
        let endpoint = uniqueInprocEndpoint("proxy-control")
        let control = try ZMQSocket(context: context, type: .pair)
        try control.bind(endpoint)
        let commands = try ZMQSocket(context: context, type: .pair)
        try commands.connect(endpoint)
        self.frontend = frontend
        self.backend = backend
        self.capture = capture
        self.control = control
        self.commands = commands
    }

    deinit {
        control.close()
        commands.close()
    }

    /// Starts the proxy on a new thread. Does nothing if it was already started or stopped.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard state == .idle else { return }
        state = .running
        let thread = Thread { [self] in run() }
        thread.name = "zmq-proxy"
        thread.start()
    }

    /// Stops forwarding until ``resume()`` (sends `PAUSE` on the control socket). Messages wait in
    /// the sockets' queues meanwhile. When it returns on a running proxy, the proxy has taken the
    /// command: nothing sent afterwards is forwarded until ``resume()``.
    public func pause() {
        steer("PAUSE")
    }

    /// Resumes forwarding after ``pause()`` (sends `RESUME`), taken by the proxy when it returns.
    public func resume() {
        steer("RESUME")
    }

    /// Sends a command, then `STATISTICS`, and waits (up to 5 s) for the statistics reply: the proxy
    /// reads its control socket in order, so the reply means the command was applied.
    private func steer(_ command: String) {
        // A statistics reply that came after an earlier wait gave up must not stand for this one.
        while (try? commands.receive(dontWait: true)) != nil {}
        guard (try? commands.send([Frame(command)])) == true else { return }
        // A proxy not started yet reads the command when it starts; nothing to wait for.
        guard isRunning, (try? commands.send([Frame("STATISTICS")])) == true else { return }
        var poller = Poller()
        _ = poller.add(commands)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline, isRunning {
            guard let ready = try? poller.poll(timeoutMilliseconds: 100), !ready.isEmpty else { continue }
            // The reply is eight u64 frames; any message here is it.
            if (try? commands.receive(dontWait: true)) != nil { return }
        }
    }

    /// Sends `TERMINATE` on the control socket and waits for the proxy thread to end. Calling it again,
    /// or on a proxy never started, does nothing beyond waiting. Afterwards the proxy cannot restart.
    public func stop() {
        condition.lock()
        let wasRunning = state == .running
        if state == .idle { state = .stopped }
        condition.unlock()
        if wasRunning {
            _ = try? commands.send([Frame("TERMINATE")])
        }
        waitUntilStopped()
    }

    /// Blocks until the proxy thread has ended: after ``stop()``, or when the context was shut down.
    /// Returns at once if the proxy is not running.
    public func waitUntilStopped() {
        condition.lock()
        defer { condition.unlock() }
        while state == .running {
            condition.wait()
        }
    }

    /// Whether the proxy thread is running.
    public var isRunning: Bool {
        condition.lock()
        defer { condition.unlock() }
        return state == .running
    }

    /// Why the proxy ended, if it ended with an error (`ETERM` when its context was shut down);
    /// nil while it runs and after a clean ``stop()``.
    public var error: ZMQError? {
        condition.lock()
        defer { condition.unlock() }
        return failure
    }

    private func run() {
        var outcome: ZMQError?
        do throws(ZMQError) {
            try frontend.withHandle("zmq_proxy_steerable") { front throws(ZMQError) in
                try backend.withHandle("zmq_proxy_steerable") { back throws(ZMQError) in
                    try control.withHandle("zmq_proxy_steerable") { steer throws(ZMQError) in
                        if let capture {
                            try capture.withHandle("zmq_proxy_steerable") { copy throws(ZMQError) in
                                try zmqCall("zmq_proxy_steerable") { zmq_proxy_steerable(front, back, copy, steer) }
                            }
                        } else {
                            try zmqCall("zmq_proxy_steerable") { zmq_proxy_steerable(front, back, nil, steer) }
                        }
                    }
                }
            }
        } catch where error.code == ENOTSOCK && frontend.context.isShutDown {
            // The context's termination closed the sockets before this thread could take them.
            outcome = ZMQError(code: ETERM, operation: "zmq_proxy_steerable")
        } catch {
            outcome = error
        }
        condition.lock()
        failure = outcome
        state = .stopped
        condition.broadcast()
        condition.unlock()
    }
}
