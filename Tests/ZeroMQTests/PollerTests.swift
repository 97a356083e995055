import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct PollerTests {
    @Test func pollTimesOutEmptyThenReportsTheReadySocket() throws {
        let context = try ZMQContext()
        var pulls: [ZMQSocket] = []
        var pushes: [ZMQSocket] = []
        var poller = Poller()
        for index in 0..<3 {
            let pull = try ZMQSocket(context: context, type: .pull)
            let push = try ZMQSocket(context: context, type: .push)
            let endpoint = uniqueInproc()
            try pull.bind(endpoint)
            try push.connect(endpoint)
            #expect(poller.add(pull) == index)
            pulls.append(pull)
            pushes.append(push)
        }

        let started = ContinuousClock.now
        #expect(try poller.poll(timeoutMilliseconds: 50).isEmpty)
        #expect(ContinuousClock.now - started >= .milliseconds(40))
        #expect(try poller.poll(timeoutMilliseconds: 0).isEmpty)

        try pushes[1].send(["for one"])
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [PollResult(index: 1, readable: true, writable: false)])
        #expect(try pulls[1].receive(dontWait: true) == ["for one"])

        try pushes[0].send(["a"])
        try pushes[2].send(["c"])
        var ready: Set<Int> = []
        let deadline = ContinuousClock.now + .seconds(5)
        while ready.count < 2, ContinuousClock.now < deadline {
            ready.formUnion(try poller.poll(timeoutMilliseconds: 100).map(\.index))
        }
        #expect(ready == [0, 2])
    }

    @Test func pollReportsWritability() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context: context, type: .push)
        var poller = Poller()
        poller.add(push, readable: false, writable: true)
        // Without a peer a PUSH socket cannot send.
        #expect(try poller.poll(timeoutMilliseconds: 20).isEmpty)
        let pull = try ZMQSocket(context: context, type: .pull)
        let endpoint = uniqueInproc()
        try pull.bind(endpoint)
        try push.connect(endpoint)
        #expect(try poller.poll(timeoutMilliseconds: 5000) == [PollResult(index: 0, readable: false, writable: true)])
    }

    @Test func pollingAClosedSocketThrowsENOTSOCK() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        var poller = Poller()
        poller.add(pull)
        pull.close()
        let error = #expect(throws: ZMQError.self) { try poller.poll(timeoutMilliseconds: 0) }
        #expect(error?.code == ENOTSOCK)
    }
}
