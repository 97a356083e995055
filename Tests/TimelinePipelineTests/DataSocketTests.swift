import Logging
import Testing
import Timeline
@testable import TimelinePipeline
import ZeroMQ

/// The data sockets find dead peers with TCP keepalive and never with ZMTP heartbeats: with
/// libzmq 4.3.4 a heartbeat timeout on a connection whose reader stopped reading (a full queue, a
/// consumer busy catching up from the log) ends in an assertion failure that kills the process.
@Suite("Liveness on the data sockets")
struct DataSocketTests {
    @Test("A consumer's subscriber has TCP keepalive on and ZMTP heartbeats off")
    func consumerSubscriber() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let stream = try ConsumerStream(context: context,
                                        endpoints: ConsumerEndpoints(backend: "tcp://127.0.0.1:1", replay: "tcp://127.0.0.1:1", feed: .subscribe),
                                        topics: [], position: StreamPosition(), logger: Logger(label: "test"))
        defer { stream.close() }
        let subscriber = try #require(stream.liveSocket)
        #expect(try subscriber.heartbeat.interval == 0)
        #expect(try subscriber.tcpKeepalive.on == 1)
    }

    @Test("A consumer following the log opens no subscriber")
    func followerHasNoSubscriber() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let stream = try ConsumerStream(context: context, endpoints: ConsumerEndpoints(backend: "tcp://127.0.0.1:1", replay: "tcp://127.0.0.1:1"),
                                        topics: [], position: StreamPosition(), logger: Logger(label: "test"))
        defer { stream.close() }
        #expect(stream.liveSocket == nil)
    }
}
