import Testing
import Timeline
@testable import TimelinePipeline

@Suite("Replication window")
struct ReplicationWindowTests {
    static let topic = "visit.MN.KP"

    /// Records in the log's framing, each body `bodySize` bytes of its sequence's low byte.
    static func records(_ sequences: ClosedRange<UInt64>, producer: String = "p", producerSequence: (UInt64) -> UInt64 = { $0 },
                        bodySize: Int = 16) -> [UInt8] {
        var bytes: [UInt8] = []
        for sequence in sequences {
            let header = WireHeader(producerSequence: producerSequence(sequence), producer: producer).encoded()
            let body = [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: bodySize)
            let topic = Array(Self.topic.utf8)
            try! topic.withUnsafeBytes { topic in
                try header.withUnsafeBytes { header in
                    try body.withUnsafeBytes { body in
                        try LogRecordFormat.append(topic: topic, header: header, body: body, sequence: sequence, to: &bytes)
                    }
                }
            }
        }
        return bytes
    }

    /// Releases through `sequence` and returns the sequences published, in order.
    static func release(_ window: inout ReplicationWindow, through sequence: UInt64) throws -> [UInt64] {
        var published: [UInt64] = []
        let count = try window.release(through: sequence) { topic, header, body in
            let decoded = try WireHeader.decode(header)
            #expect(String(decoding: topic, as: UTF8.self) == Self.topic)
            #expect(body.allSatisfy { $0 == UInt8(truncatingIfNeeded: decoded.sequence) })
            published.append(decoded.sequence)
        }
        #expect(count == published.count)
        return published
    }

    static func hold(_ window: inout ReplicationWindow, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { window.hold($0) }
    }

    @Test("Holding that begins behind the log keeps the unacknowledged records, publishes them no second time, and sets positions before them")
    func beginsBehindTheLog() throws {
        var window = ReplicationWindow()
        let behind = Self.records(3...5)
        try behind.withUnsafeBytes { bytes in
            try window.begin(positions: ["p": 5, "other": 9], unacknowledged: bytes, publishedThrough: 5)
        }
        #expect(window.committedPositions == ["p": 2, "other": 9], "p's position goes back to before its first unacknowledged record")
        var published: [UInt64] = []
        let released = try window.release(through: 4) { _, header, _ in published.append(try WireHeader.decode(header).sequence) }
        #expect(released == 2 && published == [], "records published before holding began are released, not published again")
        #expect(window.committedPositions["p"] == 4)
        Self.hold(&window, Self.records(6...7))
        let rest = try window.release(through: 7) { _, header, _ in published.append(try WireHeader.decode(header).sequence) }
        #expect(rest == 3 && published == [6, 7])
        #expect(window.committedPositions["p"] == 7)
        #expect(window.isEmpty)
    }

    @Test("The held records are handed out from the first held sequence only, whole, within the byte budget")
    func recordsFromTheFirstHeld() throws {
        var window = ReplicationWindow()
        try window.begin(positions: [:], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        #expect(try window.records(from: 1, maxBytes: 1 << 20) == nil, "nothing is held")
        let bytes = Self.records(1...10)
        Self.hold(&window, bytes)
        let all = try #require(try window.records(from: 1, maxBytes: 1 << 20))
        #expect(all.bytes == bytes && all.count == 10 && all.last == 10)
        #expect(try window.records(from: 2, maxBytes: 1 << 20) == nil, "a request that does not start at the first held record reads the log")
        let recordSize = bytes.count / 10
        let some = try #require(try window.records(from: 1, maxBytes: recordSize * 3 + 1))
        #expect(some.count == 3 && some.last == 3 && some.bytes == Array(bytes[..<(recordSize * 3)]))
        let one = try #require(try window.records(from: 1, maxBytes: 1))
        #expect(one.count == 1, "at least one record, whatever the budget")
        _ = try window.release(through: 4) { _, _, _ in }
        #expect(try window.records(from: 5, maxBytes: 1 << 20)?.count == 6)
    }

    @Test("A producer message rejected while records are held moves the producer's position once what came before is released")
    func rejectedMessageWhileHolding() throws {
        var window = ReplicationWindow()
        try window.begin(positions: ["p": 0], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        Self.hold(&window, Self.records(1...3))
        window.skip(producer: "p", producerSequence: 4, after: 3)
        _ = try window.release(through: 2) { _, _, _ in }
        #expect(window.committedPositions["p"] == 2, "the rejected message waits for the records before it")
        _ = try window.release(through: 3) { _, _, _ in }
        #expect(window.committedPositions["p"] == 4)
        // Another producer's rejected message after nothing held is applied at the next release.
        window.skip(producer: "q", producerSequence: 1, after: 3)
        _ = try window.release(through: 3) { _, _, _ in }
        #expect(window.committedPositions["q"] == 1)
    }

    @Test("Held records are released in order, only up to the sequence acknowledged")
    func releasesInOrder() throws {
        var window = ReplicationWindow()
        try window.begin(positions: [:], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        #expect(window.isEmpty)
        let bytes = Self.records(1...10)
        Self.hold(&window, Array(bytes))
        #expect(!window.isEmpty && window.heldBytes == bytes.count)
        #expect(try Self.release(&window, through: 0) == [])
        #expect(try Self.release(&window, through: 3) == [1, 2, 3])
        #expect(try Self.release(&window, through: 3) == [], "nothing is released twice")
        #expect(try Self.release(&window, through: 2) == [], "an older acknowledgement releases nothing")
        Self.hold(&window, Self.records(11...12))
        #expect(try Self.release(&window, through: 11) == Array(4...11))
        #expect(!window.isEmpty)
        #expect(try Self.release(&window, through: .max) == [12])
        #expect(window.isEmpty && window.heldBytes == 0)
    }

    @Test("The bytes held shrink by each record released")
    func heldBytesShrink() throws {
        var window = ReplicationWindow()
        try window.begin(positions: [:], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        let first = Self.records(1...1)
        Self.hold(&window, first + Self.records(2...3))
        let total = window.heldBytes
        _ = try Self.release(&window, through: 1)
        #expect(window.heldBytes == total - first.count)
    }

    @Test("Committed positions start from the log's and advance per producer only over records released")
    func committedPositions() throws {
        var window = ReplicationWindow()
        try window.begin(positions: ["a": 40, "old": 7], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        #expect(window.committedPositions == ["a": 40, "old": 7])
        // Records 1...4 from producer a (its sequences 41...44), 5...6 from b (its 1...2), 7 without a producer.
        Self.hold(&window, Self.records(1...4, producer: "a", producerSequence: { $0 + 40 }))
        Self.hold(&window, Self.records(5...6, producer: "b", producerSequence: { $0 - 4 }))
        Self.hold(&window, Self.records(7...7, producer: "", producerSequence: { _ in 0 }))
        _ = try Self.release(&window, through: 2)
        #expect(window.committedPositions == ["a": 42, "old": 7])
        _ = try Self.release(&window, through: 5)
        #expect(window.committedPositions == ["a": 44, "b": 1, "old": 7])
        _ = try Self.release(&window, through: 7)
        #expect(window.committedPositions == ["a": 44, "b": 2, "old": 7], "a record without a producer moves no position")
    }

    @Test("A producer's committed position never goes back")
    func positionsNeverGoBack() throws {
        var window = ReplicationWindow()
        try window.begin(positions: ["a": 100], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        Self.hold(&window, Self.records(1...3, producer: "a", producerSequence: { $0 + 50 }))
        _ = try Self.release(&window, through: 3)
        #expect(window.committedPositions == ["a": 100])
    }

    @Test("Dropping forgets every record held, and a new begin starts from the positions given")
    func drop() throws {
        var window = ReplicationWindow()
        try window.begin(positions: ["a": 1], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        Self.hold(&window, Self.records(1...5, producer: "a"))
        _ = try Self.release(&window, through: 2)
        window.drop()
        #expect(window.isEmpty && window.heldBytes == 0)
        #expect(try Self.release(&window, through: .max) == [])
        try window.begin(positions: ["z": 9], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        #expect(window.committedPositions == ["z": 9])
        Self.hold(&window, Self.records(6...7, producer: "a"))
        #expect(try Self.release(&window, through: .max) == [6, 7])
    }

    @Test("A publisher that fails stops the release after the records it took; the rest stay held")
    func failingPublisher() throws {
        struct Refused: Error {}
        var window = ReplicationWindow()
        try window.begin(positions: [:], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        Self.hold(&window, Self.records(1...5))
        var calls = 0
        #expect(throws: Refused.self) {
            try window.release(through: .max) { _, _, _ in
                calls += 1
                if calls == 3 { throw Refused() }
            }
        }
        #expect(try Self.release(&window, through: .max) == [3, 4, 5])
    }

    @Test("Releases of many megabytes compact the held bytes and lose or repeat no record")
    func largeReleases() throws {
        var window = ReplicationWindow()
        try window.begin(positions: [:], unacknowledged: UnsafeRawBufferPointer(start: nil, count: 0), publishedThrough: 0)
        // 150 records of 64 KiB, past the 8 MiB of released bytes at which the window drops them.
        Self.hold(&window, Self.records(1...150, bodySize: 64 << 10))
        let held = window.heldBytes
        #expect(held > 9 << 20)
        var published = try Self.release(&window, through: 140)
        #expect(published == Array(1...140))
        #expect(window.heldBytes == held - 140 * (held / 150))
        Self.hold(&window, Self.records(151...200, bodySize: 64 << 10))
        published = try Self.release(&window, through: 145)
        #expect(published == Array(141...145))
        published = try Self.release(&window, through: 200)
        #expect(published == Array(146...200))
        #expect(window.isEmpty)
    }
}
