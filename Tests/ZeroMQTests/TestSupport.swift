import Foundation
import Synchronization
import Testing
@testable import ZeroMQ

/// An inproc endpoint no other test uses (inproc names are per context, but be safe anyway).
func uniqueInproc(_ label: String = "test") -> String {
    "inproc://\(label)-\(UUID().uuidString)"
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
}

/// A value shared with another thread under a lock, in a class so closures can capture it.
final class Locked<Value>: Sendable {
    private let value: Mutex<Value>

    init(_ value: sending Value) { self.value = Mutex(value) }

    func withLock<R: Sendable>(_ body: (inout sending Value) -> R) -> R {
        value.withLock { body(&$0) }
    }
}

extension ZMQSocket {
    /// Binds to a free loopback TCP port and returns the resolved endpoint.
    func bindAnyTCPPort() throws -> String {
        try bind("tcp://127.0.0.1:*")
        guard let endpoint = try lastEndpoint else { throw TestFailure(description: "no ZMQ_LAST_ENDPOINT after bind") }
        return endpoint
    }

    /// Receives one message, waiting at most `milliseconds`; nil when none came.
    func receive(waitingAtMost milliseconds: Int) throws(ZMQError) -> Message? {
        var poller = Poller()
        poller.add(self)
        guard try !poller.poll(timeoutMilliseconds: milliseconds).isEmpty else { return nil }
        return try receive(dontWait: true)
    }

    /// Receives messages until one satisfies `match`, skipping others, for at most `milliseconds`.
    func receive(waitingAtMost milliseconds: Int, until match: (Message) -> Bool) throws -> Message? {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        while ContinuousClock.now < deadline {
            if let message = try receive(waitingAtMost: 50), match(message) { return message }
        }
        return nil
    }
}

/// Publishes `probe` repeatedly until `subscriber` receives it, so that later messages are known
/// to reach it (the subscription has propagated). Returns false if that takes longer than `timeout`.
func waitForSubscription(
    publisher: ZMQSocket,
    subscriber: ZMQSocket,
    probe: Message,
    timeout: Duration = .seconds(10)
) throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        try publisher.send(probe, dontWait: true)
        if let message = try subscriber.receive(waitingAtMost: 20), message == probe {
            return true
        }
    }
    return false
}
