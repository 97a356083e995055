import ZeroMQ

/// Watches a client socket's handshakes, so that a rejected client says so instead of waiting in
/// silence for a server that will never let it in.
public final class HandshakeWatch: Sendable {
    let monitor: SocketMonitor
    let endpoint: String

    public init(socket: ZMQSocket, endpoint: String) throws {
        self.endpoint = endpoint
        monitor = try socket.monitor(events: [.handshakeFailedAuth, .handshakeFailedNoDetail, .handshakeFailedProtocol])
    }

    /// Throws when a handshake has failed since the last check; never blocks.
    public func check() throws {
        while let event = try monitor.next(timeoutMilliseconds: 0) {
            switch event.kind {
            case .handshakeFailedAuth:
                throw SecurityError.authenticationFailed(endpoint: endpoint, detail: "the server refused this client (ZAP status \(event.value))")
            case .handshakeFailedProtocol, .handshakeFailedNoDetail:
                throw SecurityError.authenticationFailed(endpoint: endpoint, detail: "the security handshake failed (\(event.kind), \(event.value))")
            default:
                continue
            }
        }
    }

    public func close() {
        monitor.close()
    }
}
