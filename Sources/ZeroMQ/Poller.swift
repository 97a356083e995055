import CZeroMQ

/// One socket registered with a ``Poller`` and the conditions it is watched for.
public struct PollItem: Sendable {
    public let socket: ZMQSocket
    public var readable: Bool
    public var writable: Bool

    public init(socket: ZMQSocket, readable: Bool = true, writable: Bool = false) {
        self.socket = socket
        self.readable = readable
        self.writable = writable
    }
}

/// A socket that ``Poller/poll(timeoutMilliseconds:)`` found ready: its index in the poller and
/// which of the watched conditions hold.
public struct PollResult: Sendable, Hashable {
    public let index: Int
    public let readable: Bool
    public let writable: Bool

    public init(index: Int, readable: Bool, writable: Bool) {
        self.index = index
        self.readable = readable
        self.writable = writable
    }
}

/// Waits for any of several sockets to become readable or writable (`zmq_poll`).
///
/// `poll` blocks the calling thread: call it from a dedicated thread, or with a timeout of 0 from a task.
public struct Poller: Sendable {
    public private(set) var items: [PollItem] = []

    public init() {}

    /// Watches `socket`; returns its index, which ``poll(timeoutMilliseconds:)`` reports.
    @discardableResult
    public mutating func add(_ socket: ZMQSocket, readable: Bool = true, writable: Bool = false) -> Int {
        items.append(PollItem(socket: socket, readable: readable, writable: writable))
        return items.count - 1
    }

    /// Waits up to `timeoutMilliseconds` (-1 = forever, 0 = just check) for at least one watched
    /// condition (`zmq_poll`), and returns the ready sockets in index order; empty on timeout.
    /// A wait interrupted by a signal is resumed with the time that remains.
    ///
    /// Holds every polled socket's lock for the duration, so closing one of them from another thread
    /// waits for the poll to return.
    public func poll(timeoutMilliseconds: Int) throws(ZMQError) -> [PollResult] {
        if items.isEmpty { return [] }

        // Lock each distinct socket once, in a fixed order, so two pollers cannot deadlock.
        var distinct: [ObjectIdentifier: ZMQSocket] = [:]
        for item in items { distinct[ObjectIdentifier(item.socket)] = item.socket }
        let ordered = distinct.keys.sorted().map { distinct[$0]! }
        var locked: [ZMQSocket] = []
        defer { for socket in locked { socket.unlockAfterPoll() } }
        var handles: [ObjectIdentifier: UnsafeMutableRawPointer] = [:]
        for socket in ordered {
            let handle = socket.lockForPoll()
            locked.append(socket)
            guard let handle else {
                throw ZMQError(code: ENOTSOCK, operation: "zmq_poll(\(socket.type))")
            }
            handles[ObjectIdentifier(socket)] = handle
        }

        var pollItems = items.map { item in
            zmq_pollitem_t(
                socket: handles[ObjectIdentifier(item.socket)],
                fd: 0,
                events: Int16((item.readable ? ZMQ_POLLIN : 0) | (item.writable ? ZMQ_POLLOUT : 0)),
                revents: 0
            )
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(timeoutMilliseconds)
        let count = Int32(pollItems.count)
        let ready = try pollItems.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(ZMQError) -> Int32 in
                try zmqCall("zmq_poll(\(count) items)") {
                    var timeout = timeoutMilliseconds
                    if timeout > 0 {
                        let left = clock.now.duration(to: deadline).components
                        timeout = max(0, Int(left.seconds) * 1000 + Int(left.attoseconds / 1_000_000_000_000_000))
                    }
                    return zmq_poll(buffer.baseAddress, count, timeout)
                }
            }
        }.get()
        if ready == 0 { return [] }

        var results: [PollResult] = []
        results.reserveCapacity(Int(ready))
        for (index, item) in pollItems.enumerated() where item.revents != 0 {
            results.append(PollResult(
                index: index,
                readable: Int32(item.revents) & ZMQ_POLLIN != 0,
                writable: Int32(item.revents) & ZMQ_POLLOUT != 0
            ))
        }
        return results
    }
}
