import Testing
import Timeline

@Suite("Peer protocol codecs")
struct PeerProtocolTests {
    static let status = PeerStatus(role: .backup, state: .passive, epoch: 3, lastSequence: 1 << 40)

    static let commands: [PeerCommand] = [
        .hello(status), .hello(PeerStatus(role: .primary, state: .startingPrimary, epoch: 0, lastSequence: 0)),
        .epochEnd(epoch: 7), .fetch(after: 0, checksum: nil), .fetch(after: 99, checksum: 0xDEAD_BEEF),
    ]

    static let answers: [PeerAnswer] = [
        .hello(PeerStatus(role: .primary, state: .active, epoch: .max, lastSequence: 12)),
        .epochEnd(epoch: 2, lastSequence: 80),
        .records(last: 0, inStep: false, epochs: [], records: []),
        .records(last: 300, inStep: true, epochs: [EpochStart(epoch: 1, firstSequence: 1), EpochStart(epoch: 2, firstSequence: 81)], records: [0, 1, 2, 3]),
        .diverged("the record at sequence 80 differs"), .error("this broker is not active"),
    ]

    static let id = [UInt8](bigEndian: UInt64(41))

    @Test("Every peer request round-trips and keeps its request id", arguments: commands)
    func requestsRoundTrip(_ command: PeerCommand) throws {
        let request = ControlRequest(id: 41, command)
        let frames = request.frames()
        #expect(frames[1] == Self.id)
        #expect(try ControlRequest<PeerCommand>.decode(frames) == request)
    }

    @Test("Every peer reply round-trips and carries the id of its request", arguments: answers)
    func repliesRoundTrip(_ answer: PeerAnswer) throws {
        let reply = ControlReply(id: 41, answer)
        let frames = reply.frames()
        #expect(ControlProtocol.requestID(ofReply: frames) == 41)
        #expect(try ControlReply<PeerAnswer>.decode(frames) == reply)
    }

    @Test("Every role and state survives a HELLO")
    func everyRoleAndState() throws {
        for role in [PairRole.primary, .backup] {
            for state in [PairState.startingPrimary, .startingBackup, .active, .passive] {
                let status = PeerStatus(role: role, state: state, epoch: 5, lastSequence: 6)
                #expect(try PeerCommand.decode(PeerCommand.hello(status).encoded(id: 1)).message == .hello(status))
                #expect(try PeerAnswer.decode(PeerAnswer.hello(status).encoded(id: 1)).message == .hello(status))
            }
        }
    }

    @Test("An ERROR reply is read as a PeerAnswer error, as the broker's own ERROR frames")
    func errorIsShared() throws {
        #expect(PeerAnswer.error("no").encoded(id: 3) == BrokerAnswer.error("no").encoded(id: 3))
    }

    /// A HELLO with `fields` in place of role, state, epoch and last sequence.
    static func hello(_ fields: [[UInt8]]) -> [[UInt8]] { [Array("HELLO".utf8), id] + fields }

    static let goodStatus: [[UInt8]] = [[1], [3], [UInt8](bigEndian: UInt64(2)), [UInt8](bigEndian: UInt64(9))]

    @Test("Malformed peer requests are refused with a reason that keeps the request id")
    func malformedRequests() {
        let cases: [[[UInt8]]] = [
            Self.hello(Array(Self.goodStatus.prefix(3))),               // a frame short
            Self.hello(Self.goodStatus + [[0]]),                        // a frame too many
            Self.hello([[9]] + Self.goodStatus.dropFirst()),            // unknown role
            Self.hello([[0]] + Self.goodStatus.dropFirst()),            // role 0
            Self.hello([[1, 1]] + Self.goodStatus.dropFirst()),         // role of two bytes
            Self.hello([[1], [5]] + Self.goodStatus.dropFirst(2)),      // unknown state
            Self.hello([[1], []] + Self.goodStatus.dropFirst(2)),       // empty state
            Self.hello(Array(Self.goodStatus.prefix(2)) + [[0, 0, 2], [UInt8](bigEndian: UInt64(9))]),  // short epoch
            Self.hello(Array(Self.goodStatus.prefix(3)) + [[UInt8](repeating: 0, count: 9)]),            // long last sequence
            [Array("EPOCHEND".utf8), Self.id],
            [Array("EPOCHEND".utf8), Self.id, [1, 2, 3, 4]],
            [Array("EPOCHEND".utf8), Self.id, [UInt8](bigEndian: UInt64(1)), [0]],
            [Array("FETCH".utf8), Self.id],
            [Array("FETCH".utf8), Self.id, [1]],
            [Array("FETCH".utf8), Self.id, [UInt8](bigEndian: UInt64(1)), [1, 2, 3]],
            [Array("FETCH".utf8), Self.id, [UInt8](bigEndian: UInt64(1)), [UInt8](bigEndian: UInt32(1)), []],
            [Array("RECORDS".utf8), Self.id],
            [Array("NOPE".utf8), Self.id],
        ]
        for frames in cases {
            #expect(throws: ControlProtocolError.self) { try PeerCommand.decode(frames) }
            do {
                _ = try PeerCommand.decode(frames)
            } catch {
                #expect(error.requestID == 41, "\(frames.count) frames starting \(String(decoding: frames[0], as: UTF8.self)): \(error)")
                #expect(!error.message.isEmpty)
            }
        }
    }

    @Test("A peer request without a usable request id is refused, with no id to echo")
    func requestsWithoutID() {
        for frames: [[UInt8]] in [[], [Array("HELLO".utf8)], [Array("FETCH".utf8), [0, 1]], [Array("EPOCHEND".utf8), []]] {
            #expect(throws: ControlProtocolError.self) { try PeerCommand.decode(frames) }
            do {
                _ = try PeerCommand.decode(frames)
            } catch {
                #expect(error.requestID == nil)
            }
        }
    }

    @Test("Malformed peer replies are errors that keep the request id, among them epochs that are not 16 bytes each")
    func malformedReplies() {
        let u64 = [UInt8](bigEndian: UInt64(5))
        let cases: [[[UInt8]]] = [
            Self.hello(Array(Self.goodStatus.prefix(3))),
            Self.hello([[3]] + Self.goodStatus.dropFirst()),
            Self.hello([[2], [0]] + Self.goodStatus.dropFirst(2)),
            Self.hello(Array(Self.goodStatus.prefix(2)) + [[1], u64]),
            [Array("EPOCHEND".utf8), Self.id, u64],
            [Array("EPOCHEND".utf8), Self.id, u64, [1, 2]],
            [Array("RECORDS".utf8), Self.id, u64, [], []] + [[]],
            [Array("RECORDS".utf8), Self.id, [5], [], []],
            [Array("RECORDS".utf8), Self.id, u64, [UInt8](repeating: 1, count: 15), []],
            [Array("RECORDS".utf8), Self.id, u64, [UInt8](repeating: 1, count: 17), []],
            [Array("RECORDS".utf8), Self.id, u64, [UInt8](repeating: 1, count: 40), []],
            [Array("DIVERGED".utf8), Self.id],
            [Array("ERROR".utf8), Self.id, [], []],
            [Array("WHAT".utf8), Self.id],
        ]
        for frames in cases {
            #expect(throws: ControlProtocolError.self) { try PeerAnswer.decode(frames) }
            do {
                _ = try PeerAnswer.decode(frames)
            } catch {
                #expect(error.requestID == 41, "\(frames.count) frames starting \(String(decoding: frames[0], as: UTF8.self)): \(error)")
            }
        }
        #expect(throws: ControlProtocolError("the epochs of a RECORDS reply are 15 bytes, not a multiple of 16", requestID: 41)) {
            try PeerAnswer.decode([Array("RECORDS".utf8), Self.id, u64, [1], [UInt8](repeating: 1, count: 15), []])
        }
        #expect(throws: ControlProtocolError("the in-step flag of a RECORDS reply must be one byte, 0 or 1", requestID: 41)) {
            try PeerAnswer.decode([Array("RECORDS".utf8), Self.id, u64, [2], [], []])
        }
        #expect(throws: ControlProtocolError.self) { try PeerAnswer.decode([Array("HELLO".utf8)]) }
    }

    @Test("The epochs of a RECORDS reply are read as big-endian epoch and first sequence pairs")
    func epochsLayout() throws {
        let frames = PeerAnswer.records(last: 9, inStep: true, epochs: [EpochStart(epoch: 0x0102, firstSequence: 0x0304)], records: [7]).encoded(id: 1)
        #expect(frames[3] == [1])
        #expect(frames[4] == [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 3, 4])
        #expect(frames[5] == [7])
    }
}
