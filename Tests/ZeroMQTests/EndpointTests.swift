import CZeroMQ
import Foundation
import Testing
@testable import ZeroMQ

@Suite(.timeLimit(.minutes(1)))
struct EndpointTests {
    @Test func lastEndpointReportsTheAssignedPort() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .pull)
        #expect(try socket.lastEndpoint == nil)
        let endpoint = try socket.bindAnyTCPPort()
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        #expect(port > 0 && port < 65536)
    }

    @Test func bindingAMalformedEndpointThrowsAnErrorNamingTheCall() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .pull)

        let badPort = #expect(throws: ZMQError.self) { try socket.bind("tcp://127.0.0.1:notaport") }
        #expect(badPort?.code == EINVAL)
        #expect(badPort?.operation == "zmq_bind(tcp://127.0.0.1:notaport)")
        #expect(badPort?.description == "zmq_bind(tcp://127.0.0.1:notaport) failed: Invalid argument (errno \(EINVAL))")

        let badTransport = #expect(throws: ZMQError.self) { try socket.bind("bogus://somewhere") }
        #expect(badTransport?.code == EPROTONOSUPPORT)
    }

    @Test func bindingTheSameTCPPortTwiceThrowsAddressInUse() throws {
        let context = try ZMQContext()
        let first = try ZMQSocket(context: context, type: .pull)
        let second = try ZMQSocket(context: context, type: .pull)
        let endpoint = try first.bindAnyTCPPort()
        let error = #expect(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error?.code == EADDRINUSE)
        #expect(error?.operation == "zmq_bind(\(endpoint))")
    }

    @Test func unbindFreesTheEndpointAndDisconnectStopsDelivery() throws {
        let context = try ZMQContext()
        let name = uniqueInproc()
        let first = try ZMQSocket(context: context, type: .pull)
        try first.bind(name)
        try first.unbind(name)
        #expect(throws: ZMQError(code: ENOENT, operation: "zmq_unbind(\(name))")) { try first.unbind(name) }
        // The name is free again.
        let second = try ZMQSocket(context: context, type: .pull)
        try second.bind(name)

        let pull = try ZMQSocket(context: context, type: .pull)
        let endpoint = try pull.bindAnyTCPPort()
        let push = try ZMQSocket(context: context, type: .push)
        try push.connect(endpoint)
        try push.send(["while connected"])
        #expect(try pull.receive(waitingAtMost: 5000) == ["while connected"])

        try push.disconnect(endpoint)
        #expect(throws: ZMQError(code: ENOENT, operation: "zmq_disconnect(\(endpoint))")) { try push.disconnect(endpoint) }
        #expect(try push.send(["after disconnect"], dontWait: true) == false)
    }

    @Test func closingTwiceIsHarmlessAndLaterCallsThrowENOTSOCK() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .push)
        #expect(!socket.isClosed)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        let error = #expect(throws: ZMQError.self) { try socket.send(["late"]) }
        #expect(error?.code == ENOTSOCK)
        #expect(throws: ZMQError.self) { try socket.bind(uniqueInproc()) }
    }

    @Test func errorsCompareByCodeAndOperation() {
        let error = ZMQError(code: ETERM, operation: "zmq_msg_recv(PULL)")
        #expect(error.isTerminated)
        #expect(error == ZMQError(code: ETERM, operation: "zmq_msg_recv(PULL)"))
        #expect(error != ZMQError(code: ETERM, operation: "zmq_send(PUSH)"))
        #expect(error != ZMQError(code: EAGAIN, operation: "zmq_msg_recv(PULL)"))
        #expect(!error.message.isEmpty)
    }
}
