import Foundation
import Logging
import Synchronization
import Testing
import Timeline
@testable import TimelinePipeline
import ZeroMQ

/// The control client's rules against a scripted ROUTER on a loopback port: it matches replies to
/// requests by id, asks again on a fresh connection when no answer comes, gives up when its policy
/// says so, and stops waiting when its stopper fires.
@Suite("Control client")
struct ControlClientTests {
    /// A ROUTER on a free loopback port that hands each request to `script` on a thread of its
    /// own; `script` gets the request's number (from 1) and the connection's routing id, and
    /// returns the replies to send (none to stay silent).
    final class ScriptedServer: Sendable {
        let endpoint: String
        let identities = Mutex<[[UInt8]]>([])
        private let socket: ZMQSocket
        private let stopper: LoopStopper
        private let done = DispatchSemaphore(value: 0)

        init(context: ZMQContext, script: @escaping @Sendable (_ number: Int, _ request: [[UInt8]]) -> [[[UInt8]]]) throws {
            socket = try ZMQSocket(context: context, type: .router)
            try socket.setLinger(milliseconds: 0)
            try socket.bind("tcp://127.0.0.1:*")
            endpoint = try socket.lastEndpoint!
            stopper = try LoopStopper(context: context, name: "scripted-server")
            let thread = Thread { [self] in
                defer { done.signal() }
                var poller = Poller()
                let index = poller.add(socket)
                let stopIndex = poller.add(stopper.receiver)
                var number = 0
                while let ready = try? poller.poll(timeoutMilliseconds: -1), !ready.contains(where: { $0.index == stopIndex }) {
                    guard ready.contains(where: { $0.index == index }) else { continue }
                    while let message = try? socket.receive(dontWait: true) {
                        let frames = message.map(\.bytes)
                        number += 1
                        identities.withLock { $0.append(frames[0]) }
                        for reply in script(number, Array(frames.dropFirst())) {
                            _ = try? socket.send([frames[0]] + reply, dontWait: true)
                        }
                    }
                }
            }
            thread.start()
        }

        func stop() {
            stopper.stop()
            done.wait()
            socket.close()
            stopper.close()
        }
    }

    static let logger = Logger(label: "test.control-client")

    /// A client of `server` with `retry`, as the broker's (`endpoints.replay`) or the aggregator's.
    static func client(of server: ScriptedServer, role: String = "endpoints.replay", retry: RetryPolicy, context: ZMQContext) throws -> ControlClient {
        try ControlClient(context: context, endpoint: server.endpoint, role: role, security: nil, retry: retry, logger: logger)
    }

    static func requestID(_ request: [[UInt8]]) -> UInt64 {
        ByteReader.integer(exactly: request[1], as: UInt64.self) ?? 0
    }

    @Test("A request that gets no answer is asked again on a fresh connection, and the answer to the second try is returned")
    func retriesOnAFreshConnection() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let server = try ScriptedServer(context: context) { number, request in
            number == 1 ? [] : [ControlReply(id: Self.requestID(request), BrokerAnswer.head(last: 17)).frames()]
        }
        defer { server.stop() }
        let client = try Self.client(of: server, retry: RetryPolicy(timeout: .milliseconds(200), attempts: nil), context: context)
        defer { client.close() }
        let answer = try client.call(BrokerCommand.head, answer: BrokerAnswer.self)
        #expect(answer == .head(last: 17))
        let identities = server.identities.withLock { $0 }
        #expect(identities.count == 2)
        #expect(identities.first != identities.last, "the second try comes from a new socket")
    }

    @Test("A late answer to an earlier request is not taken for the answer to the current one")
    func staleRepliesAreDropped() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let server = try ScriptedServer(context: context) { _, request in
            let id = Self.requestID(request)
            // First a reply to an older request (id - 1), then the real one.
            return [ControlReply(id: id - 1, BrokerAnswer.head(last: 1)).frames(), ControlReply(id: id, BrokerAnswer.head(last: 2)).frames()]
        }
        defer { server.stop() }
        let client = try Self.client(of: server, retry: .once(timeout: .seconds(5)), context: context)
        defer { client.close() }
        _ = try client.call(BrokerCommand.head, answer: BrokerAnswer.self)
        #expect(try client.call(BrokerCommand.head, answer: BrokerAnswer.self) == .head(last: 2))
    }

    @Test("The answer to a request sent ahead, arriving while an earlier one is awaited, is kept for it")
    func prefetchedAnswersAreKept() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let held = Mutex<[[UInt8]]?>(nil)
        // The first request is held back; when the second comes, both are answered, second first.
        let server = try ScriptedServer(context: context) { number, request in
            if number == 1 {
                held.withLock { $0 = request }
                return []
            }
            let first = held.withLock { $0 }!
            return [ControlReply(id: Self.requestID(request), BrokerAnswer.head(last: 2)).frames(),
                    ControlReply(id: Self.requestID(first), BrokerAnswer.head(last: 1)).frames()]
        }
        defer { server.stop() }
        // One attempt: an answer the client dropped would never come again, and the await would throw.
        let client = try Self.client(of: server, retry: .once(timeout: .seconds(2)), context: context)
        defer { client.close() }
        let first = try #require(try client.send(BrokerCommand.head))
        let second = try #require(try client.send(BrokerCommand.head))
        #expect(try client.await(first, answer: BrokerAnswer.self) == .head(last: 1))
        #expect(try client.await(second, answer: BrokerAnswer.self) == .head(last: 2))
        let requests = server.identities.withLock { $0.count }
        #expect(requests == 2, "each request was sent once")
    }

    @Test("An ERROR answer to the request is thrown with the server's message")
    func errorsAreThrown() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let server = try ScriptedServer(context: context) { _, request in
            [ControlReply(id: Self.requestID(request), BrokerAnswer.error("the broker could not read its log")).frames()]
        }
        defer { server.stop() }
        let client = try Self.client(of: server, retry: .once(timeout: .seconds(5)), context: context)
        defer { client.close() }
        #expect {
            try client.call(BrokerCommand.head, answer: BrokerAnswer.self)
        } throws: { error in
            "\(error)".contains("the broker could not read its log")
        }
    }

    @Test("With a policy of one attempt, silence ends in noAnswer naming the peer and endpoint")
    func givesUpWhenTold() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let server = try ScriptedServer(context: context) { _, _ in [] }
        defer { server.stop() }
        let client = try Self.client(of: server, role: "endpoints.query", retry: .once(timeout: .milliseconds(100)), context: context)
        defer { client.close() }
        #expect {
            try client.call(AggregatorCommand.status, answer: AggregatorAnswer.self)
        } throws: { error in
            "\(error)".hasPrefix("no aggregator answered at \(server.endpoint) within 0.1 s")
        }
    }

    @Test("A client waiting until answered returns nil as soon as its stopper fires")
    func stopsWhenStopped() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let server = try ScriptedServer(context: context) { _, _ in [] }
        defer { server.stop() }
        let client = try Self.client(of: server, retry: .untilAnswered, context: context)
        defer { client.close() }
        let stopper = try LoopStopper(context: context, name: "client-test")
        defer { stopper.close() }
        stopper.stop()
        #expect(try client.call(BrokerCommand.head, answer: BrokerAnswer.self, stopper: stopper) == nil)
    }
}
