import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct SocketPatternTests {
    @Test func pubSubDeliversMatchingPrefixesOnlyAndNothingAfterUnsubscribe() throws {
        let context = try ZMQContext()
        let publisher = try ZMQSocket(context: context, type: .pub)
        let subscriber = try ZMQSocket(context: context, type: .sub)
        let endpoint = try publisher.bindAnyTCPPort()
        try subscriber.subscribe("a.")
        try subscriber.subscribe(Array("c.".utf8))
        try subscriber.connect(endpoint)

        #expect(try waitForSubscription(publisher: publisher, subscriber: subscriber, probe: ["a.probe"]))
        try publisher.send(["b.skipped", "x"])
        try publisher.send(["a.kept", "y"])
        let kept = try subscriber.receive(waitingAtMost: 5000) { $0 != ["a.probe"] }
        #expect(kept == ["a.kept", "y"])

        try subscriber.unsubscribe("a.")
        // SUB applies an unsubscription locally at once, so from here on no "a." message may arrive,
        // while "c." messages keep flowing. Publish both until a "c." one gets through.
        var seen: [Message] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while !seen.contains(["c.marker"]), ContinuousClock.now < deadline {
            try publisher.send(["a.after"])
            try publisher.send(["c.marker"])
            while let message = try subscriber.receive(waitingAtMost: 20) {
                seen.append(message)
            }
        }
        #expect(seen.contains(["c.marker"]))
        #expect(!seen.contains(["a.after"]))
    }

    @Test func xpubReceivesSubscribeAndUnsubscribeFramesFromXSub() throws {
        let context = try ZMQContext()
        let xpub = try ZMQSocket(context: context, type: .xpub)
        let xsub = try ZMQSocket(context: context, type: .xsub)
        let endpoint = uniqueInproc()
        try xpub.bind(endpoint)
        try xsub.connect(endpoint)
        try xpub.setReceiveTimeout(milliseconds: 5000)
        try xsub.setReceiveTimeout(milliseconds: 5000)

        try xsub.subscribe("news")
        #expect(try xpub.receive() == [Frame([1] + Array("news".utf8))])

        // The subscription has arrived, so a matching message reaches the XSUB socket.
        try xpub.send(["news.1", "body"])
        #expect(try xsub.receive() == ["news.1", "body"])

        try xsub.unsubscribe("news")
        #expect(try xpub.receive() == [Frame([0] + Array("news".utf8))])
    }

    @Test func xpubSeesSubscriptionFromPlainSub() throws {
        let context = try ZMQContext()
        let xpub = try ZMQSocket(context: context, type: .xpub)
        let sub = try ZMQSocket(context: context, type: .sub)
        let endpoint = try xpub.bindAnyTCPPort()
        try sub.connect(endpoint)
        try sub.subscribe("")
        try xpub.setReceiveTimeout(milliseconds: 5000)
        #expect(try xpub.receive() == [Frame([1])])
    }

    @Test func routerSeesDealerRoutingIdAndRoutesTheReplyBack() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        let dealer = try ZMQSocket(context: context, type: .dealer)
        let endpoint = try router.bindAnyTCPPort()
        try dealer.setRoutingId(Array("dealer-1".utf8))
        try dealer.connect(endpoint)
        try router.setReceiveTimeout(milliseconds: 5000)
        try dealer.setReceiveTimeout(milliseconds: 5000)

        try dealer.send(["hello"])
        let request = try #require(try router.receive())
        #expect(request == ["dealer-1", "hello"])

        try router.send([request[0], "world"])
        #expect(try dealer.receive() == ["world"])
    }

    @Test func mandatoryRouterRefusesUnknownRoutingId() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, type: .router)
        try router.setRouterMandatory(true)
        try router.bind(uniqueInproc())
        let error = #expect(throws: ZMQError.self) {
            try router.send(["nobody", "hi"])
        }
        #expect(error?.code == EHOSTUNREACH)
    }

    @Test func pushPullDeliversEveryMessageInOrder() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context: context, type: .push)
        let pull = try ZMQSocket(context: context, type: .pull)
        let endpoint = uniqueInproc()
        try pull.bind(endpoint)
        try push.connect(endpoint)
        try pull.setReceiveTimeout(milliseconds: 5000)

        for index in 0..<100 {
            try push.send([Frame("\(index)")])
        }
        for index in 0..<100 {
            #expect(try pull.receive() == [Frame("\(index)")])
        }
    }

    @Test func pairTalksBothWays() throws {
        let context = try ZMQContext()
        let left = try ZMQSocket(context: context, type: .pair)
        let right = try ZMQSocket(context: context, type: .pair)
        let endpoint = uniqueInproc()
        try left.bind(endpoint)
        try right.connect(endpoint)
        try left.setReceiveTimeout(milliseconds: 5000)
        try right.setReceiveTimeout(milliseconds: 5000)

        try left.send(["ping"])
        #expect(try right.receive() == ["ping"])
        try right.send(["pong"])
        #expect(try left.receive() == ["pong"])
    }

    @Test func requestReplyRoundTrip() throws {
        let context = try ZMQContext()
        let rep = try ZMQSocket(context: context, type: .rep)
        let req = try ZMQSocket(context: context, type: .req)
        let endpoint = uniqueInproc()
        try rep.bind(endpoint)
        try req.connect(endpoint)
        try rep.setReceiveTimeout(milliseconds: 5000)
        try req.setReceiveTimeout(milliseconds: 5000)

        try req.send(["question"])
        #expect(try rep.receive() == ["question"])
        try rep.send(["answer"])
        #expect(try req.receive() == ["answer"])
    }
}
