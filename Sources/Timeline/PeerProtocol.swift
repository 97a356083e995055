/// The protocol between the two brokers of a pair, on each broker's peer endpoint (a ROUTER that
/// the other broker's DEALER connects to). Every request carries a `u64` request id as its second
/// frame and its reply carries it back. Integers are unsigned big-endian.
///
/// | request | reply |
/// | --- | --- |
/// | `HELLO | id | u8 role | u8 state | u64 epoch | u64 last sequence | [u64 keep from]` | `HELLO | id | u8 role | u8 state | u64 epoch | u64 last sequence | [u64 keep from]` |
/// | `EPOCHEND | id | u64 epoch` | `EPOCHEND | id | u64 epoch | u64 last sequence of that epoch` |
/// | `FETCH | id | u64 after | [u32 checksum of record after]` | `RECORDS | id | u64 last sequence | u8 in step | epochs | records` |
/// | | `DIVERGED | id | message` when the checksum does not match |
/// | anything else | `ERROR | id | message` |
///
/// `HELLO` is the heartbeat: each broker sends its own state and hears the other's, both ways. An
/// active broker whose retention keeps unread records adds the first sequence its slowest durable
/// consumer still needs, so that the passive broker's retention keeps it too.
/// `EPOCHEND` asks where the answering broker's history of an epoch ends: the largest epoch it
/// knows at or below the one asked, and the last sequence it logged in that epoch. `FETCH` is the
/// passive broker copying the active one's log: the records after `after` (in the event log's
/// framing), the active broker's list of epochs (16 bytes each: `u64 epoch | u64 first sequence`),
/// its last sequence, and whether the passive broker is in step (1: it has every record the
/// active broker counts as logged, so it may take over; 0: it is still catching up). A `FETCH`
/// with a checksum asks the active broker to check first that its own record `after` has it,
/// that is, that the two logs agree up to there; it answers `DIVERGED` when they do not. A
/// `FETCH` past the end of the active broker's log gets `ERROR`, and the passive broker
/// reconciles again. The active broker may hold a `FETCH` with nothing to send until records come
/// in or a heartbeat interval passes; its `after` tells the active broker what the passive one has
/// written.
public enum PeerProtocol {}

/// Which broker of the pair a broker is, fixed by its configuration.
public enum PairRole: UInt8, Sendable, Codable, CustomStringConvertible {
    case primary = 1
    case backup = 2

    public var description: String { self == .primary ? "primary" : "backup" }

    public init?(name: String) {
        switch name {
        case "primary": self = .primary
        case "backup": self = .backup
        default: return nil
        }
    }
}

/// Where a broker of a pair stands (Binary Star's states): starting (as primary or as backup,
/// not yet serving), active (serving clients), passive (copying the active broker's log).
public enum PairState: UInt8, Sendable, Codable, CustomStringConvertible {
    case startingPrimary = 1
    case startingBackup = 2
    case active = 3
    case passive = 4

    public var description: String {
        switch self {
        case .startingPrimary: "starting (primary)"
        case .startingBackup: "starting (backup)"
        case .active: "active"
        case .passive: "passive"
        }
    }
}

/// What one broker tells the other in each heartbeat.
public struct PeerStatus: Equatable, Sendable {
    public var role: PairRole
    public var state: PairState
    /// The latest epoch it knows.
    public var epoch: UInt64
    public var lastSequence: UInt64
    /// The first sequence the sender's durable consumers still need (`broker.retention.keepUnread`),
    /// when it keeps unread records.
    public var keepFrom: UInt64?

    public init(role: PairRole, state: PairState, epoch: UInt64, lastSequence: UInt64, keepFrom: UInt64? = nil) {
        self.role = role
        self.state = state
        self.epoch = epoch
        self.lastSequence = lastSequence
        self.keepFrom = keepFrom
    }
}

/// An epoch of the pair and the first sequence logged in it. A broker starts a new epoch, one
/// above any it knows, each time it becomes active.
public struct EpochStart: Equatable, Sendable, Codable {
    public var epoch: UInt64
    public var firstSequence: UInt64

    public init(epoch: UInt64, firstSequence: UInt64) {
        self.epoch = epoch
        self.firstSequence = firstSequence
    }
}

public enum PeerCommand: ControlMessage {
    case hello(PeerStatus)
    case epochEnd(epoch: UInt64)
    case fetch(after: UInt64, checksum: UInt32?)

    public func encoded(id: UInt64?) -> [[UInt8]] {
        let idFrame = [UInt8](bigEndian: id ?? 0)
        switch self {
        case .hello(let status): return [PeerFrames.hello, idFrame] + PeerFrames.encode(status)
        case .epochEnd(let epoch): return [PeerFrames.epochEnd, idFrame, [UInt8](bigEndian: epoch)]
        case .fetch(let after, let checksum):
            return [PeerFrames.fetch, idFrame, [UInt8](bigEndian: after)] + (checksum.map { [[UInt8](bigEndian: $0)] } ?? [])
        }
    }

    public static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (id: UInt64?, message: PeerCommand) {
        guard let name = frames.first else { throw ControlProtocolError("an empty request") }
        guard frames.count >= 2 else { throw ControlProtocolError("\(Frames.text(name)) needs a u64 request id") }
        let id = try Frames.id(frames[1], in: name)
        switch name {
        case PeerFrames.hello:
            guard frames.count == 6 || frames.count == 7 else {
                throw ControlProtocolError("HELLO takes role, state, epoch, last sequence and an optional first sequence to keep", requestID: id)
            }
            return (id, .hello(try PeerFrames.decodeStatus(frames[2...], id: id)))
        case PeerFrames.epochEnd:
            guard frames.count == 3 else { throw ControlProtocolError("EPOCHEND takes a u64 epoch", requestID: id) }
            return (id, .epochEnd(epoch: try PeerFrames.u64(frames[2], "the epoch", id: id)))
        case PeerFrames.fetch:
            guard frames.count == 3 || frames.count == 4 else {
                throw ControlProtocolError("FETCH takes a u64 sequence and an optional u32 checksum", requestID: id)
            }
            let after = try PeerFrames.u64(frames[2], "the sequence", id: id)
            var checksum: UInt32?
            if frames.count == 4 {
                guard let value = ByteReader.integer(exactly: frames[3], as: UInt32.self) else {
                    throw ControlProtocolError("the checksum must be a u32 (4 bytes)", requestID: id)
                }
                checksum = value
            }
            return (id, .fetch(after: after, checksum: checksum))
        default:
            throw ControlProtocolError("unknown command '\(Frames.text(name))'", requestID: id)
        }
    }
}

public enum PeerAnswer: ControlAnswer {
    case hello(PeerStatus)
    case epochEnd(epoch: UInt64, lastSequence: UInt64)
    /// Records in the event log's framing, back to back, with the active broker's epochs.
    case records(last: UInt64, inStep: Bool, epochs: [EpochStart], records: [UInt8])
    /// The two logs differ at the sequence a `FETCH` checked.
    case diverged(String)
    case error(String)

    public func encoded(id: UInt64?) -> [[UInt8]] {
        let idFrame = [UInt8](bigEndian: id ?? 0)
        switch self {
        case .hello(let status): return [PeerFrames.hello, idFrame] + PeerFrames.encode(status)
        case .epochEnd(let epoch, let last): return [PeerFrames.epochEnd, idFrame, [UInt8](bigEndian: epoch), [UInt8](bigEndian: last)]
        case .records(let last, let inStep, let epochs, let records):
            var epochFrame: [UInt8] = []
            epochFrame.reserveCapacity(epochs.count * 16)
            for epoch in epochs {
                epochFrame.appendInteger(epoch.epoch)
                epochFrame.appendInteger(epoch.firstSequence)
            }
            return [PeerFrames.records, idFrame, [UInt8](bigEndian: last), [inStep ? 1 : 0], epochFrame, records]
        case .diverged(let message): return [PeerFrames.diverged, idFrame, Array(message.utf8)]
        case .error(let message): return [Frames.error, idFrame, Array(message.utf8)]
        }
    }

    public static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (id: UInt64?, message: PeerAnswer) {
        guard let name = frames.first else { throw ControlProtocolError("an empty reply") }
        guard frames.count >= 2 else { throw ControlProtocolError("a \(Frames.text(name)) reply without a request id") }
        let id = try Frames.id(frames[1], in: name)
        switch name {
        case PeerFrames.hello:
            guard frames.count == 6 || frames.count == 7 else { throw ControlProtocolError("a HELLO reply of \(frames.count) frames", requestID: id) }
            return (id, .hello(try PeerFrames.decodeStatus(frames[2...], id: id)))
        case PeerFrames.epochEnd:
            guard frames.count == 4 else { throw ControlProtocolError("an EPOCHEND reply of \(frames.count) frames", requestID: id) }
            return (id, .epochEnd(epoch: try PeerFrames.u64(frames[2], "the epoch", id: id),
                                  lastSequence: try PeerFrames.u64(frames[3], "the last sequence", id: id)))
        case PeerFrames.records:
            guard frames.count == 6 else { throw ControlProtocolError("a RECORDS reply of \(frames.count) frames", requestID: id) }
            let last = try PeerFrames.u64(frames[2], "the last sequence", id: id)
            guard frames[3].count == 1, frames[3][0] <= 1 else { throw ControlProtocolError("the in-step flag of a RECORDS reply must be one byte, 0 or 1", requestID: id) }
            guard frames[4].count % 16 == 0 else {
                throw ControlProtocolError("the epochs of a RECORDS reply are \(frames[4].count) bytes, not a multiple of 16", requestID: id)
            }
            let bytes = frames[4]
            let epochs = stride(from: 0, to: bytes.count, by: 16).map { start in
                EpochStart(epoch: ByteReader.integer(exactly: Array(bytes[start..<start + 8]), as: UInt64.self)!,
                           firstSequence: ByteReader.integer(exactly: Array(bytes[start + 8..<start + 16]), as: UInt64.self)!)
            }
            return (id, .records(last: last, inStep: frames[3][0] == 1, epochs: epochs, records: frames[5]))
        case Frames.error, PeerFrames.diverged:
            guard frames.count == 3 else { throw ControlProtocolError("a \(Frames.text(name)) reply of \(frames.count) frames", requestID: id) }
            let message = String(decoding: frames[2], as: UTF8.self)
            return (id, name == Frames.error ? .error(message) : .diverged(message))
        default:
            throw ControlProtocolError("an unknown reply '\(Frames.text(name))'", requestID: id)
        }
    }
}

enum PeerFrames {
    static let hello = Array("HELLO".utf8)
    static let epochEnd = Array("EPOCHEND".utf8)
    static let fetch = Array("FETCH".utf8)
    static let records = Array("RECORDS".utf8)
    static let diverged = Array("DIVERGED".utf8)

    static func encode(_ status: PeerStatus) -> [[UInt8]] {
        [[status.role.rawValue], [status.state.rawValue], [UInt8](bigEndian: status.epoch), [UInt8](bigEndian: status.lastSequence)]
            + (status.keepFrom.map { [[UInt8](bigEndian: $0)] } ?? [])
    }

    static func decodeStatus(_ frames: ArraySlice<[UInt8]>, id: UInt64) throws(ControlProtocolError) -> PeerStatus {
        let fields = Array(frames)
        guard fields[0].count == 1, let role = PairRole(rawValue: fields[0][0]) else {
            throw ControlProtocolError("an unknown broker role", requestID: id)
        }
        guard fields[1].count == 1, let state = PairState(rawValue: fields[1][0]) else {
            throw ControlProtocolError("an unknown broker state", requestID: id)
        }
        return PeerStatus(role: role, state: state, epoch: try u64(fields[2], "the epoch", id: id),
                          lastSequence: try u64(fields[3], "the last sequence", id: id),
                          keepFrom: fields.count > 4 ? try u64(fields[4], "the first sequence to keep", id: id) : nil)
    }

    static func u64(_ frame: [UInt8], _ field: String, id: UInt64) throws(ControlProtocolError) -> UInt64 {
        guard let value = ByteReader.integer(exactly: frame, as: UInt64.self) else {
            throw ControlProtocolError("\(field) must be a u64 (8 bytes), not \(frame.count) bytes", requestID: id)
        }
        return value
    }
}
