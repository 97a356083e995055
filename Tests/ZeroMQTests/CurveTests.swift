import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct CurveTests {
    @Test func z85MatchesTheRFC32TestVector() {
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        #expect(Z85.encode(bytes) == "HelloWorld")
        #expect(Z85.decode("HelloWorld") == bytes)
    }

    @Test func z85RoundTripsAndRejectsBadInput() {
        let bytes = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let text = Z85.encode(bytes)
        #expect(text?.count == 40)
        #expect(text.flatMap(Z85.decode) == bytes)
        #expect(Z85.encode([1, 2, 3]) == nil)
        #expect(Z85.decode("Hello") != nil)
        #expect(Z85.decode("Hell") == nil)
        #expect(Z85.decode("Hell\"") == nil)
        #expect(Z85.encode([]) == "")
    }

    @Test func curveKeysValidateTheirForm() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.count == 40)
        #expect(pair.publicKey.bytes.count == 32)
        #expect(CurveKey(bytes: pair.secretKey.bytes) == pair.secretKey)
        #expect(CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(CurveKey(z85: "too short") == nil)
        #expect(CurveKey(bytes: [1, 2, 3, 4]) == nil)
        #expect(!pair.secretKey.description.contains(pair.secretKey.z85))
    }

    @Test func derivingFromTheSecretKeyGivesTheGeneratedPublicKey() throws {
        let generated = try CurveKeyPair.generate()
        let derived = try CurveKeyPair.derive(fromSecret: generated.secretKey)
        #expect(derived.publicKey == generated.publicKey)
        #expect(derived.secretKey == generated.secretKey)
        #expect(try CurveKeyPair.generate().publicKey != generated.publicKey)
    }

    @Test func encryptedPublishSubscribeRoundTrip() throws {
        #expect(zmqHas("curve"))
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let context = try ZMQContext()

        let publisher = try ZMQSocket(context: context, type: .xpub)
        try publisher.setCurveServer(secretKey: serverKeys.secretKey)
        #expect(try publisher.isCurveServer)
        let serverEvents = try publisher.monitor(events: [.handshakeSucceeded])
        let endpoint = try publisher.bindAnyTCPPort()

        let subscriber = try ZMQSocket(context: context, type: .sub)
        try subscriber.setCurveClient(publicKey: clientKeys.publicKey, secretKey: clientKeys.secretKey, serverKey: serverKeys.publicKey)
        #expect(try subscriber.curveServerKey == serverKeys.publicKey)
        #expect(try subscriber.curvePublicKey == clientKeys.publicKey)
        try subscriber.subscribe("secret.")
        try subscriber.connect(endpoint)

        // The subscription reaching XPUB means the CURVE handshake is done.
        #expect(try publisher.receive(waitingAtMost: 10_000) == [Frame([1] + Array("secret.".utf8))])
        #expect(try waitForEvent(.handshakeSucceeded, on: serverEvents) != nil)
        try publisher.send(["secret.plan", "attack at dawn"])
        #expect(try subscriber.receive(waitingAtMost: 5000) == ["secret.plan", "attack at dawn"])
    }

    @Test func clientWithTheWrongServerKeyNeverGetsIn() throws {
        let serverKeys = try CurveKeyPair.generate()
        let impostor = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let context = try ZMQContext()
        let server = try ZMQSocket(context: context, type: .pull)
        try server.setCurveServer(secretKey: serverKeys.secretKey)
        let serverEvents = try server.monitor()
        let endpoint = try server.bindAnyTCPPort()

        let client = try ZMQSocket(context: context, type: .push)
        try client.setCurveClient(publicKey: clientKeys.publicKey, secretKey: clientKeys.secretKey, serverKey: impostor.publicKey)
        try client.connect(endpoint)
        try client.send(["let me in"])
        let failure = try waitForEvent(.handshakeFailedProtocol, on: serverEvents)
        #expect(failure != nil)
        #expect(try server.receive(waitingAtMost: 100) == nil)
    }

    /// A ZAP handler (ZeroMQ RFC 27) that refuses every client with status 400 proves that the
    /// server's monitor reports the refusal as an authentication failure.
    @Test func zapRejectionShowsUpAsHandshakeFailedAuth() throws {
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let context = try ZMQContext()

        let zap = try ZMQSocket(context: context, type: .router)
        try zap.bind("inproc://zeromq.zap.01")

        let server = try ZMQSocket(context: context, type: .pull)
        try server.setCurveServer(secretKey: serverKeys.secretKey)
        try server.setZapDomain("timeline-test")
        try server.setZapEnforceDomain(true)
        let serverEvents = try server.monitor(events: [.handshakeFailedAuth, .handshakeSucceeded])
        let endpoint = try server.bindAnyTCPPort()

        let client = try ZMQSocket(context: context, type: .push)
        try client.setCurveClient(publicKey: clientKeys.publicKey, secretKey: clientKeys.secretKey, serverKey: serverKeys.publicKey)
        try client.connect(endpoint)
        try client.send(["should never arrive"])

        var poller = Poller()
        let zapIndex = poller.add(zap)
        let eventIndex = poller.add(serverEvents.socket)
        var requests: [Message] = []
        var outcome: MonitorEvent?
        let deadline = ContinuousClock.now + .seconds(20)
        while outcome == nil, ContinuousClock.now < deadline {
            let ready = Set(try poller.poll(timeoutMilliseconds: 100).map(\.index))
            if ready.contains(zapIndex), let request = try zap.receive(dontWait: true) {
                // [routing id, "", version, request id, domain, address, identity, mechanism, key]
                requests.append(request)
                try zap.send([request[0], "", "1.0", request[3], "400", "Not on the list", "", ""])
            }
            if ready.contains(eventIndex) {
                outcome = try serverEvents.next(timeoutMilliseconds: 0)
            }
        }

        let event = try #require(outcome)
        #expect(event.kind == .handshakeFailedAuth)
        #expect(event.value == 400)
        let request = try #require(requests.first)
        #expect(request.count == 9)
        #expect(request[2] == "1.0")
        #expect(request[4] == "timeline-test")
        #expect(request[7] == "CURVE")
        #expect(request[8].bytes == clientKeys.publicKey.bytes)
        #expect(try server.receive(dontWait: true) == nil)
    }

    /// With ZMQ_ZAP_ENFORCE_DOMAIN set and no handler at inproc://zeromq.zap.01, a CURVE server
    /// refuses every client instead of letting them in unauthenticated.
    @Test func enforcedZapDomainWithoutAHandlerFailsClosed() throws {
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let context = try ZMQContext()

        let server = try ZMQSocket(context: context, type: .pull)
        try server.setCurveServer(secretKey: serverKeys.secretKey)
        try server.setZapDomain("timeline-test")
        try server.setZapEnforceDomain(true)
        let serverEvents = try server.monitor()
        let endpoint = try server.bindAnyTCPPort()

        let client = try ZMQSocket(context: context, type: .push)
        try client.setCurveClient(publicKey: clientKeys.publicKey, secretKey: clientKeys.secretKey, serverKey: serverKeys.publicKey)
        try client.connect(endpoint)
        try client.send(["should never arrive"])

        var outcome: MonitorEvent?
        let deadline = ContinuousClock.now + .seconds(10)
        while outcome == nil, ContinuousClock.now < deadline {
            if let event = try serverEvents.next(timeoutMilliseconds: 100),
               [.handshakeSucceeded, .handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth].contains(event.kind) {
                outcome = event
            }
        }
        let event = try #require(outcome)
        // libzmq 4.3.4 reports the missing handler as a handshake failure without detail (EFAULT).
        #expect(event.kind == .handshakeFailedNoDetail, "handshake outcome: \(event)")
        #expect(event.value == EFAULT)
        #expect(try server.receive(dontWait: true) == nil)
    }
}
