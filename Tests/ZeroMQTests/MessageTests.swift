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

    @Test func receivePartsReusesItsFramesAcrossMessagesOfAnySize() throws {
        let context = try ZMQContext()
        let (left, right) = try pair(context, tcp: false)
        #expect(try right.receiveParts(dontWait: true) { $0.count } == nil)
        let messages: [[[UInt8]]] = [
            [Array("t".utf8), [1], Array(repeating: 7, count: 300)],
            (0..<9).map { [UInt8($0)] },  // more frames than the socket's set holds at first
            [[]],
            [Array("again".utf8), [2, 3]],
        ]
        for message in messages { try left.send(message) }
        for message in messages {
            let frames = try right.receiveParts { parts in (0..<parts.count).map { Array(parts[$0]) } }
            #expect(frames == message)
        }
    }

    @Test func receivePartsInsideReceivePartsOnTheSameSocketGetsItsOwnFrames() throws {
        let context = try ZMQContext()
        let (left, right) = try pair(context, tcp: false)
        try left.send(["outer", "1"])
        try left.send(["inner", "2", "3"])
        let both = try right.receiveParts { outer -> ([[UInt8]], [[UInt8]]?) in
            let inner = try right.receiveParts { inner in (0..<inner.count).map { Array(inner[$0]) } }
            return ((0..<outer.count).map { Array(outer[$0]) }, inner)
        }
        #expect(both?.0 == [Array("outer".utf8), Array("1".utf8)])
        #expect(both?.1 == [Array("inner".utf8), Array("2".utf8), Array("3".utf8)])
        try left.send(["after"])
        #expect(try right.receiveParts { Array($0[0]) } == Array("after".utf8))
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
