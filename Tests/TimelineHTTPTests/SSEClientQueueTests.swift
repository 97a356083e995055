import Testing
@testable import TimelineHTTP

@Suite("Server-Sent Events client queue")
struct SSEClientQueueTests {
    static func message(_ size: Int, _ byte: UInt8 = 0x61) -> [UInt8] { [UInt8](repeating: byte, count: size) }

    @Test("A new client is sent the whole state first")
    func newClientStartsWithAResync() {
        var queue = SSEClientQueue(limitBytes: 100)
        queue.push(Self.message(10))
        #expect(queue.take() == .resync)
        #expect(queue.take() == nil)
        #expect(queue.droppedMessages == 1)
        #expect(queue.resyncs == 0)
    }

    @Test("Messages are taken in order, all at once, and the queue is then empty")
    func messagesInOrder() {
        var queue = SSEClientQueue(limitBytes: 100, startsWithResync: false)
        queue.push(Self.message(10, 1))
        queue.push(Self.message(20, 2))
        #expect(queue.queuedBytes == 30)
        #expect(queue.take() == .messages([Self.message(10, 1), Self.message(20, 2)]))
        #expect(queue.isEmpty && queue.queuedBytes == 0)
        #expect(queue.take() == nil)
    }

    @Test("A client that falls behind loses its queue, never holds more than its limit, and is resynced")
    func overflowDropsAndResyncs() {
        var queue = SSEClientQueue(limitBytes: 100, startsWithResync: false)
        var accepted = 0
        for _ in 0..<1_000 {
            if queue.push(Self.message(30)) { accepted += 1 }
            #expect(queue.queuedBytes <= 100)
        }
        #expect(accepted == 999)
        #expect(queue.resyncs == 1)
        #expect(queue.droppedMessages == 1_000)
        #expect(queue.take() == .resync)
        // Back in step: messages are queued again, and a second overflow counts again.
        queue.push(Self.message(60))
        queue.push(Self.message(60))
        #expect(queue.resyncs == 2)
        #expect(queue.take() == .resync)
        queue.push(Self.message(5))
        #expect(queue.take() == .messages([Self.message(5)]))
    }

    @Test("A message with newlines becomes one data line each, so it cannot end the event early")
    func framingSplitsLines() {
        let framed = String(decoding: serverSentEvent("event", data: "{\"a\":\n1,\r\n\"b\":\r2}"), as: UTF8.self)
        #expect(framed == "event: event\ndata: {\"a\":\ndata: 1,\ndata: \"b\":\ndata: 2}\n\n")
    }

    @Test("Data without a line break is one data line, as written")
    func dataWithoutBreaksIsOneLine() {
        #expect(String(decoding: serverSentEvent("stats", data: "{\"a\":1}"), as: UTF8.self) == "event: stats\ndata: {\"a\":1}\n\n")
    }
}
