import CZeroMQ

/// A failed libzmq call: the `errno` value libzmq reported and the call that reported it.
public struct ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The `errno` value read from `zmq_errno()` right after the call failed.
    public let code: Int32
    /// The call that failed, with its most useful argument, e.g. `zmq_bind(tcp://127.0.0.1:*)`.
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The text libzmq gives for `code` (`zmq_strerror`).
    public var message: String {
        String(cString: zmq_strerror(code))
    }

    public var description: String {
        "\(operation) failed: \(message) (errno \(code))"
    }

    /// Two errors are equal when the same call failed with the same code.
    public static func == (lhs: ZMQError, rhs: ZMQError) -> Bool {
        lhs.code == rhs.code && lhs.operation == rhs.operation
    }

    /// True when the context was shut down or terminated (`ETERM`): the caller should close its socket.
    public var isTerminated: Bool { code == ETERM }

    /// True when a non-blocking call would have blocked, or a timeout expired (`EAGAIN`).
    public var isWouldBlock: Bool { code == EAGAIN }
}

/// Runs one libzmq call that returns an `int`, the way every such call in this module is made.
///
/// libzmq signals failure with `-1` and leaves the reason in a thread-local `errno`, which the next
/// libc call may overwrite, so `zmq_errno()` is read before anything else happens. A call interrupted
/// by a signal (`EINTR`) is simply made again: `body` is re-evaluated, so a caller that needs to
/// shrink a timeout between attempts can compute it inside `body`.
///
/// - Parameters:
///   - operation: names the call for the error; only evaluated when the call fails.
///   - body: makes the call and returns its result.
/// - Returns: the call's non-negative result.
@discardableResult
@inline(__always)
func zmqCall(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = zmq_errno()
        if code == EINTR { continue }
        throw ZMQError(code: code, operation: operation())
    }
}
