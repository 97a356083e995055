import CZeroMQ
import Synchronization

/// Makes inproc names unique within the process for monitors and proxy control sockets.
let inprocNameCounter = Atomic<Int>(0)

func uniqueInprocEndpoint(_ purpose: String) -> String {
    let number = inprocNameCounter.wrappingAdd(1, ordering: .relaxed).newValue
    return "inproc://timeline.\(purpose).\(number)"
}

/// One event reported by a socket monitor (`zmq_socket_monitor`).
public struct MonitorEvent: Sendable, Equatable {
    /// What happened (`ZMQ_EVENT_*`).
    public enum Kind: Sendable, Hashable {
        case connected, connectDelayed, connectRetried
        case listening, bindFailed
        case accepted, acceptFailed
        case closed, closeFailed, disconnected
        case monitorStopped
        case handshakeFailedNoDetail, handshakeSucceeded, handshakeFailedProtocol, handshakeFailedAuth
        case unknown(UInt16)

        /// Maps a `ZMQ_EVENT_*` number to its kind.
        public init(rawValue: UInt16) {
            switch Int32(rawValue) {
            case ZMQ_EVENT_CONNECTED: self = .connected
            case ZMQ_EVENT_CONNECT_DELAYED: self = .connectDelayed
            case ZMQ_EVENT_CONNECT_RETRIED: self = .connectRetried
            case ZMQ_EVENT_LISTENING: self = .listening
            case ZMQ_EVENT_BIND_FAILED: self = .bindFailed
            case ZMQ_EVENT_ACCEPTED: self = .accepted
            case ZMQ_EVENT_ACCEPT_FAILED: self = .acceptFailed
            case ZMQ_EVENT_CLOSED: self = .closed
            case ZMQ_EVENT_CLOSE_FAILED: self = .closeFailed
            case ZMQ_EVENT_DISCONNECTED: self = .disconnected
            case ZMQ_EVENT_MONITOR_STOPPED: self = .monitorStopped
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: self = .handshakeFailedNoDetail
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: self = .handshakeSucceeded
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: self = .handshakeFailedProtocol
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: self = .handshakeFailedAuth
            default: self = .unknown(rawValue)
            }
        }
    }

    /// A set of event kinds to monitor, as the `ZMQ_EVENT_*` bit mask.
    public struct Kinds: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let connected = Kinds(rawValue: ZMQ_EVENT_CONNECTED)
        public static let connectDelayed = Kinds(rawValue: ZMQ_EVENT_CONNECT_DELAYED)
        public static let connectRetried = Kinds(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
        public static let listening = Kinds(rawValue: ZMQ_EVENT_LISTENING)
        public static let bindFailed = Kinds(rawValue: ZMQ_EVENT_BIND_FAILED)
        public static let accepted = Kinds(rawValue: ZMQ_EVENT_ACCEPTED)
        public static let acceptFailed = Kinds(rawValue: ZMQ_EVENT_ACCEPT_FAILED)
        public static let closed = Kinds(rawValue: ZMQ_EVENT_CLOSED)
        public static let closeFailed = Kinds(rawValue: ZMQ_EVENT_CLOSE_FAILED)
        public static let disconnected = Kinds(rawValue: ZMQ_EVENT_DISCONNECTED)
        public static let monitorStopped = Kinds(rawValue: ZMQ_EVENT_MONITOR_STOPPED)
        public static let handshakeFailedNoDetail = Kinds(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        public static let handshakeSucceeded = Kinds(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        public static let handshakeFailedProtocol = Kinds(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        public static let handshakeFailedAuth = Kinds(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        /// Every event (`ZMQ_EVENT_ALL`).
        public static let all = Kinds(rawValue: ZMQ_EVENT_ALL)
    }

    public let kind: Kind
    /// The event's value: a file descriptor, a reconnect interval, an errno, or for handshake
    /// failures a `ZMQ_PROTOCOL_ERROR_*` code or the ZAP status code (e.g. 400).
    public let value: Int32
    /// The endpoint the event concerns, e.g. `tcp://127.0.0.1:41234`.
    public let endpoint: String

    public init(kind: Kind, value: Int32, endpoint: String) {
        self.kind = kind
        self.value = value
        self.endpoint = endpoint
    }

    /// Decodes the two frames a version 1 monitor sends: 6 bytes (event number as a native-endian
    /// `uint16_t`, value as `uint32_t`), then the endpoint.
    init?(frames: Message) {
        guard frames.count >= 2, frames[0].count == 6 else { return nil }
        let header = frames[0].bytes
        let number = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt16.self) }
        let value = header.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
        self.init(
            kind: Kind(rawValue: number),
            value: Int32(bitPattern: value),
            endpoint: String(decoding: frames[1].bytes, as: UTF8.self)
        )
    }
}

/// Receives the events of one monitored socket over an inproc PAIR socket.
///
/// Like a socket, use a monitor from one thread at a time.
public final class SocketMonitor: @unchecked Sendable {
    /// The inproc endpoint libzmq publishes the events on.
    public let endpoint: String
    /// The PAIR socket connected to ``endpoint``; exposed for polling alongside other sockets.
    public let socket: ZMQSocket

    init(endpoint: String, socket: ZMQSocket) {
        self.endpoint = endpoint
        self.socket = socket
    }

    /// Waits up to `timeoutMilliseconds` (-1 = forever, 0 = no wait) for the next event; nil on timeout.
    /// Throws `ETERM` once the context is shut down, and `ENOTSOCK` after ``close()``.
    public func next(timeoutMilliseconds: Int32) throws(ZMQError) -> MonitorEvent? {
        var poller = Poller()
        poller.add(socket)
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(timeoutMilliseconds)
        while true {
            if let frames = try socket.receive(dontWait: true) {
                if let event = MonitorEvent(frames: frames) { return event }
                continue
            }
            var wait = Int(timeoutMilliseconds)
            if timeoutMilliseconds > 0 {
                let left = clock.now.duration(to: deadline)
                if left <= .zero { return nil }
                wait = max(1, Int(left.components.seconds) * 1000 + Int(left.components.attoseconds / 1_000_000_000_000_000))
            }
            if try poller.poll(timeoutMilliseconds: wait).isEmpty { return nil }
        }
    }

    /// Closes the receiving PAIR socket. The monitored socket keeps running; its later events are dropped.
    public func close() {
        socket.close()
    }
}

extension ZMQSocket {
    /// Starts reporting this socket's `events` (`zmq_socket_monitor` on a fresh inproc endpoint)
    /// and returns a monitor connected to them. Events from before this call are not reported.
    /// Starting a new monitor replaces the previous one.
    public func monitor(events: MonitorEvent.Kinds = .all) throws(ZMQError) -> SocketMonitor {
        let endpoint = uniqueInprocEndpoint("monitor")
        try withHandle("zmq_socket_monitor(\(endpoint))") { handle throws(ZMQError) in
            try zmqCall("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(handle, endpoint, events.rawValue) }
        }
        do throws(ZMQError) {
            let pair = try ZMQSocket(context: context, type: .pair)
            try pair.connect(endpoint)
            return SocketMonitor(endpoint: endpoint, socket: pair)
        } catch {
            try? stopMonitor()
            throw error
        }
    }

    /// Stops the socket's monitor, if any (`zmq_socket_monitor` with no endpoint).
    public func stopMonitor() throws(ZMQError) {
        try withHandle("zmq_socket_monitor(stop)") { handle throws(ZMQError) in
            try zmqCall("zmq_socket_monitor(stop)") { zmq_socket_monitor(handle, nil, 0) }
        }
    }
}
