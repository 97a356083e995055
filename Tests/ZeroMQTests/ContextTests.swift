import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct ContextTests {
    @Test func terminateReturnsWhileAnOpenSocketHoldsUnsentMessages() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context: context, type: .push)
        // Connecting to an inproc name nobody binds queues messages that can never leave.
        try push.connect(uniqueInproc("nobody"))
        for _ in 0..<10 {
            #expect(try push.send(["stuck"], dontWait: true))
        }
        let started = ContinuousClock.now
        context.terminate()
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(push.isClosed)
        #expect(context.isShutDown)
        context.terminate()
    }

    @Test func terminateReturnsAfterClosingASocketWithUnsentMessages() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context: context, type: .push)
        try push.setLinger(milliseconds: 100)
        try push.connect(uniqueInproc("nobody"))
        try push.send(["stuck"])
        push.close()
        let started = ContinuousClock.now
        context.terminate()
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func droppingTheLastReferencesClosesAndTerminatesWithoutHanging() throws {
        let started = ContinuousClock.now
        do {
            let context = try ZMQContext()
            let push = try ZMQSocket(context: context, type: .push)
            try push.connect(uniqueInproc("nobody"))
            try push.send(["stuck"])
            // Both go out of scope here: the socket's deinit closes it, then the context's terminates.
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test func shutdownMakesABlockedReceiveOnAnotherThreadThrowETERM() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.bind(uniqueInproc())
        let outcome = Locked<Result<Message?, ZMQError>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            let result = Result { () throws(ZMQError) in try pull.receive() }
            outcome.withLock { $0 = result }
            finished.signal()
        }
        thread.start()

        context.shutdown()
        context.shutdown()
        #expect(finished.wait(timeout: .now() + 10) == .success)
        let result = try #require(outcome.withLock { $0 })
        guard case .failure(let error) = result else {
            Issue.record("receive returned \(result) instead of failing")
            return
        }
        #expect(error.isTerminated)
        #expect(error.operation == "zmq_msg_recv(PULL)")
        pull.close()
        context.terminate()
    }

    @Test func creatingASocketAfterShutdownThrowsETERM() throws {
        let context = try ZMQContext(ioThreads: 2)
        context.shutdown()
        let error = #expect(throws: ZMQError.self) { try ZMQSocket(context: context, type: .pub) }
        #expect(error?.isTerminated == true)
        context.terminate()
        context.terminate()
    }

    @Test func versionAndCapabilities() {
        let version = zmqVersion()
        #expect(version.major == 4 && version.minor >= 3)
        #expect(zmqHas("curve"))
        #expect(!zmqHas("no-such-capability"))
    }
}
