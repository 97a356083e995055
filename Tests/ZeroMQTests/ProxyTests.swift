import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct ProxyTests {
    @Test func proxyForwardsPublisherToSubscriberOverTCPPausesAndStops() throws {
        let context = try ZMQContext()
        let frontend = try ZMQSocket(context: context, type: .xsub)
        let backend = try ZMQSocket(context: context, type: .xpub)
        let frontendEndpoint = try frontend.bindAnyTCPPort()
        let backendEndpoint = try backend.bindAnyTCPPort()
        let proxy = try ZMQProxy(context: context, frontend: frontend, backend: backend)
        proxy.start()
        #expect(proxy.isRunning)

        let publisher = try ZMQSocket(context: context, type: .pub)
        try publisher.connect(frontendEndpoint)
        let subscriber = try ZMQSocket(context: context, type: .sub)
        try subscriber.subscribe("t.")
        try subscriber.connect(backendEndpoint)

        // The subscription must travel SUB -> XPUB -> proxy -> XSUB -> PUB before anything flows.
        #expect(try waitForSubscription(publisher: publisher, subscriber: subscriber, probe: ["t.probe"]))
        try publisher.send(["t.event", "payload"])
        try publisher.send(["u.other", "payload"])
        #expect(try subscriber.receive(waitingAtMost: 5000) { $0 != ["t.probe"] } == ["t.event", "payload"])

        proxy.pause()
        try publisher.send(["t.paused"])
        #expect(try subscriber.receive(waitingAtMost: 300) { $0 == ["t.paused"] } == nil)
        proxy.resume()
        #expect(try subscriber.receive(waitingAtMost: 5000) { $0 == ["t.paused"] } == ["t.paused"])

        proxy.stop()
        #expect(!proxy.isRunning)
        #expect(proxy.error == nil)
        proxy.stop()
        proxy.waitUntilStopped()
        // The proxy thread released the sockets.
        #expect(try frontend.lastEndpoint == frontendEndpoint)
    }

    @Test func proxyCopiesTrafficToTheCaptureSocket() throws {
        let context = try ZMQContext()
        let frontend = try ZMQSocket(context: context, type: .pull)
        let backend = try ZMQSocket(context: context, type: .push)
        let capture = try ZMQSocket(context: context, type: .push)
        let input = uniqueInproc(), output = uniqueInproc(), tap = uniqueInproc()
        try frontend.bind(input)
        try backend.bind(output)
        try capture.bind(tap)
        let producer = try ZMQSocket(context: context, type: .push)
        try producer.connect(input)
        let consumer = try ZMQSocket(context: context, type: .pull)
        try consumer.connect(output)
        let tapped = try ZMQSocket(context: context, type: .pull)
        try tapped.connect(tap)

        let proxy = try ZMQProxy(context: context, frontend: frontend, backend: backend, capture: capture)
        proxy.start()
        try producer.send(["job", "1"])
        #expect(try consumer.receive(waitingAtMost: 5000) == ["job", "1"])
        #expect(try tapped.receive(waitingAtMost: 5000) == ["job", "1"])
        proxy.stop()
    }

    @Test func proxyEndsWithETERMWhenTheContextTerminates() throws {
        let context = try ZMQContext()
        let frontend = try ZMQSocket(context: context, type: .xsub)
        let backend = try ZMQSocket(context: context, type: .xpub)
        try frontend.bind(uniqueInproc())
        try backend.bind(uniqueInproc())
        let proxy = try ZMQProxy(context: context, frontend: frontend, backend: backend)
        proxy.start()
        context.terminate()
        proxy.waitUntilStopped()
        #expect(proxy.error?.isTerminated == true, "proxy ended with \(String(describing: proxy.error))")
        #expect(frontend.isClosed && backend.isClosed)
        proxy.stop()
    }

    @Test func stoppingAProxyThatNeverStartedReturns() throws {
        let context = try ZMQContext()
        let frontend = try ZMQSocket(context: context, type: .xsub)
        let backend = try ZMQSocket(context: context, type: .xpub)
        let proxy = try ZMQProxy(context: context, frontend: frontend, backend: backend)
        proxy.stop()
        proxy.start()
        #expect(!proxy.isRunning)
    }
}
