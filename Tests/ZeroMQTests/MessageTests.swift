import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct MessageTests {
    /// A connected PAIR couple with a receive timeout so a broken test fails instead of hanging.
    private func pair(_ context: ZMQContext, tcp: Bool) throws -> (ZMQSocket, ZMQSocket) {
        let left = try ZMQSocket(context: context, type: .pair)
        let right = try ZMQSocket(context: context, type: .pair)
        let endpoint = tcp ? try left.bindAnyTCPPort() : uniqueInproc()
        if !tcp { try left.bind(endpoint) }
        try right.connect(endpoint)
        try left.setReceiveTimeout(milliseconds: 5000)
        try right.setReceiveTimeout(milliseconds: 5000)
        return (left, right)
    }

    @Test(arguments: [false, true])
    func multipartRoundTripKeepsEmptyAndLargeFrames(tcp: Bool) throws {
        let context = try ZMQContext()
        let (left, right) = try pair(context, tcp: tcp)
        let large = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let message: Message = ["", "head", Frame(large), "", Frame([0, 255, 0])]

        #expect(try left.send(message))
        let received = try #require(try right.receive())
        #expect(received.count == 5)
        #expect(received == message)
    }

    @Test func byteArrayAndTopicPayloadSendsArriveAsFrames() throws {
        let context = try ZMQContext()
        let (left, right) = try pair(context, tcp: false)

        try left.send([[1, 2], [], [3]])
        #expect(try right.receive() == [Frame([1, 2]), Frame([]), Frame([3])])

        try left.send(topic: Array("topic".utf8), payload: [9, 8, 7])
        #expect(try right.receive() == ["topic", Frame([9, 8, 7])])
    }

    @Test func receiveRawHandsOverEveryFrame() throws {
        let context = try ZMQContext()
        let (left, right) = try pair(context, tcp: false)
        #expect(try right.receiveRaw(dontWait: true) { $0.count } == nil)

        try left.send(["alpha", "", "gamma"])
        let frames = try right.receiveRaw { buffers in buffers.map { Array($0) } }
        #expect(frames == [Array("alpha".utf8), [], Array("gamma".utf8)])
    }

    @Test func receiveRawClosesMessagesWhenBodyThrows() throws {
        let context = try ZMQContext()
        let (left, right) = try pair(context, tcp: false)
        try left.send(["one"])
        try left.send(["two"])
        #expect(throws: TestFailure.self) {
            _ = try right.receiveRaw { _ in throw TestFailure(description: "body failed") }
        }
        // The failed call consumed "one"; the socket keeps working.
        #expect(try right.receive() == ["two"])
    }

    @Test func nonBlockingReceiveOnEmptyQueueReturnsNil() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.bind(uniqueInproc())
        #expect(try pull.receive(dontWait: true) == nil)
    }

    @Test func blockingReceiveReturnsNilWhenReceiveTimeoutExpires() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.bind(uniqueInproc())
        try pull.setReceiveTimeout(milliseconds: 50)
        #expect(try pull.receive() == nil)
    }

    @Test func nonBlockingSendWithoutPeerReturnsFalse() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context: context, type: .push)
        #expect(try push.send(["nobody listens"], dontWait: true) == false)
        #expect(try push.send(topic: [1], payload: [2], dontWait: true) == false)
    }

    @Test func sendingAnEmptyMessageThrowsEINVAL() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context: context, type: .push)
        let error = #expect(throws: ZMQError.self) { try push.send([] as Message) }
        #expect(error?.code == EINVAL)
    }

    @Test func frameConvertsStringsAndRejectsInvalidUTF8() {
        let frame: Frame = "héllo"
        #expect(frame.string == "héllo")
        #expect(frame.count == 6)
        #expect(Frame([0xff, 0xfe]).string == nil)
        #expect(Frame([0xff, 0x01]).description == "0xff01")
        #expect(frame.description == "\"héllo\"")
    }
}
