import Foundation
import Logging
import Synchronization
import Testing
import Timeline
@testable import TimelinePipeline
import ZeroMQ

/// Control clients given the endpoints of two brokers, one of which is passive or silent, get
/// their answers from the other, as a broker pair's clients must (Binary Star).
@Suite("Control clients failing over between two brokers")
struct ControlClientFailoverTests {
    typealias ScriptedServer = ControlClientTests.ScriptedServer
    static let logger = Logger(label: "test.failover")

    static func passiveServer(context: ZMQContext) throws -> ScriptedServer {
        try ScriptedServer(context: context) { _, request in
            [ControlReply(id: ControlClientTests.requestID(request), BrokerAnswer.passive("this broker is passive")).frames()]
        }
    }

    @Test("A client given a passive broker first gets its answer from the real broker, and keeps asking it")
    func passiveThenReal() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let passive = try Self.passiveServer(context: context)
        defer { passive.stop() }
        let real = try RunningBroker(context: context)
        defer { real.remove() }
        let client = try ControlClient(context: context, endpoints: [passive.endpoint, real.replay], role: "endpoints.replay", security: nil,
                                       retry: .untilAnswered, logger: Self.logger)
        defer { client.close() }
        let start = ContinuousClock.now
        #expect(try client.call(BrokerCommand.head, answer: BrokerAnswer.self) == .head(last: 0))
        let elapsed = start.duration(to: .now)
        #expect(client.endpoint == real.replay)
        #expect(elapsed < .milliseconds(400), "a PASSIVE answer sends the client on at once, not after a timeout (took \(elapsed))")
        #expect(try client.call(BrokerCommand.position(producer: "p"), answer: BrokerAnswer.self) == .position(producerSequence: 0, last: 0))
        let asked = passive.identities.withLock { $0.count }
        #expect(asked == 1, "the second request goes straight to the broker that answered")
    }

    @Test("A client given a silent endpoint first fails over to the real broker within its attempt timeout")
    func silentThenReal() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let silent = try ScriptedServer(context: context) { _, _ in [] }
        defer { silent.stop() }
        let real = try RunningBroker(context: context)
        defer { real.remove() }
        let client = try ControlClient(context: context, endpoints: [silent.endpoint, real.replay], role: "endpoints.replay", security: nil,
                                       retry: .untilAnswered, logger: Self.logger)
        defer { client.close() }
        #expect(client.attemptTimeout == .milliseconds(500), "two endpoints: a short wait at each, whatever the policy's timeout")
        let start = ContinuousClock.now
        #expect(try client.call(BrokerCommand.head, answer: BrokerAnswer.self) == .head(last: 0))
        let elapsed = start.duration(to: .now)
        #expect(client.endpoint == real.replay)
        #expect(elapsed >= .milliseconds(450) && elapsed < .milliseconds(1_500), "one attempt's timeout, then the answer (took \(elapsed))")
    }

    @Test("A request carries the client's vote only to a broker it turned to because the one before was silent")
    func voteOnlyAfterSilence() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let ids = Mutex<[UInt64]>([])
        // Answers PASSIVE to its first request and HEAD to the next, noting each request's id.
        let recording = try ScriptedServer(context: context) { number, request in
            let id = ControlClientTests.requestID(request)
            ids.withLock { $0.append(id) }
            return [ControlReply(id: id, number == 1 ? BrokerAnswer.passive("passive") : BrokerAnswer.head(last: 7)).frames()]
        }
        defer { recording.stop() }
        let silent = try ScriptedServer(context: context) { _, _ in [] }
        defer { silent.stop() }
        // Passive first (no vote), then the silent one, then back with the vote.
        let client = try ControlClient(context: context, endpoints: [recording.endpoint, silent.endpoint], role: "endpoints.replay", security: nil,
                                       retry: .untilAnswered, logger: Self.logger)
        defer { client.close() }
        #expect(try client.call(BrokerCommand.head, answer: BrokerAnswer.self) == .head(last: 7))
        let seen = ids.withLock { $0 }
        #expect(seen.count == 2)
        #expect(!ControlProtocol.isVote(seen[0]), "the first request, to the first broker listed, is no vote")
        #expect(ControlProtocol.isVote(seen[1]), "after a silent broker, the request carries the vote")
        #expect(seen[0] & ~ControlProtocol.voteBit == seen[1] & ~ControlProtocol.voteBit, "the same request, asked again")
    }

    @Test("Asking once, a client whose endpoints are all silent or passive names each and what it did")
    func onceNamesEveryEndpoint() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let silent = try ScriptedServer(context: context) { _, _ in [] }
        defer { silent.stop() }
        let passive = try Self.passiveServer(context: context)
        defer { passive.stop() }
        let client = try ControlClient(context: context, endpoints: [silent.endpoint, passive.endpoint], role: "endpoints.replay", security: nil,
                                       retry: .once(timeout: .milliseconds(100)), logger: Self.logger)
        defer { client.close() }
        #expect {
            try client.call(BrokerCommand.head, answer: BrokerAnswer.self)
        } throws: { error in
            let text = "\(error)"
            return text.contains("\(silent.endpoint) (no answer within 0.1 s)") && text.contains("\(passive.endpoint) (passive: this broker is passive)")
                && !text.contains("asked each")
        }
        #expect(silent.identities.withLock { $0.count } == 1 && passive.identities.withLock { $0.count } == 1, "each endpoint asked once")
    }

    @Test("With one endpoint, a PASSIVE answer is waited out and asked again until the broker serves")
    func singlePassiveWaitedOut() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        // Passive for the first three requests, then active.
        let server = try ScriptedServer(context: context) { number, request in
            let id = ControlClientTests.requestID(request)
            return [number <= 3 ? ControlReply(id: id, BrokerAnswer.passive("not yet")).frames() : ControlReply(id: id, BrokerAnswer.head(last: 5)).frames()]
        }
        defer { server.stop() }
        let client = try ControlClient(context: context, endpoint: server.endpoint, role: "endpoints.replay", security: nil,
                                       retry: .untilAnswered, logger: Self.logger)
        defer { client.close() }
        let stopper = try LoopStopper(context: context, name: "failover-test")
        defer { stopper.close() }
        #expect(try client.call(BrokerCommand.head, answer: BrokerAnswer.self, stopper: stopper) == .head(last: 5))
        #expect(server.identities.withLock { $0.count } == 4)
    }
}
