import CZeroMQ
import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct OptionTests {
    @Test func everySocketStartsWithTheDefaultFiniteLinger() throws {
        let context = try ZMQContext()
        for type in SocketType.allCases {
            let socket = try ZMQSocket(context: context, type: type)
            #expect(try socket.linger == ZMQSocket.defaultLingerMilliseconds)
            #expect(try socket.int32Option(ZMQ_TYPE) == type.rawValue)
        }
    }

    @Test func optionsReadBackWhatWasSet() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)

        try socket.setSendHighWaterMark(123)
        #expect(try socket.sendHighWaterMark == 123)
        try socket.setReceiveHighWaterMark(456)
        #expect(try socket.receiveHighWaterMark == 456)
        try socket.setLinger(milliseconds: 25)
        #expect(try socket.linger == 25)
        try socket.setMaxMessageSize(1 << 20)
        #expect(try socket.maxMessageSize == 1 << 20)
        try socket.setHeartbeat(interval: 1000, timeout: 3000, ttl: 2500)
        let heartbeat = try socket.heartbeat
        #expect(heartbeat.interval == 1000 && heartbeat.timeout == 3000 && heartbeat.ttl == 2500)
        try socket.setTCPKeepalive(idle: 11, interval: 3, count: 4)
        let keepalive = try socket.tcpKeepalive
        #expect(keepalive.on == 1 && keepalive.idle == 11 && keepalive.interval == 3 && keepalive.count == 4)
        try socket.setReconnectInterval(milliseconds: 50, max: 2000)
        let reconnect = try socket.reconnectInterval
        #expect(reconnect.milliseconds == 50 && reconnect.max == 2000)
        try socket.setReceiveTimeout(milliseconds: 75)
        #expect(try socket.receiveTimeout == 75)
        try socket.setSendTimeout(milliseconds: 85)
        #expect(try socket.sendTimeout == 85)
        try socket.setImmediate(true)
        #expect(try socket.immediate)
        try socket.setRoutingId(Array("me".utf8))
        #expect(try socket.routingId == Array("me".utf8))
        try socket.setConflate(true)
        #expect(try socket.conflate)
        try socket.setZapDomain("global")
        #expect(try socket.zapDomain == "global")
    }

    /// ZMQ_ZAP_ENFORCE_DOMAIN is a draft option in libzmq 4.3; this build accepts and returns it.
    @Test func zapEnforceDomainIsAcceptedByThisLibzmq() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .pull)
        try socket.setZapEnforceDomain(true)
        #expect(try socket.zapEnforceDomain)
        try socket.setZapEnforceDomain(false)
        #expect(try !socket.zapEnforceDomain)
    }

    @Test func writeOnlyOptionsAreAcceptedOnTheirSocketTypes() throws {
        let context = try ZMQContext()
        let xpub = try ZMQSocket(context: context, type: .xpub)
        try xpub.setXPubVerbose(true)
        let router = try ZMQSocket(context: context, type: .router)
        try router.setRouterMandatory(true)
        // libzmq 4.3 cannot read ZMQ_ROUTER_MANDATORY back; the error names the option.
        let error = #expect(throws: ZMQError.self) { try router.int32Option(ZMQ_ROUTER_MANDATORY) }
        #expect(error?.operation == "zmq_getsockopt(ZMQ_ROUTER_MANDATORY)")
    }

    @Test func optionErrorsNameTheOption() throws {
        let context = try ZMQContext()
        let push = try ZMQSocket(context: context, type: .push)
        let error = #expect(throws: ZMQError.self) { try push.setXPubVerbose(true) }
        #expect(error?.code == EINVAL)
        #expect(error?.operation == "zmq_setsockopt(ZMQ_XPUB_VERBOSE)")
    }

    @Test func eventsAndFileDescriptorReflectReadiness() throws {
        let context = try ZMQContext()
        let left = try ZMQSocket(context: context, type: .pair)
        let right = try ZMQSocket(context: context, type: .pair)
        let endpoint = uniqueInproc()
        try left.bind(endpoint)
        try right.connect(endpoint)

        #expect(try left.fileDescriptor >= 0)
        #expect(try left.events.readable == false)
        #expect(try right.events.writable)
        try right.send(["wake"])
        #expect(try left.receive(waitingAtMost: 5000) == nil ? false : true)
        #expect(try left.events.readable == false)
    }

    @Test func oversizeMessageIsDroppedWithItsConnectionWhileOthersGetThrough() throws {
        let context = try ZMQContext()
        let pull = try ZMQSocket(context: context, type: .pull)
        try pull.setMaxMessageSize(1024)
        let events = try pull.monitor(events: [.accepted, .disconnected])
        let endpoint = try pull.bindAnyTCPPort()

        let big = try ZMQSocket(context: context, type: .push)
        try big.connect(endpoint)
        try big.send([Frame([UInt8](repeating: 7, count: 4096))])

        // The receiver drops the connection that carried the oversize message.
        var sawDisconnect = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !sawDisconnect, ContinuousClock.now < deadline {
            sawDisconnect = try events.next(timeoutMilliseconds: 100)?.kind == .disconnected
        }
        #expect(sawDisconnect)

        let small = try ZMQSocket(context: context, type: .push)
        try small.connect(endpoint)
        try small.send(["small"])
        #expect(try pull.receive(waitingAtMost: 5000) == ["small"])
        #expect(try pull.receive(waitingAtMost: 200) == nil)
    }
}
