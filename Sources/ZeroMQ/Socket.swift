import CZeroMQ
import Foundation

/// The ZeroMQ socket patterns this binding supports (`ZMQ_PUB`, `ZMQ_SUB`, ...).
public enum SocketType: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case pub, sub, xpub, xsub, router, dealer, push, pull, pair, req, rep

    /// The libzmq constant passed to `zmq_socket`.
    public var rawValue: Int32 {
        switch self {
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pair: ZMQ_PAIR
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        }
    }

    public var description: String {
        switch self {
        case .pub: "PUB"
        case .sub: "SUB"
        case .xpub: "XPUB"
        case .xsub: "XSUB"
        case .router: "ROUTER"
        case .dealer: "DEALER"
        case .push: "PUSH"
        case .pull: "PULL"
        case .pair: "PAIR"
        case .req: "REQ"
        case .rep: "REP"
        }
    }
}

/// A libzmq socket (`zmq_socket`), closed exactly once by ``close()`` or `deinit`.
///
/// libzmq sockets are not thread-safe. Use a socket from one thread at a time; handing it to another
/// thread between calls is fine. Each call holds an internal lock for its duration, so a mistaken
/// concurrent call waits instead of corrupting the socket, and ``ZMQContext/terminate()`` can close
/// a socket safely while another thread is blocked on it (the shutdown makes that call return).
///
/// Never call blocking methods from a Swift concurrency task: they park one of the few cooperative
/// threads. Use `dontWait: true` and await in between, or a dedicated thread.
public final class ZMQSocket: @unchecked Sendable {
    /// The `ZMQ_LINGER` every socket gets at creation: how long unsent messages may delay
    /// closing the socket and terminating its context.
    public static let defaultLingerMilliseconds: Int32 = 1000

    /// The pattern this socket was created with.
    public let type: SocketType
    /// The context that made this socket; kept alive as long as the socket.
    public let context: ZMQContext

    fileprivate let lock = NSLock()
    /// nil once closed.
    fileprivate var handle: UnsafeMutableRawPointer?
    /// A message reused by ``receive(dontWait:)``, which copies each frame out before the next one.
    private let scratch: UnsafeMutablePointer<zmq_msg_t>
    /// Messages reused by ``receiveParts(dontWait:_:)``, and whether a call is using them.
    private var parts: UnsafeMutablePointer<zmq_msg_t>
    private var partsCapacity = 4
    private var partsInUse = false

    /// Creates a socket of `type` in `context` (`zmq_socket`) and sets its `ZMQ_LINGER` to
    /// ``defaultLingerMilliseconds``.
    public init(context: ZMQContext, type: SocketType) throws(ZMQError) {
        let handle = try context.openSocket(type: type.rawValue, name: type.description)
        var linger = Self.defaultLingerMilliseconds
        do throws(ZMQError) {
            try zmqCall("zmq_setsockopt(ZMQ_LINGER)") {
                zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
            }
        } catch {
            _ = try? zmqCall("zmq_close") { zmq_close(handle) }
            throw error
        }
        self.type = type
        self.context = context
        self.handle = handle
        self.scratch = .allocate(capacity: 1)
        self.parts = .allocate(capacity: 4)
        if !context.register(self) {
            close()
            throw ZMQError(code: ETERM, operation: "zmq_socket(\(type))")
        }
    }

    deinit {
        if closeHandle() {
            context.unregister(ObjectIdentifier(self))
        }
        scratch.deallocate()
        parts.deallocate()
    }

    /// Whether ``close()`` has run (or the context's termination closed the socket).
    public var isClosed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return handle == nil
    }

    /// Closes the socket (`zmq_close`). Unsent messages get the socket's linger to leave. Calling it
    /// again does nothing; every later call on the socket throws `ENOTSOCK`.
    public func close() {
        if closeHandle() {
            context.unregister(ObjectIdentifier(self))
        }
    }

    /// Closes the libzmq socket if still open; returns whether this call closed it.
    @discardableResult
    private func closeHandle() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let open = handle else { return false }
        handle = nil
        _ = try? zmqCall("zmq_close") { zmq_close(open) }
        return true
    }

    /// Runs `body` with the open libzmq socket while holding the socket's lock.
    @inline(__always)
    @discardableResult
    func withHandle<R>(
        _ operation: @autoclosure () -> String,
        _ body: (UnsafeMutableRawPointer) throws(ZMQError) -> R
    ) throws(ZMQError) -> R {
        lock.lock()
        defer { lock.unlock() }
        guard let handle else {
            throw ZMQError(code: ENOTSOCK, operation: operation())
        }
        return try body(handle)
    }

    // MARK: Endpoints

    /// Listens on `endpoint` (`zmq_bind`), e.g. `tcp://127.0.0.1:*` for any free port (read it back
    /// with ``lastEndpoint``) or `inproc://name`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        try withHandle("zmq_bind(\(endpoint))") { handle throws(ZMQError) in
            try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
        }
    }

    /// Connects to `endpoint` (`zmq_connect`). libzmq connects in the background and reconnects
    /// after a loss, so this succeeds before any peer is listening.
    public func connect(_ endpoint: String) throws(ZMQError) {
        try withHandle("zmq_connect(\(endpoint))") { handle throws(ZMQError) in
            try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
        }
    }

    /// Stops listening on `endpoint` (`zmq_unbind`). For a wildcard bind, pass the endpoint that
    /// ``lastEndpoint`` reported.
    public func unbind(_ endpoint: String) throws(ZMQError) {
        try withHandle("zmq_unbind(\(endpoint))") { handle throws(ZMQError) in
            try zmqCall("zmq_unbind(\(endpoint))") { zmq_unbind(handle, endpoint) }
        }
    }

    /// Drops the connection to `endpoint` (`zmq_disconnect`).
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        try withHandle("zmq_disconnect(\(endpoint))") { handle throws(ZMQError) in
            try zmqCall("zmq_disconnect(\(endpoint))") { zmq_disconnect(handle, endpoint) }
        }
    }

    /// The endpoint most recently bound or connected (`ZMQ_LAST_ENDPOINT`), with a wildcard port
    /// resolved, e.g. `tcp://127.0.0.1:41234`; nil before any bind or connect.
    public var lastEndpoint: String? {
        get throws(ZMQError) {
            let text = try stringOption(ZMQ_LAST_ENDPOINT)
            return text.isEmpty ? nil : text
        }
    }

    // MARK: Sending

    /// Sends a multipart message: every frame but the last with `ZMQ_SNDMORE` (`zmq_send`).
    ///
    /// Blocks until libzmq accepts the message, unless `dontWait` is set (`ZMQ_DONTWAIT`). Returns
    /// false when the message was not queued because the call would have blocked (no peer, or the
    /// high-water mark reached) or a `ZMQ_SNDTIMEO` expired (`EAGAIN`); other failures throw. The
    /// message goes whole or not at all: once libzmq takes the first frame it takes the rest.
    /// An empty message throws `EINVAL`.
    @discardableResult
    public func send(_ message: Message, dontWait: Bool = false) throws(ZMQError) -> Bool {
        try sendParts(count: message.count, dontWait: dontWait) { index, body in
            message[index].bytes.withUnsafeBytes(body)
        }
    }

    /// Sends a multipart message given as byte arrays, with the same blocking and `EAGAIN` rules as
    /// sending a ``Message``.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        try sendParts(count: frames.count, dontWait: dontWait) { index, body in
            frames[index].withUnsafeBytes(body)
        }
    }

    /// Sends the two-frame message `[topic, payload]` without building ``Frame`` values: the usual
    /// shape on a PUB socket, where subscribers match the topic frame by prefix.
    @discardableResult
    public func send(topic: [UInt8], payload: [UInt8], dontWait: Bool = false) throws(ZMQError) -> Bool {
        try sendParts(count: 2, dontWait: dontWait) { index, body in
            index == 0 ? topic.withUnsafeBytes(body) : payload.withUnsafeBytes(body)
        }
    }

    /// Sends a three-frame message from three byte arrays, with the same blocking and `EAGAIN`
    /// rules as sending a ``Message``, without building an array of frames.
    @discardableResult
    public func send(_ first: [UInt8], _ second: [UInt8], _ third: [UInt8], dontWait: Bool = false) throws(ZMQError) -> Bool {
        try sendParts(count: 3, dontWait: dontWait) { index, body in
            switch index {
            case 0: first.withUnsafeBytes(body)
            case 1: second.withUnsafeBytes(body)
            default: third.withUnsafeBytes(body)
            }
        }
    }

    /// Sends a three-frame message from three buffers (frames of a received message, slices of a
    /// larger buffer), with the same blocking and `EAGAIN` rules as sending a ``Message``.
    @discardableResult
    public func send(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, _ third: UnsafeRawBufferPointer,
                     dontWait: Bool = false) throws(ZMQError) -> Bool {
        try sendParts(count: 3, dontWait: dontWait) { index, body in
            body(index == 0 ? first : index == 1 ? second : third)
        }
    }

    /// Sends one frame whose bytes are given by `buffer` (`zmq_send`); `more` sets `ZMQ_SNDMORE`.
    /// Returns false on `EAGAIN`. The building block for senders that hold bytes in other containers.
    @discardableResult
    public func sendFrame(_ buffer: UnsafeRawBufferPointer, more: Bool, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        return try withHandle("zmq_send(\(type))") { handle throws(ZMQError) in
            try Self.sendOne(handle, buffer, flags: flags, type: type).get()
        }
    }

    /// Sends `count` frames; `withFrame(i, body)` must call `body` with the bytes of frame `i`.
    @inline(__always)
    private func sendParts(
        count: Int,
        dontWait: Bool,
        _ withFrame: (Int, (UnsafeRawBufferPointer) -> Result<Bool, ZMQError>) -> Result<Bool, ZMQError>
    ) throws(ZMQError) -> Bool {
        guard count > 0 else {
            throw ZMQError(code: EINVAL, operation: "zmq_send(\(type), empty message)")
        }
        return try withHandle("zmq_send(\(type))") { handle throws(ZMQError) in
            for index in 0..<count {
                var flags: Int32 = index < count - 1 ? ZMQ_SNDMORE : 0
                // Only the first frame may be refused: once libzmq has queued it, it accepts the rest of
                // the message without blocking, so a partial message is never left behind.
                if index == 0 && dontWait { flags |= ZMQ_DONTWAIT }
                let sent = try withFrame(index) { buffer in
                    Self.sendOne(handle, buffer, flags: flags, type: type)
                }.get()
                if !sent { return false }
            }
            return true
        }
    }

    @inline(__always)
    private static func sendOne(
        _ handle: UnsafeMutableRawPointer,
        _ buffer: UnsafeRawBufferPointer,
        flags: Int32,
        type: SocketType
    ) -> Result<Bool, ZMQError> {
        do throws(ZMQError) {
            try zmqCall("zmq_send(\(type))") { zmq_send(handle, buffer.baseAddress, buffer.count, flags) }
            return .success(true)
        } catch where error.code == EAGAIN {
            return .success(false)
        } catch {
            return .failure(error)
        }
    }

    // MARK: Receiving

    /// Receives one whole multipart message (`zmq_msg_recv`, following `ZMQ_RCVMORE` until the last
    /// frame), copying each frame.
    ///
    /// Blocks until a message arrives unless `dontWait` is set (`ZMQ_DONTWAIT`). Returns nil when no
    /// message was waiting, or when a `ZMQ_RCVTIMEO` expired (`EAGAIN`). Throws other failures, e.g.
    /// `ETERM` after the context was shut down.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> Message? {
        try withHandle("zmq_msg_recv(\(type))") { handle throws(ZMQError) -> Message? in
            var message: Message = []
            var flags = dontWait ? ZMQ_DONTWAIT : 0
            while true {
                try zmqCall("zmq_msg_init") { zmq_msg_init(scratch) }
                defer { _ = try? zmqCall("zmq_msg_close") { zmq_msg_close(scratch) } }
                do throws(ZMQError) {
                    try zmqCall("zmq_msg_recv(\(type))") { zmq_msg_recv(scratch, handle, flags) }
                } catch where error.code == EAGAIN && message.isEmpty {
                    return nil
                }
                let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(scratch), count: zmq_msg_size(scratch))
                message.append(Frame(Array(bytes)))
                // zmq_msg_more reports the same flag as getsockopt(ZMQ_RCVMORE) for this frame.
                if zmq_msg_more(scratch) == 0 { return message }
                // The remaining frames are already here: libzmq delivers messages whole.
                flags = 0
            }
        }
    }

    /// Receives one whole multipart message and hands its frames to `body` without copying them
    /// (`zmq_msg_recv` into `zmq_msg_t`s, all closed with `zmq_msg_close` when `body` returns or
    /// throws). The buffers are valid only during the call.
    ///
    /// Returns nil, without calling `body`, in the cases where ``receive(dontWait:)`` returns nil.
    public func receiveRaw<R>(dontWait: Bool = false, _ body: ([UnsafeRawBufferPointer]) throws -> R) throws -> R? {
        try receiveParts(dontWait: dontWait) { parts in try body((0..<parts.count).map { parts[$0] }) }
    }

    /// Receives one whole multipart message into `zmq_msg_t`s the socket keeps for reuse, and hands
    /// the frames to `body` in place: no allocation and no copy per message, for hot receive loops.
    /// The frames are valid only during the call; they are closed when `body` returns or throws.
    ///
    /// Returns nil, without calling `body`, in the cases where ``receive(dontWait:)`` returns nil.
    public func receiveParts<R>(dontWait: Bool = false, _ body: (ReceivedParts) throws -> R) throws -> R? {
        // The socket's own set of messages, unless a call is already using it (a body that receives
        // on the same socket): that call gets a set of its own.
        let pooled = lock.withLock { () -> Bool in
            defer { partsInUse = true }
            return !partsInUse
        }
        var storage = pooled ? parts : UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 4)
        var capacity = pooled ? partsCapacity : 4
        var count = 0
        defer {
            for index in 0..<count { zmq_msg_close(storage + index) }
            if pooled {
                lock.withLock {
                    parts = storage
                    partsCapacity = capacity
                    partsInUse = false
                }
            } else {
                storage.deallocate()
            }
        }
        let received = try withHandle("zmq_msg_recv(\(type))") { handle throws(ZMQError) -> Bool in
            var flags = dontWait ? ZMQ_DONTWAIT : 0
            while true {
                if count == capacity {
                    // Rare: more frames than ever before. Move the received ones to a larger set.
                    let larger = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: capacity * 2)
                    for index in 0..<count {
                        zmq_msg_init(larger + index)
                        zmq_msg_move(larger + index, storage + index)
                        zmq_msg_close(storage + index)
                    }
                    storage.deallocate()
                    storage = larger
                    capacity *= 2
                }
                let part = storage + count
                try zmqCall("zmq_msg_init") { zmq_msg_init(part) }
                count += 1
                do throws(ZMQError) {
                    try zmqCall("zmq_msg_recv(\(type))") { zmq_msg_recv(part, handle, flags) }
                } catch where error.code == EAGAIN && count == 1 {
                    return false
                }
                if zmq_msg_more(part) == 0 { return true }
                flags = 0
            }
        }
        guard received else { return nil }
        return try body(ReceivedParts(messages: storage, count: count))
    }

    // MARK: Subscriptions

    /// Subscribes to messages whose first frame starts with `prefix`; an empty prefix matches all.
    ///
    /// On a SUB socket this sets `ZMQ_SUBSCRIBE`; on an XSUB socket it sends the subscription
    /// message (`0x01` followed by the prefix) upstream.
    public func subscribe(_ prefix: [UInt8]) throws(ZMQError) {
        try changeSubscription(prefix, subscribe: true)
    }

    /// Subscribes to messages whose first frame starts with the UTF-8 bytes of `prefix`.
    public func subscribe(_ prefix: String) throws(ZMQError) {
        try changeSubscription(Array(prefix.utf8), subscribe: true)
    }

    /// Cancels one earlier ``subscribe(_:)-([UInt8])`` with the same prefix (`ZMQ_UNSUBSCRIBE`, or
    /// the `0x00` message on XSUB).
    public func unsubscribe(_ prefix: [UInt8]) throws(ZMQError) {
        try changeSubscription(prefix, subscribe: false)
    }

    /// Cancels one earlier subscription to the UTF-8 bytes of `prefix`.
    public func unsubscribe(_ prefix: String) throws(ZMQError) {
        try changeSubscription(Array(prefix.utf8), subscribe: false)
    }

    private func changeSubscription(_ prefix: [UInt8], subscribe: Bool) throws(ZMQError) {
        if type == .xsub {
            try send([[subscribe ? 1 : 0] + prefix])
        } else {
            try setOption(subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, bytes: prefix)
        }
    }
}

extension ZMQSocket {
    /// Takes the socket's lock for ``Poller``, returning the libzmq socket or nil when closed.
    /// Every call must be balanced by ``unlockAfterPoll()``.
    func lockForPoll() -> UnsafeMutableRawPointer? {
        lock.lock()
        return handle
    }

    func unlockAfterPoll() {
        lock.unlock()
    }
}

/// The frames of a message received by ``ZMQSocket/receiveParts(dontWait:_:)``, valid only during
/// that call.
public struct ReceivedParts {
    let messages: UnsafeMutablePointer<zmq_msg_t>
    /// How many frames the message has (at least one).
    public let count: Int

    /// The bytes of frame `index`.
    public subscript(index: Int) -> UnsafeRawBufferPointer {
        precondition(index >= 0 && index < count, "frame \(index) of a \(count)-frame message")
        return UnsafeRawBufferPointer(start: zmq_msg_data(messages + index), count: zmq_msg_size(messages + index))
    }
}
