import CZeroMQ
import Foundation
import Testing
@testable import ZeroMQ

/// Reads monitor events until one of `kind` arrives or `timeout` passes.
func waitForEvent(_ kind: MonitorEvent.Kind, on monitor: SocketMonitor, timeout: Duration = .seconds(10)) throws -> MonitorEvent? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let event = try monitor.next(timeoutMilliseconds: 100), event.kind == kind {
            return event
        }
    }
    return nil
}

@Suite(.timeLimit(.minutes(1)))
struct MonitorTests {
    @Test func monitorsReportListeningAcceptedAndConnected() throws {
        let context = try ZMQContext()
        let server = try ZMQSocket(context: context, type: .pull)
        let serverEvents = try server.monitor()
        let endpoint = try server.bindAnyTCPPort()
        let listening = try #require(try waitForEvent(.listening, on: serverEvents))
        #expect(listening.endpoint == endpoint)

        let client = try ZMQSocket(context: context, type: .push)
        let clientEvents = try client.monitor(events: [.connected, .connectDelayed])
        try client.connect(endpoint)
        let connected = try #require(try waitForEvent(.connected, on: clientEvents))
        #expect(connected.endpoint == endpoint)
        #expect(connected.value >= 0)  // the connection's file descriptor
        #expect(try waitForEvent(.accepted, on: serverEvents) != nil)

        clientEvents.close()
        #expect(throws: ZMQError.self) { try clientEvents.next(timeoutMilliseconds: 0) }
    }

    @Test func monitorReportsItsEndWhenTheSocketCloses() throws {
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, type: .pull)
        let events = try socket.monitor(events: .all)
        socket.close()
        #expect(try waitForEvent(.monitorStopped, on: events) != nil)
    }

    @Test func monitorEventKindsMapFromLibzmqNumbers() {
        #expect(MonitorEvent.Kind(rawValue: UInt16(ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) == .handshakeFailedAuth)
        #expect(MonitorEvent.Kind(rawValue: 0x8000) == .unknown(0x8000))
        #expect(MonitorEvent.Kinds.all.contains([.connected, .handshakeSucceeded]))
    }
}
