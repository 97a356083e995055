import CZeroMQ

/// The name of a socket option for error messages, e.g. `ZMQ_LINGER`.
func socketOptionName(_ option: Int32) -> String {
    switch option {
    case ZMQ_AFFINITY: "ZMQ_AFFINITY"
    case ZMQ_ROUTING_ID: "ZMQ_ROUTING_ID"
    case ZMQ_SUBSCRIBE: "ZMQ_SUBSCRIBE"
    case ZMQ_UNSUBSCRIBE: "ZMQ_UNSUBSCRIBE"
    case ZMQ_SNDBUF: "ZMQ_SNDBUF"
    case ZMQ_RCVBUF: "ZMQ_RCVBUF"
    case ZMQ_RCVMORE: "ZMQ_RCVMORE"
    case ZMQ_FD: "ZMQ_FD"
    case ZMQ_EVENTS: "ZMQ_EVENTS"
    case ZMQ_TYPE: "ZMQ_TYPE"
    case ZMQ_LINGER: "ZMQ_LINGER"
    case ZMQ_RECONNECT_IVL: "ZMQ_RECONNECT_IVL"
    case ZMQ_BACKLOG: "ZMQ_BACKLOG"
    case ZMQ_RECONNECT_IVL_MAX: "ZMQ_RECONNECT_IVL_MAX"
    case ZMQ_MAXMSGSIZE: "ZMQ_MAXMSGSIZE"
    case ZMQ_SNDHWM: "ZMQ_SNDHWM"
    case ZMQ_RCVHWM: "ZMQ_RCVHWM"
    case ZMQ_RCVTIMEO: "ZMQ_RCVTIMEO"
    case ZMQ_SNDTIMEO: "ZMQ_SNDTIMEO"
    case ZMQ_LAST_ENDPOINT: "ZMQ_LAST_ENDPOINT"
    case ZMQ_ROUTER_MANDATORY: "ZMQ_ROUTER_MANDATORY"
    case ZMQ_IMMEDIATE: "ZMQ_IMMEDIATE"
    case ZMQ_XPUB_VERBOSE: "ZMQ_XPUB_VERBOSE"
    case ZMQ_CURVE_SERVER: "ZMQ_CURVE_SERVER"
    case ZMQ_CURVE_PUBLICKEY: "ZMQ_CURVE_PUBLICKEY"
    case ZMQ_CURVE_SECRETKEY: "ZMQ_CURVE_SECRETKEY"
    case ZMQ_CURVE_SERVERKEY: "ZMQ_CURVE_SERVERKEY"
    case ZMQ_ZAP_DOMAIN: "ZMQ_ZAP_DOMAIN"
    case ZMQ_CONFLATE: "ZMQ_CONFLATE"
    case ZMQ_MECHANISM: "ZMQ_MECHANISM"
    case ZMQ_HEARTBEAT_IVL: "ZMQ_HEARTBEAT_IVL"
    case ZMQ_HEARTBEAT_TTL: "ZMQ_HEARTBEAT_TTL"
    case ZMQ_HEARTBEAT_TIMEOUT: "ZMQ_HEARTBEAT_TIMEOUT"
    case ZMQ_ZAP_ENFORCE_DOMAIN: "ZMQ_ZAP_ENFORCE_DOMAIN"
    default: "option \(option)"
    }
}

// MARK: Raw access

extension ZMQSocket {
    /// Sets an `int` socket option (`zmq_setsockopt`).
    public func setOption(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var value = value
        try setRaw(option, &value, MemoryLayout<Int32>.size)
    }

    /// Sets an `int64_t` socket option such as `ZMQ_MAXMSGSIZE` (`zmq_setsockopt`).
    public func setOption(_ option: Int32, _ value: Int64) throws(ZMQError) {
        var value = value
        try setRaw(option, &value, MemoryLayout<Int64>.size)
    }

    /// Sets a binary socket option such as `ZMQ_SUBSCRIBE` or `ZMQ_ROUTING_ID` (`zmq_setsockopt`).
    public func setOption(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(ZMQError) in try setRaw(option, buffer.baseAddress, buffer.count) }
        }.get()
    }

    /// Sets a string socket option such as `ZMQ_ZAP_DOMAIN`, without a terminating NUL (`zmq_setsockopt`).
    public func setOption(_ option: Int32, string: String) throws(ZMQError) {
        try setOption(option, bytes: Array(string.utf8))
    }

    /// Reads an `int` socket option (`zmq_getsockopt`).
    public func int32Option(_ option: Int32) throws(ZMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try getRaw(option, &value, &size)
        return value
    }

    /// Reads an `int64_t` socket option (`zmq_getsockopt`).
    public func int64Option(_ option: Int32) throws(ZMQError) -> Int64 {
        var value: Int64 = 0
        var size = MemoryLayout<Int64>.size
        try getRaw(option, &value, &size)
        return value
    }

    /// Reads a binary socket option of at most `capacity` bytes (`zmq_getsockopt`).
    public func bytesOption(_ option: Int32, capacity: Int = 256) throws(ZMQError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try buffer.withUnsafeMutableBytes { raw in
            Result { () throws(ZMQError) in try getRaw(option, raw.baseAddress, &size) }
        }.get()
        return Array(buffer.prefix(size))
    }

    /// Reads a string socket option (`zmq_getsockopt`), dropping the terminating NUL libzmq adds.
    public func stringOption(_ option: Int32, capacity: Int = 256) throws(ZMQError) -> String {
        var bytes = try bytesOption(option, capacity: capacity)
        if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func setRaw(_ option: Int32, _ value: UnsafeRawPointer?, _ size: Int) throws(ZMQError) {
        try withHandle("zmq_setsockopt(\(socketOptionName(option)))") { handle throws(ZMQError) in
            try zmqCall("zmq_setsockopt(\(socketOptionName(option)))") {
                zmq_setsockopt(handle, option, value, size)
            }
        }
    }

    private func getRaw(_ option: Int32, _ value: UnsafeMutableRawPointer?, _ size: inout Int) throws(ZMQError) {
        try withHandle("zmq_getsockopt(\(socketOptionName(option)))") { handle throws(ZMQError) in
            try zmqCall("zmq_getsockopt(\(socketOptionName(option)))") {
                zmq_getsockopt(handle, option, value, &size)
            }
        }
    }
}

// MARK: Named options

extension ZMQSocket {
    /// Limits the messages queued for sending per peer (`ZMQ_SNDHWM`, default 1000; 0 = no limit).
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, messages)
    }

    /// The outgoing queue limit per peer (`ZMQ_SNDHWM`).
    public var sendHighWaterMark: Int32 {
        get throws(ZMQError) { try int32Option(ZMQ_SNDHWM) }
    }

    /// Limits the messages queued for receiving per peer (`ZMQ_RCVHWM`, default 1000; 0 = no limit).
    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, messages)
    }

    /// The incoming queue limit per peer (`ZMQ_RCVHWM`).
    public var receiveHighWaterMark: Int32 {
        get throws(ZMQError) { try int32Option(ZMQ_RCVHWM) }
    }

    /// How long closing waits for unsent messages (`ZMQ_LINGER`); -1 waits forever, which this
    /// binding avoids by default (see ``ZMQSocket/defaultLingerMilliseconds``).
    public func setLinger(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_LINGER, milliseconds)
    }

    /// The socket's `ZMQ_LINGER` in milliseconds.
    public var linger: Int32 {
        get throws(ZMQError) { try int32Option(ZMQ_LINGER) }
    }

    /// Drops any peer that sends a message larger than `bytes` (`ZMQ_MAXMSGSIZE`; -1 = no limit).
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
        try setOption(ZMQ_MAXMSGSIZE, bytes)
    }

    /// The socket's `ZMQ_MAXMSGSIZE`.
    public var maxMessageSize: Int64 {
        get throws(ZMQError) { try int64Option(ZMQ_MAXMSGSIZE) }
    }

    /// Turns on ZMTP heartbeats: a PING every `interval` ms (`ZMQ_HEARTBEAT_IVL`), the connection
    /// dropped when nothing arrives within `timeout` ms (`ZMQ_HEARTBEAT_TIMEOUT`), and the peer asked to
    /// drop it after `ttl` ms of silence (`ZMQ_HEARTBEAT_TTL`, kept by libzmq in tenths of a second).
    public func setHeartbeat(interval: Int32, timeout: Int32, ttl: Int32) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, interval)
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, timeout)
        try setOption(ZMQ_HEARTBEAT_TTL, ttl)
    }

    /// The heartbeat settings (`ZMQ_HEARTBEAT_IVL`, `ZMQ_HEARTBEAT_TIMEOUT`, `ZMQ_HEARTBEAT_TTL`).
    public var heartbeat: (interval: Int32, timeout: Int32, ttl: Int32) {
        get throws(ZMQError) {
            (try int32Option(ZMQ_HEARTBEAT_IVL), try int32Option(ZMQ_HEARTBEAT_TIMEOUT), try int32Option(ZMQ_HEARTBEAT_TTL))
        }
    }

    /// Turns on TCP keepalive for the socket's TCP connections (`ZMQ_TCP_KEEPALIVE` and its
    /// `_IDLE`, `_INTVL` and `_CNT` settings): the kernel probes a connection idle for `idle`
    /// seconds every `interval` seconds and drops it after `count` unanswered probes, and libzmq
    /// then reconnects. Unlike ZMTP heartbeats it does not depend on the socket reading its input.
    public func setTCPKeepalive(idle: Int32, interval: Int32, count: Int32) throws(ZMQError) {
        try setOption(ZMQ_TCP_KEEPALIVE, Int32(1))
        try setOption(ZMQ_TCP_KEEPALIVE_IDLE, idle)
        try setOption(ZMQ_TCP_KEEPALIVE_INTVL, interval)
        try setOption(ZMQ_TCP_KEEPALIVE_CNT, count)
    }

    /// The TCP keepalive settings: whether on (`ZMQ_TCP_KEEPALIVE` 1; -1 is the system's default),
    /// idle seconds, interval seconds, probe count.
    public var tcpKeepalive: (on: Int32, idle: Int32, interval: Int32, count: Int32) {
        get throws(ZMQError) {
            (try int32Option(ZMQ_TCP_KEEPALIVE), try int32Option(ZMQ_TCP_KEEPALIVE_IDLE),
             try int32Option(ZMQ_TCP_KEEPALIVE_INTVL), try int32Option(ZMQ_TCP_KEEPALIVE_CNT))
        }
    }

    /// Waits `milliseconds` before reconnecting (`ZMQ_RECONNECT_IVL`), doubling each time up to
    /// `max` (`ZMQ_RECONNECT_IVL_MAX`; 0 = no doubling).
    public func setReconnectInterval(milliseconds: Int32, max: Int32 = 0) throws(ZMQError) {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds)
        try setOption(ZMQ_RECONNECT_IVL_MAX, max)
    }

    /// The reconnect settings (`ZMQ_RECONNECT_IVL`, `ZMQ_RECONNECT_IVL_MAX`).
    public var reconnectInterval: (milliseconds: Int32, max: Int32) {
        get throws(ZMQError) { (try int32Option(ZMQ_RECONNECT_IVL), try int32Option(ZMQ_RECONNECT_IVL_MAX)) }
    }

    /// Makes a blocking receive give up after `milliseconds` and return nil (`ZMQ_RCVTIMEO`; -1 = never).
    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_RCVTIMEO, milliseconds)
    }

    /// The socket's `ZMQ_RCVTIMEO` in milliseconds.
    public var receiveTimeout: Int32 {
        get throws(ZMQError) { try int32Option(ZMQ_RCVTIMEO) }
    }

    /// Makes a blocking send give up after `milliseconds` and return false (`ZMQ_SNDTIMEO`; -1 = never).
    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) {
        try setOption(ZMQ_SNDTIMEO, milliseconds)
    }

    /// The socket's `ZMQ_SNDTIMEO` in milliseconds.
    public var sendTimeout: Int32 {
        get throws(ZMQError) { try int32Option(ZMQ_SNDTIMEO) }
    }

    /// On an XPUB socket, passes every subscription message up, not only the first for each prefix
    /// (`ZMQ_XPUB_VERBOSE`; write-only in libzmq).
    public func setXPubVerbose(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_XPUB_VERBOSE, Int32(on ? 1 : 0))
    }

    /// Queues messages only for completed connections (`ZMQ_IMMEDIATE`), so a send with no live
    /// peer blocks or fails instead of waiting in a connecting pipe.
    public func setImmediate(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_IMMEDIATE, Int32(on ? 1 : 0))
    }

    /// The socket's `ZMQ_IMMEDIATE`.
    public var immediate: Bool {
        get throws(ZMQError) { try int32Option(ZMQ_IMMEDIATE) != 0 }
    }

    /// On a ROUTER socket, fails a send to an unknown routing id with `EHOSTUNREACH` instead of
    /// dropping it (`ZMQ_ROUTER_MANDATORY`; write-only in libzmq 4.3).
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0))
    }

    /// The identity a ROUTER peer sees for this socket (`ZMQ_ROUTING_ID`, 1 to 255 bytes, not
    /// starting with a zero byte). Set it before connecting.
    public func setRoutingId(_ id: [UInt8]) throws(ZMQError) {
        try setOption(ZMQ_ROUTING_ID, bytes: id)
    }

    /// The socket's `ZMQ_ROUTING_ID`; empty when none was set.
    public var routingId: [UInt8] {
        get throws(ZMQError) { try bytesOption(ZMQ_ROUTING_ID, capacity: 255) }
    }

    /// Keeps only the newest message in each queue (`ZMQ_CONFLATE`); single-frame messages only.
    public func setConflate(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_CONFLATE, Int32(on ? 1 : 0))
    }

    /// The socket's `ZMQ_CONFLATE`.
    public var conflate: Bool {
        get throws(ZMQError) { try int32Option(ZMQ_CONFLATE) != 0 }
    }

    /// The ZAP domain this socket's peers are authenticated in (`ZMQ_ZAP_DOMAIN`).
    public func setZapDomain(_ domain: String) throws(ZMQError) {
        try setOption(ZMQ_ZAP_DOMAIN, string: domain)
    }

    /// The socket's `ZMQ_ZAP_DOMAIN`.
    public var zapDomain: String {
        get throws(ZMQError) { try stringOption(ZMQ_ZAP_DOMAIN) }
    }

    /// Fails handshakes closed when no ZAP handler answers at `inproc://zeromq.zap.01`
    /// (`ZMQ_ZAP_ENFORCE_DOMAIN`, option 93). libzmq 4.3 declares it only in its draft API, but the
    /// Debian 4.3.4 build accepts it and reads it back even though `zmq_has("draft")` is false.
    /// A build that rejects it throws `EINVAL`. With it set and no handler bound, every handshake on
    /// the socket fails (the monitor reports ``MonitorEvent/Kind/handshakeFailedNoDetail`` with `EFAULT`).
    public func setZapEnforceDomain(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_ZAP_ENFORCE_DOMAIN, Int32(on ? 1 : 0))
    }

    /// The socket's `ZMQ_ZAP_ENFORCE_DOMAIN`.
    public var zapEnforceDomain: Bool {
        get throws(ZMQError) { try int32Option(ZMQ_ZAP_ENFORCE_DOMAIN) != 0 }
    }

    /// Which operations would not block right now (`ZMQ_EVENTS`). After waking on
    /// ``fileDescriptor``, read this again and drain until receive returns nil: the descriptor is
    /// edge-triggered.
    public var events: (readable: Bool, writable: Bool) {
        get throws(ZMQError) {
            let bits = try int32Option(ZMQ_EVENTS)
            return (bits & Int32(ZMQ_POLLIN) != 0, bits & Int32(ZMQ_POLLOUT) != 0)
        }
    }

    /// A file descriptor that becomes readable when ``events`` may have changed (`ZMQ_FD`), for
    /// integrating with an event loop. It is edge-triggered and owned by libzmq: never read or close it.
    public var fileDescriptor: Int32 {
        get throws(ZMQError) { try int32Option(ZMQ_FD) }
    }

    /// Whether the last frame received has more frames after it (`ZMQ_RCVMORE`).
    public var hasMoreFrames: Bool {
        get throws(ZMQError) { try int32Option(ZMQ_RCVMORE) != 0 }
    }
}
