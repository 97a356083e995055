import Foundation
import ZeroMQ

/// Asks a running aggregator for a report or its status over its query endpoint. Blocking: call it
/// from a thread of its own (`runOnDedicatedThread`), not from Swift's cooperative pool.
public final class QueryClient {
    let socket: ZMQSocket
    let handshakes: HandshakeWatch?
    public let endpoint: String

    public init(context: ZMQContext, endpoint: String, security: Security? = nil) throws {
        self.endpoint = endpoint
        socket = try ZMQSocket(context: context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.setMaxMessageSize(64 << 20)
        try secureClient(socket, security)
        handshakes = security == nil ? nil : try HandshakeWatch(socket: socket, endpoint: endpoint)
        do {
            try socket.connect(endpoint)
        } catch {
            throw PipelineError.endpoint(role: "endpoints.query", endpoint: endpoint, reason: "\(error)")
        }
    }

    deinit {
        close()
    }

    /// Closes the socket; do this before terminating the context.
    public func close() {
        handshakes?.close()
        socket.close()
    }

    public struct NoAnswer: Error, CustomStringConvertible {
        public let endpoint: String
        public let seconds: Double
        public var description: String { "no aggregator answered at \(endpoint) within \(seconds) s" }
    }

    /// Sends a request and returns the reply's body; throws when the aggregator answers with an
    /// error or not within `timeout` seconds.
    public func request(_ frames: [String], timeout: Double = 5) throws -> String {
        try socket.send(frames.map { Array($0.utf8) }, dontWait: true)
        var poller = Poller()
        _ = poller.add(socket)
        let deadline = monotonicSeconds() + timeout
        while monotonicSeconds() < deadline {
            let ready = try poller.poll(timeoutMilliseconds: max(1, min(200, Int((deadline - monotonicSeconds()) * 1000))))
            try handshakes?.check()
            guard !ready.isEmpty else { continue }
            guard let reply = try socket.receive(dontWait: true) else { continue }
            let parts = reply.map { String(decoding: $0.bytes, as: UTF8.self) }
            guard parts.count == 2 else { throw PipelineError.brokerError("a malformed reply from the aggregator") }
            if parts[0] == "OK" { return parts[1] }
            throw PipelineError.brokerError(parts[1])
        }
        throw NoAnswer(endpoint: endpoint, seconds: timeout)
    }

    public func report(format: String, timeout: Double = 5) throws -> String {
        try request(["REPORT", format], timeout: timeout)
    }

    /// The aggregator's status as a dictionary (sequence, head, lag, events, counters, producers).
    public func status(timeout: Double = 5) throws -> [String: Any] {
        let text = try request(["STATUS"], timeout: timeout)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw PipelineError.brokerError("a malformed status")
        }
        return object
    }
}
