import CZeroMQ
import Foundation

/// A libzmq context (`zmq_ctx_new`): the I/O threads and the inproc namespace that its sockets share.
///
/// A context is safe to use from any thread. It keeps a weak list of the sockets made from it so that
/// ``terminate()`` can close any that are still open instead of waiting for them forever, the way
/// czmq's `zctx_destroy` does. Every socket is created with a finite linger
/// (``ZMQSocket/defaultLingerMilliseconds``), so terminating never waits longer than that.
public final class ZMQContext: @unchecked Sendable {
    private enum State {
        case running
        case shutDown
        case terminating
        case terminated
    }

    private struct WeakSocket {
        weak var socket: ZMQSocket?
    }

    /// The `void *` that libzmq returned. Valid until ``terminate()`` returns.
    let handle: UnsafeMutableRawPointer

    /// Guards `state` and `sockets`.
    private let lock = NSLock()
    /// Serialises whole terminations so a second caller waits for the first to finish.
    private let terminationLock = NSLock()
    private var state = State.running
    private var sockets: [ObjectIdentifier: WeakSocket] = [:]

    /// Creates a context (`zmq_ctx_new`) with `ioThreads` background I/O threads (`ZMQ_IO_THREADS`).
    public init(ioThreads: Int = 1) throws(ZMQError) {
        guard let handle = zmq_ctx_new() else {
            throw ZMQError(code: zmq_errno(), operation: "zmq_ctx_new")
        }
        do throws(ZMQError) {
            try zmqCall("zmq_ctx_set(ZMQ_IO_THREADS, \(ioThreads))") {
                zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads))
            }
        } catch {
            _ = try? zmqCall("zmq_ctx_term") { zmq_ctx_term(handle) }
            throw error
        }
        self.handle = handle
    }

    deinit {
        terminate()
    }

    /// Whether ``shutdown()`` or ``terminate()`` has been called.
    public var isShutDown: Bool {
        lock.lock()
        defer { lock.unlock() }
        return state != .running
    }

    /// Makes every blocking call on this context's sockets, in any thread, return an `ETERM`
    /// ``ZMQError`` (`zmq_ctx_shutdown`). The sockets stay open until closed. Calling it again, or
    /// after ``terminate()``, does nothing.
    public func shutdown() {
        lock.lock()
        defer { lock.unlock() }
        guard state == .running else { return }
        _ = try? zmqCall("zmq_ctx_shutdown") { zmq_ctx_shutdown(handle) }
        state = .shutDown
    }

    /// Destroys the context (`zmq_ctx_term`).
    ///
    /// First shuts the context down so that calls blocked on other threads return `ETERM`, then closes
    /// every socket of this context that is still open (waiting for a call in progress on it to return),
    /// then terminates. Pending outgoing messages get at most each socket's linger to leave. Calling it
    /// again does nothing; a concurrent second call waits for the first.
    public func terminate() {
        terminationLock.lock()
        defer { terminationLock.unlock() }

        lock.lock()
        if state == .terminated {
            lock.unlock()
            return
        }
        if state == .running {
            _ = try? zmqCall("zmq_ctx_shutdown") { zmq_ctx_shutdown(handle) }
        }
        state = .terminating
        let stillOpen = sockets.values.compactMap(\.socket)
        sockets.removeAll()
        lock.unlock()

        for socket in stillOpen {
            socket.close()
        }
        _ = try? zmqCall("zmq_ctx_term") { zmq_ctx_term(handle) }

        lock.lock()
        state = .terminated
        lock.unlock()
    }

    /// Creates a libzmq socket (`zmq_socket`) unless the context is shutting down.
    func openSocket(type: Int32, name: String) throws(ZMQError) -> UnsafeMutableRawPointer {
        lock.lock()
        defer { lock.unlock() }
        guard state == .running else {
            throw ZMQError(code: ETERM, operation: "zmq_socket(\(name))")
        }
        guard let socket = zmq_socket(handle, type) else {
            throw ZMQError(code: zmq_errno(), operation: "zmq_socket(\(name))")
        }
        return socket
    }

    /// Records a socket so that ``terminate()`` can close it. Returns false when a termination has
    /// begun since the socket was opened; the caller must then close it itself.
    func register(_ socket: ZMQSocket) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard state == .running else { return false }
        sockets[ObjectIdentifier(socket)] = WeakSocket(socket: socket)
        return true
    }

    func unregister(_ id: ObjectIdentifier) {
        lock.lock()
        defer { lock.unlock() }
        sockets[id] = nil
    }
}
