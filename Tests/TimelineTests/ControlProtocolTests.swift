import Testing
import Timeline

@Suite("Control protocol codecs")
struct ControlProtocolTests {
    static let brokerCommands: [BrokerCommand] = [
        .head, .stats, .position(producer: "bundled.w0"),
        .replay(ReplayQuery(after: 7, maxCount: 100)),
        .chunk(ReplayQuery(after: 1 << 40, maxCount: 20_000, prefixes: [Array("visit.MN".utf8), Array("aid".utf8)])),
        .replay(ReplayQuery(after: 0, maxCount: 100, since: 1_795_996_800_000)),
        .chunk(ReplayQuery(after: 12, maxCount: 500, prefixes: [Array("visit".utf8)], since: 0)),
        .chunk(ReplayQuery(after: .max, maxCount: .max, since: .min)),
        .consumed(consumer: "aggregator", sequence: 12_345), .consumed(consumer: "snapshot-ß", sequence: 0),
        .follow(ReplayQuery(after: 99, maxCount: 20_000), waitMilliseconds: 250),
        .follow(ReplayQuery(after: 0, maxCount: 1, prefixes: [Array("visit.KP".utf8)], since: 1_795_996_800_000), waitMilliseconds: .max),
    ]

    static let brokerAnswers: [BrokerAnswer] = [
        .head(last: 42), .stats(json: Array("{\"accepted\":1}".utf8)), .position(producerSequence: 3, last: 9),
        .batch(last: 9, scannedThrough: 8, frames: [Array("visit.MN.KP".utf8), [1, 0], Array("{}".utf8)]),
        .chunk(last: 9, scannedThrough: 9, records: [0, 1, 2, 3]), .error("the broker could not read its log"), .passive("this broker is passive"), .trimmed(first: 5_001, last: 9_000),
    ]

    @Test("Every broker request round-trips, with a request id and, where the first version allows, without",
          arguments: brokerCommands)
    func brokerRequestsRoundTrip(_ command: BrokerCommand) throws {
        let request = ControlRequest(id: 77, command)
        #expect(try ControlRequest<BrokerCommand>.decode(request.frames()) == request)
        switch command {
        case .replay, .chunk, .consumed, .follow: break
        default:
            let plain = ControlRequest<BrokerCommand>(id: nil, command)
            #expect(try ControlRequest<BrokerCommand>.decode(plain.frames()) == plain)
        }
    }

    @Test("Every broker reply round-trips and carries the id of its request", arguments: brokerAnswers)
    func brokerRepliesRoundTrip(_ answer: BrokerAnswer) throws {
        let reply = ControlReply(id: 9_000, answer)
        let frames = reply.frames()
        #expect(ControlProtocol.requestID(ofReply: frames) == 9_000)
        #expect(try ControlReply<BrokerAnswer>.decode(frames) == reply)
    }

    @Test("First-version requests read as before: HEAD alone, POSITION with only a producer id")
    func firstVersionRequests() throws {
        #expect(try BrokerCommand.decode([Array("HEAD".utf8)]) == (nil, .head))
        let position = try BrokerCommand.decode([Array("POSITION".utf8), Array("p1".utf8)])
        #expect(position.id == nil && position.message == .position(producer: "p1"))
        // The reply to a request without an id has none either, and keeps the first version's frames.
        #expect(ControlReply(id: nil, BrokerAnswer.head(last: 5)).frames() == [Array("HEAD".utf8), [0, 0, 0, 0, 0, 0, 0, 5]])
    }

    @Test("A CONSUMED without a name, with a name over 255 bytes, or with a short sequence is refused, keeping its request id")
    func badConsumed() {
        let id = [UInt8](bigEndian: UInt64(5))
        for frames: [[UInt8]] in [
            [Array("CONSUMED".utf8), id, [], [UInt8](bigEndian: UInt64(1))],
            [Array("CONSUMED".utf8), id, [UInt8](repeating: 0x61, count: 256), [UInt8](bigEndian: UInt64(1))],
            [Array("CONSUMED".utf8), id, Array("a".utf8), [1, 2, 3]],
            [Array("CONSUMED".utf8), id, Array("a".utf8)],
        ] {
            #expect(throws: ControlProtocolError.self) { try BrokerCommand.decode(frames) }
            do {
                _ = try BrokerCommand.decode(frames)
            } catch {
                #expect(error.requestID == 5)
            }
        }
    }

    @Test("A REPLAY or CHUNK whose prefixes include an empty one asks for every topic, as no prefix does")
    func emptyPrefixMeansEverything() throws {
        let frames = ControlRequest(id: 1, BrokerCommand.chunk(ReplayQuery(after: 0, maxCount: 5, prefixes: [Array("visit".utf8), []]))).frames()
        #expect(try BrokerCommand.decode(frames).message == .chunk(ReplayQuery(after: 0, maxCount: 5, prefixes: [])))
    }

    @Test("A REPLAY or CHUNK without a start time keeps the first form: an 8-byte start frame, read back with no time")
    func queriesWithoutTimeKeepTheirFrames() throws {
        let frames: [[UInt8]] = [Array("CHUNK".utf8), [UInt8](bigEndian: UInt64(4)), [UInt8](bigEndian: UInt64(10)), [UInt8](bigEndian: UInt32(50)),
                                 Array("visit.MN".utf8)]
        let decoded = try BrokerCommand.decode(frames)
        #expect(decoded.id == 4)
        #expect(decoded.message == .chunk(ReplayQuery(after: 10, maxCount: 50, prefixes: [Array("visit.MN".utf8)])))
        #expect(ControlRequest(id: 4, decoded.message).frames() == frames)
    }

    @Test("A start time travels as an i64 of milliseconds after the u64 sequence, in the same frame")
    func startTimeSharesTheStartFrame() throws {
        let since: Int64 = 1_795_996_800_000  // 2026-11-30T00:00:00Z
        let frames = ControlRequest(id: 3, BrokerCommand.replay(ReplayQuery(after: 9, maxCount: 10, since: since))).frames()
        #expect(frames.count == 4)
        #expect(frames[2] == [UInt8](bigEndian: UInt64(9)) + [UInt8](bigEndian: since))
        #expect(try BrokerCommand.decode(frames).message == .replay(ReplayQuery(after: 9, maxCount: 10, since: since)))
    }

    @Test("A start frame of neither 8 nor 16 bytes is refused, naming the forms, with the request id", arguments: [0, 7, 9, 12, 15, 17, 24])
    func malformedStartFrame(_ size: Int) {
        let frames: [[UInt8]] = [Array("REPLAY".utf8), [UInt8](bigEndian: UInt64(21)), [UInt8](repeating: 1, count: size), [UInt8](bigEndian: UInt32(5))]
        #expect(throws: ControlProtocolError(
            "the start of REPLAY must be a u64 sequence (8 bytes), or a u64 sequence and an i64 time in milliseconds (16 bytes), not \(size) bytes",
            requestID: 21)) {
            try BrokerCommand.decode(frames)
        }
    }

    @Test("FOLLOW carries its wait as a u32 after the count, before the prefixes; any other wait frame is refused with the request id",
          arguments: [0, 3, 5, 8])
    func followWaitFrame(_ size: Int) throws {
        let frames = ControlRequest(id: 6, BrokerCommand.follow(ReplayQuery(after: 1, maxCount: 2, prefixes: [Array("aid".utf8)]),
                                                                waitMilliseconds: 700)).frames()
        #expect(frames.map { Array($0) } == [Array("FOLLOW".utf8), [UInt8](bigEndian: UInt64(6)), [UInt8](bigEndian: UInt64(1)),
                                               [UInt8](bigEndian: UInt32(2)), [UInt8](bigEndian: UInt32(700)), Array("aid".utf8)])
        var bad = frames
        bad[4] = [UInt8](repeating: 1, count: size)
        #expect(throws: ControlProtocolError("the wait of FOLLOW must be a u32 (4 bytes) of milliseconds, not \(size) bytes", requestID: 6)) {
            try BrokerCommand.decode(bad)
        }
        #expect(throws: ControlProtocolError.self) { try BrokerCommand.decode(Array(frames.prefix(4))) }
    }

    @Test("Malformed requests are refused with a reason, keeping the request id when they got that far")
    func malformedRequests() {
        let id = [UInt8](bigEndian: UInt64(12))
        #expect(throws: ControlProtocolError("unknown command 'NOPE'", requestID: 12)) {
            try BrokerCommand.decode([Array("NOPE".utf8), id])
        }
        #expect(throws: ControlProtocolError("CHUNK takes a u64 request id, a u64 sequence and a u32 count", requestID: 12)) {
            try BrokerCommand.decode([Array("CHUNK".utf8), id, [1, 2]])
        }
        #expect(throws: ControlProtocolError("unknown command 'FOO'", requestID: 12)) {
            try AggregatorCommand.decode([Array("FOO".utf8), id])
        }
        #expect(throws: ControlProtocolError("STATUS takes no argument but a u64 request id", requestID: 12)) {
            try AggregatorCommand.decode([Array("STATUS".utf8), id, [1]])
        }
        #expect(throws: ControlProtocolError.self) { try BrokerCommand.decode([]) }
        #expect(throws: ControlProtocolError.self) { try BrokerCommand.decode([Array("HEAD".utf8), [1, 2, 3]]) }
        #expect(throws: ControlProtocolError.self) { try BrokerCommand.decode([Array("POSITION".utf8), id, [0xFF, 0xFE]]) }
    }

    @Test("Replies that break the protocol are errors, not guesses")
    func malformedReplies() {
        #expect(throws: ControlProtocolError.self) { try BrokerAnswer.decode([Array("HEAD".utf8), [1]]) }
        #expect(throws: ControlProtocolError.self) { try BrokerAnswer.decode([Array("CHUNK".utf8), [UInt8](bigEndian: UInt64(1))]) }
        #expect(throws: ControlProtocolError.self) { try BrokerAnswer.decode([Array("WHAT".utf8)]) }
        // BATCH frames come in threes: topic, header, body.
        let batch = [Array("BATCH".utf8)] + [UInt64(1), 2, 3].map { [UInt8](bigEndian: $0) } + [[1], [2]]
        #expect(throws: ControlProtocolError.self) { try BrokerAnswer.decode(batch) }
    }

    @Test("Aggregator requests and replies round-trip; REPORT alone asks for JSON")
    func aggregatorMessages() throws {
        for command in [AggregatorCommand.report(format: "markdown"), .status] {
            let request = ControlRequest(id: 3, command)
            #expect(try ControlRequest<AggregatorCommand>.decode(request.frames()) == request)
            let plain = ControlRequest<AggregatorCommand>(id: nil, command)
            #expect(try ControlRequest<AggregatorCommand>.decode(plain.frames()) == plain)
        }
        #expect(try AggregatorCommand.decode([Array("REPORT".utf8)]) == (nil, .report(format: "json")))
        for answer in [AggregatorAnswer.ok(Array("{}".utf8)), .error("unknown report format 'pdf'")] {
            let reply = ControlReply(id: 3, answer)
            #expect(try ControlReply<AggregatorAnswer>.decode(reply.frames()) == reply)
        }
    }

    @Test("A ROUTER message splits into the routing envelope and the request, with or without a REQ delimiter")
    func envelopes() {
        let identity: [UInt8] = [0, 1, 2, 3, 4]
        let dealer = ControlProtocol.splitEnvelope([identity, Array("HEAD".utf8)])
        #expect(dealer.envelope == [identity] && dealer.request == [Array("HEAD".utf8)])
        let req = ControlProtocol.splitEnvelope([identity, [], Array("HEAD".utf8)])
        #expect(req.envelope == [identity, []] && req.request == [Array("HEAD".utf8)])
        // An empty frame further on is the request's own (an empty prefix: every topic).
        let chunk = [Array("CHUNK".utf8), [UInt8](bigEndian: UInt64(1)), [UInt8](bigEndian: UInt64(0)), [UInt8](bigEndian: UInt32(9)), []]
        let dealer2 = ControlProtocol.splitEnvelope([identity] + chunk)
        #expect(dealer2.envelope == [identity] && dealer2.request == chunk)
    }
}
