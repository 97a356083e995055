import Testing
import Timeline

@Suite("The wire format")
struct WireFormatTests {
    let event = Fixtures.visit("1956-07-16/1956-07-18", "KP", "MN", guest: "Premier Kim Il Sung", place: "Ulaanbaatar")

    @Test("A message is topic, header and JSON body, and decodes back to the same event and header")
    func roundTrip() throws {
        let header = WireHeader(sequence: 42, producerSequence: 7, producer: "producer-1")
        let frames = WireMessage(header: header, event: event).frames()
        #expect(frames.count == 3)
        #expect(String(decoding: frames[0], as: UTF8.self) == "visit.KP.MN")
        #expect(frames[1].count == WireHeader.minimumSize + 10)
        let decoded = try WireMessage.decode(frames)
        #expect(decoded.header == header)
        #expect(decoded.event.id == event.id)
        #expect(decoded.event == event)
    }

    @Test("The header layout is the documented one: version, encoding, two big-endian u64, id length, id")
    func headerLayout() {
        let bytes = WireHeader(sequence: 0x0102030405060708, producerSequence: 9, producer: "ab").encoded()
        #expect(bytes == [1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9, 2, 0x61, 0x62])
    }

    @Test("Headers read through one producer-id cache give each header's own id, whatever came before")
    func producerIDCache() throws {
        // Ids of the same length that differ in one byte (before, at and after the eighth), empty,
        // long, non-ASCII, and the same id again.
        let ids = ["producer-1", "producer-2", "producer-1", "aroducer-1", "", "", "p", "q", "abcdefgh", "abcdefgX", "abcdefghi",
                   "abcdefgXi", "abcdefghj", String(repeating: "x", count: 255), String(repeating: "x", count: 254) + "y", "Ulaanbaatar — Улаанбаатар",
                   "Ulaanbaatar — Улаанбаатар", "producer-1"]
        var cache = ProducerIDCache()
        for (index, id) in ids.enumerated() {
            let header = WireHeader(sequence: UInt64(index + 1), producerSequence: 3, producer: id)
            let decoded = try header.encoded().withUnsafeBytes { try WireHeader.decode($0, cache: &cache) }
            #expect(decoded == header)
        }
        var bad = WireHeader(producer: "ab").encoded()
        bad[bad.count - 1] = 0xFF
        #expect(throws: WireError.malformed("the producer id is not UTF-8")) { try bad.withUnsafeBytes { try WireHeader.decode($0, cache: &cache) } }
    }

    @Test("Stamping a sequence or a producer sequence rewrites only those bytes")
    func stamp() throws {
        var bytes = WireHeader(sequence: 0, producerSequence: 5, producer: "p").encoded()
        WireHeader.stamp(sequence: 300, into: &bytes)
        let header = try WireHeader.decode(bytes)
        #expect(header.sequence == 300)
        #expect(header.producerSequence == 5)
        #expect(header.producer == "p")
        WireHeader.stamp(producerSequence: UInt64.max - 1, into: &bytes)
        let restamped = try WireHeader.decode(bytes)
        #expect(restamped.sequence == 300)
        #expect(restamped.producerSequence == UInt64.max - 1)
        #expect(restamped.producer == "p")
    }

    @Test("Malformed messages are rejected with the reason")
    func rejects() {
        let good = WireMessage(header: WireHeader(), event: event).frames()
        #expect(throws: WireError.wrongFrameCount(2)) { try WireMessage.decode(Array(good.prefix(2))) }
        var badVersion = good
        badVersion[1][0] = 9
        #expect(throws: WireError.unsupportedVersion(9)) { try WireMessage.decode(badVersion) }
        var short = good
        short[1] = [1, 0, 0]
        #expect(throws: WireError.self) { try WireMessage.decode(short) }
        var wrongLength = good
        wrongLength[1][18] = 5
        #expect(throws: WireError.self) { try WireMessage.decode(wrongLength) }
        var wrongTopic = good
        wrongTopic[0] = Array("visit.MN.KP".utf8)
        #expect(throws: WireError.topicMismatch(expected: "visit.KP.MN", actual: "visit.MN.KP")) { try WireMessage.decode(wrongTopic) }
        var badBody = good
        badBody[2] = Array(#"{"kind":"visit"}"#.utf8)
        #expect(throws: WireError.self) { try WireMessage.decode(badBody) }
        var notUTF8 = good
        notUTF8[2] = [0xFF, 0xFE]
        #expect(throws: WireError.malformed("the body is not UTF-8")) { try WireMessage.decode(notUTF8) }
    }

    @Test("A batch body gives back each event's topic and body in order, and a cut-off batch is an error after the whole events")
    func batches() throws {
        let events = (0..<5).map { SyntheticEvents.event($0, seed: 2) }
        var batch: [UInt8] = []
        for event in events { WireBatch.append(topic: Array(event.topic.utf8), body: Array(EventJSON.encode(event).utf8), to: &batch) }
        var seen: [(String, TimelineEvent)] = []
        try batch.withUnsafeBytes { bytes in
            try WireBatch.forEachEvent(in: bytes) { topic, body in
                seen.append((String(decoding: topic, as: UTF8.self), try EventJSON.decode(String(decoding: body, as: UTF8.self), fallbackSource: Provenance(document: "x"))))
            }
        }
        #expect(seen.map(\.0) == events.map(\.topic))
        #expect(seen.map(\.1) == events)
        var whole = 0
        #expect(throws: WireError.self) {
            try Array(batch.dropLast(3)).withUnsafeBytes { bytes in try WireBatch.forEachEvent(in: bytes) { _, _ in whole += 1 } }
        }
        #expect(whole == 4)
        #expect(try WireHeader.decode(WireHeader(encoding: .batch, producerSequence: 9, producer: "p").encoded()).encoding == .batch)
        let single = WireMessage(header: WireHeader(encoding: .batch), event: events[0]).frames()
        #expect(throws: WireError.self) { try WireMessage.decode(single) }
    }
}
