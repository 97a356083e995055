import Logging
import Synchronization
import ZeroMQ

/// The ZAP handler (RFC 27) of a daemon's context: lets in CURVE clients whose public key is on
/// the allow list, and logs every client it turns away with its key and address. On a broker of a
/// pair, the peer endpoint (ZAP domain `timeline-peer`) lets in only the other broker's key.
public final class ZAPAuthenticator: SocketLoop {
    let allowed: [CurveKey: String]
    let peerAllowed: [CurveKey: String]
    let logger: Logger
    let socket: ZMQSocket
    /// Handshakes let in and turned away, read by other threads.
    private let tally = Mutex((accepted: 0, rejected: 0))

    /// Binds `inproc://zeromq.zap.01`; call before the server sockets bind.
    public init(context: ZMQContext, allowed: [CurveKey: String], peerAllowed: [CurveKey: String] = [:], logger: Logger) throws {
        self.allowed = allowed
        self.peerAllowed = peerAllowed
        self.logger = logger
        socket = try ZMQSocket(context: context, type: .rep)
        try socket.setLinger(milliseconds: 0)
        try socket.bind("inproc://zeromq.zap.01")
    }

    public var counts: (accepted: Int, rejected: Int) { tally.withLock { $0 } }

    public func runLoop(stopper: LoopStopper) throws {
        defer { socket.close() }
        var poller = Poller()
        let zapIndex = poller.add(socket)
        let stopIndex = poller.add(stopper.receiver)
        while true {
            let ready = try poller.poll(timeoutMilliseconds: -1)
            if ready.contains(where: { $0.index == stopIndex }) { return }
            if ready.contains(where: { $0.index == zapIndex }), let request = try socket.receive(dontWait: true) {
                try socket.send(answer(request.map(\.bytes)))
            }
        }
    }

    /// `version, request id, domain, address, identity, mechanism, credentials…` ->
    /// `version, request id, status code, status text, user id, metadata`.
    func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
        guard frames.count >= 6 else {
            return [Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
        }
        let requestID = frames[1]
        let isPeer = frames[2] == Array(Security.peerZapDomain.utf8)
        let address = String(decoding: frames[3], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
        }
        guard mechanism == "CURVE", frames.count >= 7, let key = CurveKey(bytes: frames[6]) else {
            tally.withLock { $0.rejected += 1 }
            logger.warning("Rejected a client that does not use CURVE", metadata: ["client.address": "\(address)", "zap.mechanism": "\(mechanism)"])
            return reply("400", "CURVE required")
        }
        // The peer endpoint of a broker pair lets in the other broker only; every other endpoint, its clients.
        let (list, who) = isPeer ? (peerAllowed, "peer") : (allowed, "client")
        if let name = list[key] {
            tally.withLock { $0.accepted += 1 }
            logger.log(level: isPeer ? .info : .debug, isPeer ? "Accepted the peer broker" : "Accepted a client", metadata: [
                "\(who).address": "\(address)", "\(who).key": "\(key.z85)", "\(who).name": "\(name)",
            ])
            return reply("200", "OK", user: name)
        }
        tally.withLock { $0.rejected += 1 }
        logger.warning(isPeer ? "Rejected a broker on the peer endpoint: its key is not the configured peer's"
                              : "Rejected a client whose key is not on the allow list", metadata: [
            "\(who).address": "\(address)", "\(who).key": "\(key.z85)",
        ])
        return reply("400", isPeer ? "not the peer broker" : "key not allowed")
    }
}
