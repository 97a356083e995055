import Foundation
import Logging
import Testing
import Timeline
@testable import TimelinePipeline
import ZeroMQ

/// A producer given two brokers sends to the one that answers as active and moves when that
/// changes: whatever the other does (gone, hung with a full queue), every event ends up logged
/// once on the broker it follows.
@Suite("Producers following the active broker")
struct ProducerFailoverTests {
    typealias ScriptedServer = ControlClientTests.ScriptedServer
    static let logger = Logger(label: "test.producer-failover")

    @Test("A producer given a dead broker first and a real one second delivers every event once, on the real one")
    func producerDeadThenReal() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        // A dead broker: nothing listens on its ports any more.
        let dead = try ZMQSocket(context: context, type: .router)
        try dead.bind("tcp://127.0.0.1:*")
        let deadEndpoint = try dead.lastEndpoint!
        dead.close()
        let real = try RunningBroker(context: context)
        defer { real.remove() }
        var settings = ProducerSettings(frontends: [deadEndpoint, real.frontend], replays: [deadEndpoint, real.replay], producerID: "failover-producer")
        settings.connectTimeout = .seconds(10)
        let count = 5_000
        let worker = ProducerWorker(settings: settings, supply: SyntheticSupply(count: count, seed: 3), context: context, logger: Self.logger)
        let stopper = try LoopStopper(context: context, name: "failover-producer")
        defer { stopper.close() }
        #expect(try worker.run(stopper: stopper))
        let statistics = real.broker.statistics
        #expect(statistics.lastSequence == UInt64(count))
        #expect(statistics.accepted == UInt64(count) && statistics.duplicatesDropped == 0)
        #expect(worker.report.acknowledged == UInt64(count))
    }

    @Test("A producer whose broker goes away mid-stream moves to the other and ends with every event logged there, once")
    func producerFollowsTheOtherBroker() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        let first = try RunningBroker(context: context)
        defer { first.remove() }
        let second = try RunningBroker(context: context)
        defer { second.remove() }
        var settings = ProducerSettings(frontends: [first.frontend, second.frontend], replays: [first.replay, second.replay],
                                        producerID: "moving-producer")
        // Paced, so that the first broker goes away while events are still being sent.
        settings.rate = 4_000
        let count = 6_000
        let worker = ProducerWorker(settings: settings, supply: SyntheticSupply(count: count, seed: 5), context: context, logger: Self.logger)
        let stopper = try LoopStopper(context: context, name: "moving-producer")
        defer { stopper.close() }
        let finished = Outcome<Bool>()
        let thread = Thread {
            finished.set((try? worker.run(stopper: stopper)) ?? false)
        }
        thread.start()
        #expect(eventually(within: .seconds(20)) { first.broker.lastSequence >= 1_000 }, "the first broker logs part of the stream")
        first.stop()
        if !eventually(within: .seconds(30), { finished.get != nil }) {
            stopper.stop()
            _ = eventually(within: .seconds(10)) { finished.get != nil }
        }
        #expect(finished.get == true)
        let statistics = second.broker.statistics
        // The second broker has no copy of the first's log here, so it gets the whole stream, once.
        #expect(statistics.lastSequence == UInt64(count))
        #expect(first.broker.lastSequence < UInt64(count), "the first broker went away mid-stream")
        #expect(worker.report.acknowledged == UInt64(count))
    }

    @Test("A producer whose broker hangs (connected, reading nothing, answering nothing) moves to the other broker; nothing is lost")
    func producerLeavesAHungBroker() throws {
        let context = try ZMQContext()
        defer { context.terminate() }
        // The hung broker: it subscribes and answers the first two POSITIONs (at start), then reads and
        // answers nothing, so the producer's sends towards it fill the queue and wait.
        let frontend = try ZMQSocket(context: context, type: .xsub)
        defer { frontend.close() }
        try frontend.setLinger(milliseconds: 0)
        try frontend.setReceiveHighWaterMark(1)
        try frontend.bind("tcp://127.0.0.1:*")
        let hungFrontend = try frontend.lastEndpoint!
        try frontend.send([[1]])
        let hungReplay = try ScriptedServer(context: context) { number, request in
            number <= 2 ? [ControlReply(id: ControlClientTests.requestID(request), BrokerAnswer.position(producerSequence: 0, last: 0)).frames()] : []
        }
        defer { hungReplay.stop() }
        let real = try RunningBroker(context: context)
        defer { real.remove() }
        var settings = ProducerSettings(frontends: [hungFrontend, real.frontend], replays: [hungReplay.endpoint, real.replay], producerID: "hung-producer")
        settings.sendHighWaterMark = 10
        let count = 50_000
        let worker = ProducerWorker(settings: settings, supply: SyntheticSupply(count: count, seed: 7), context: context, logger: Self.logger)
        let stopper = try LoopStopper(context: context, name: "hung-producer")
        defer { stopper.close() }
        let finished = Outcome<Bool>()
        let thread = Thread {
            finished.set((try? worker.run(stopper: stopper)) ?? false)
        }
        thread.start()
        // The hung broker's socket takes connections and sends its subscription (libzmq does that
        // when the owning thread calls into the socket) but never reads a message.
        let done = eventually(within: .seconds(60)) {
            _ = try? frontend.events
            return finished.get != nil
        }
        if !done {
            stopper.stop()
            _ = eventually(within: .seconds(10)) { finished.get != nil }
        }
        #expect(finished.get == true)
        #expect(worker.report.resent > 0, "events sent towards the hung broker were sent again to the other")
        let statistics = real.broker.statistics
        #expect(statistics.lastSequence == UInt64(count))
        #expect(worker.report.acknowledged == UInt64(count))
    }
}
