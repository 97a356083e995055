/// The request/reply protocol of the broker's replay endpoint and the aggregator's query endpoint:
/// requests and replies as values, with their encoding as frames and their decoding from frames.
/// Pure code, so a fuzz target and unit tests cover it without sockets.
///
/// A request is a multipart message whose first frame names the command; the answer is one
/// multipart reply whose first frame names what it is. Integers are unsigned big-endian.
///
/// **Request ids.** A request may carry a `u64` request id as its second frame, and the reply to it
/// then carries the same id as its second frame, `ERROR` included, so a client can tell the answer
/// to its request from a late answer to an earlier one. `REPLAY` and `CHUNK` always carry one. A
/// request without an id (the first version of the protocol, which outside clients may still
/// speak) gets a reply without one. Which form a request has follows from its frame count.
///
/// Broker (replay endpoint, ROUTER):
///
/// | request | reply |
/// | --- | --- |
/// | `HEAD [id]` | `HEAD [id] | u64 last sequence` |
/// | `STATS [id]` | `STATS [id] | JSON object of the broker's counters` |
/// | `POSITION [id] | producer id` | `POSITION [id] | u64 last producer sequence logged | u64 last sequence` |
/// | `REPLAY | id | start | u32 max count | prefix…` | `BATCH | id | u64 last sequence | u64 scanned through | (topic | header | body)…` |
/// | `CHUNK | id | start | u32 max count | prefix…` | `CHUNK | id | u64 last sequence | u64 scanned through | records` |
/// | anything else | `ERROR [id] | message` |
///
/// The start frame of `REPLAY` and `CHUNK` is `u64 after` (8 bytes), or `u64 after` followed by
/// `i64 since` (16 bytes), a time in milliseconds since the Unix epoch: the reply then skips the
/// records the broker received before that time as well. The 16-byte form was added later; a
/// request in the 8-byte form reads exactly as it always did.
///
/// A broker of a pair that is passive (it copies the active broker's log and serves no client)
/// answers every request with `PASSIVE [id] | message`: the client asks the other broker. A
/// request id with its top bit set (`ControlProtocol.voteBit`) says the client turned to this
/// broker because the other one did not answer: only such a request makes a passive broker whose
/// peer is silent take over (Binary Star's client vote), so a client that merely lists the
/// passive broker first never makes a second active broker while the two cannot hear each other.
///
/// Aggregator (query endpoint, ROUTER):
///
/// | request | reply |
/// | --- | --- |
/// | `REPORT [id] | format` (text, markdown, csv, json, html; json when omitted without an id) | `OK [id] | report` |
/// | `QUERY [id] | JSON query` (`ReportQuery`: a restricted report, the pairs, relations on a date) | `OK [id] | document` |
/// | `STATUS [id]` | `OK [id] | JSON object of positions, lag and counters` |
/// | anything else | `ERROR [id] | message` |
public enum ControlProtocol {
    /// Splits a ROUTER message into the routing envelope (the client's identity, and the empty
    /// delimiter right after it when a REQ client sent one) and the request. Only the frame after
    /// the identity can be the delimiter: an empty frame further on belongs to the request (an
    /// empty topic prefix, an empty format).
    public static func splitEnvelope(_ frames: [[UInt8]]) -> (envelope: [[UInt8]], request: [[UInt8]]) {
        guard frames.count > 1 else { return (frames, []) }
        if frames[1].isEmpty {
            return (Array(frames[...1]), Array(frames[2...]))
        }
        return ([frames[0]], Array(frames.dropFirst()))
    }

    /// Set in a request id: the client turned to this broker after the other one was silent.
    public static let voteBit: UInt64 = 1 << 63

    /// Whether a request id carries the vote.
    public static func isVote(_ id: UInt64?) -> Bool { (id ?? 0) & voteBit != 0 }

    /// Whether a reply is an `ERROR`.
    public static func isError(_ frames: [[UInt8]]) -> Bool {
        frames.first == Frames.error
    }

    /// Whether a reply is a `PASSIVE`: the broker that sent it is the passive one of a pair.
    public static func isPassive(_ frames: [[UInt8]]) -> Bool {
        frames.first == Frames.passive
    }

    /// The request id a reply carries in its second frame, when it has one.
    public static func requestID(ofReply frames: [[UInt8]]) -> UInt64? {
        frames.count >= 2 ? ByteReader.integer(exactly: frames[1], as: UInt64.self) : nil
    }
}

/// A request or reply that does not follow the protocol, with what is wrong.
public struct ControlProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    /// The request id, when the frames got as far as one: an error reply carries it back.
    public var requestID: UInt64?

    public init(_ message: String, requestID: UInt64? = nil) {
        self.message = message
        self.requestID = requestID
    }

    public var description: String { message }
}

/// What a consumer asks the broker to read from its log: the records after `after`, at most
/// `maxCount`, whose topic starts with one of `prefixes` (every record when there are none), and,
/// when `since` is set, only those the broker received at or after that time.
public struct ReplayQuery: Equatable, Sendable {
    public var after: UInt64
    public var maxCount: UInt32
    public var prefixes: [[UInt8]]
    /// Milliseconds since the Unix epoch: the records the broker received before then are skipped.
    public var since: Int64?

    public init(after: UInt64, maxCount: UInt32, prefixes: [[UInt8]] = [], since: Int64? = nil) {
        self.after = after
        self.maxCount = maxCount
        self.prefixes = prefixes
        self.since = since
    }
}

/// A request or a reply with its request id: the id a request's reply will carry, or the id of
/// the request a reply answers; nil for the protocol's first form, which has none.
public struct Numbered<Message: ControlMessage>: Equatable, Sendable {
    public var id: UInt64?
    public var message: Message

    public init(id: UInt64?, _ message: Message) {
        self.id = id
        self.message = message
    }

    /// All the frames.
    public func frames() -> [[UInt8]] { message.encoded(id: id) }

    public static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> Numbered {
        let (id, message) = try Message.decode(frames)
        return Numbered(id: id, message)
    }
}

public typealias ControlRequest<Command: ControlMessage> = Numbered<Command>
public typealias ControlReply<Answer: ControlMessage> = Numbered<Answer>

/// Requests and replies that know their frames.
public protocol ControlMessage: Equatable, Sendable {
    /// All the frames of the message, with the request id when there is one.
    func encoded(id: UInt64?) -> [[UInt8]]
    /// Reads a message from all its frames.
    static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (id: UInt64?, message: Self)
}

/// A reply, which can also say that the request failed.
public protocol ControlAnswer: ControlMessage {
    static func error(_ message: String) -> Self
}

// MARK: - The broker's requests and replies

public enum BrokerCommand: ControlMessage {
    case head
    case stats
    case position(producer: String)
    case replay(ReplayQuery)
    case chunk(ReplayQuery)
    /// `CHUNK` that waits: when the log holds nothing after the query's start, the broker holds
    /// the request until records arrive or `waitMilliseconds` pass (then answers an empty chunk).
    /// How the pipeline's consumers follow the log: a pull, as a Kafka fetch, never a lost message.
    case follow(ReplayQuery, waitMilliseconds: UInt32)
    /// A durable consumer reports the last sequence it has passed for good (checkpointed), so
    /// that retention with `keepUnread` keeps everything after it. Answered `HEAD`.
    case consumed(consumer: String, sequence: UInt64)

    public func encoded(id: UInt64?) -> [[UInt8]] {
        let idFrame = id.map { [[UInt8](bigEndian: $0)] } ?? []
        switch self {
        case .consumed(let consumer, let sequence): return [Frames.consumed, [UInt8](bigEndian: id ?? 0), Array(consumer.utf8), [UInt8](bigEndian: sequence)]
        case .head: return [Frames.head] + idFrame
        case .stats: return [Frames.stats] + idFrame
        case .position(let producer): return [Frames.position] + idFrame + [Array(producer.utf8)]
        case .replay(let query): return [Frames.replay] + Frames.encode(query, id: id ?? 0)
        case .chunk(let query): return [Frames.chunk] + Frames.encode(query, id: id ?? 0)
        case .follow(let query, let wait):
            var frames = [Frames.follow] + Frames.encode(query, id: id ?? 0)
            frames.insert([UInt8](bigEndian: wait), at: 4)
            return frames
        }
    }

    public static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (id: UInt64?, message: BrokerCommand) {
        guard let name = frames.first else { throw ControlProtocolError("an empty request") }
        switch name {
        case Frames.head, Frames.stats:
            let command: BrokerCommand = name == Frames.head ? .head : .stats
            switch frames.count {
            case 1: return (nil, command)
            case 2: return (try Frames.id(frames[1], in: name), command)
            default: throw ControlProtocolError("\(Frames.text(name)) takes no argument but a u64 request id", requestID: Frames.possibleID(frames))
            }
        case Frames.consumed:
            guard frames.count == 4 else {
                throw ControlProtocolError("CONSUMED takes a u64 request id, a consumer name and a u64 sequence", requestID: Frames.possibleID(frames))
            }
            let id = try Frames.id(frames[1], in: name)
            guard let consumer = String(validating: frames[2], as: UTF8.self), !consumer.isEmpty, consumer.utf8.count <= 255 else {
                throw ControlProtocolError("the consumer name must be 1 to 255 bytes of UTF-8", requestID: id)
            }
            guard let sequence = ByteReader.integer(exactly: frames[3], as: UInt64.self) else {
                throw ControlProtocolError("the sequence of CONSUMED must be a u64 (8 bytes), not \(frames[3].count) bytes", requestID: id)
            }
            return (id, .consumed(consumer: consumer, sequence: sequence))
        case Frames.position:
            guard frames.count == 2 || frames.count == 3 else {
                throw ControlProtocolError("POSITION takes a producer id, after an optional u64 request id")
            }
            let id = frames.count == 3 ? try Frames.id(frames[1], in: name) : nil
            guard let producer = String(validating: frames[frames.count - 1], as: UTF8.self) else {
                throw ControlProtocolError("the producer id is not UTF-8", requestID: id)
            }
            return (id, .position(producer: producer))
        case Frames.replay, Frames.chunk:
            let (id, query) = try Frames.decodeQuery(frames)
            return (id, name == Frames.replay ? .replay(query) : .chunk(query))
        case Frames.follow:
            // The wait sits after the count: FOLLOW, id, start, count, wait, prefixes.
            guard frames.count >= 5 else {
                throw ControlProtocolError("FOLLOW takes a u64 request id, a start, a u32 count and a u32 wait in milliseconds",
                                           requestID: Frames.possibleID(frames))
            }
            var rest = frames
            let waitFrame = rest.remove(at: 4)
            let (id, query) = try Frames.decodeQuery(rest)
            guard let wait = ByteReader.integer(exactly: waitFrame, as: UInt32.self) else {
                throw ControlProtocolError("the wait of FOLLOW must be a u32 (4 bytes) of milliseconds, not \(waitFrame.count) bytes", requestID: id)
            }
            return (id, .follow(query, waitMilliseconds: wait))
        default:
            throw ControlProtocolError("unknown command '\(Frames.text(name))'", requestID: Frames.possibleID(frames))
        }
    }
}

public enum BrokerAnswer: ControlAnswer {
    case head(last: UInt64)
    /// The broker's counters as a JSON object.
    case stats(json: [UInt8])
    case position(producerSequence: UInt64, last: UInt64)
    /// Records as frames: topic, header and body for each.
    case batch(last: UInt64, scannedThrough: UInt64, frames: [[UInt8]])
    /// Records in the event log's framing, back to back.
    case chunk(last: UInt64, scannedThrough: UInt64, records: [UInt8])
    /// This broker is the passive one of a pair: ask the other.
    case passive(String)
    /// The records asked for are gone: retention deleted them. The log holds `first` to `last`.
    case trimmed(first: UInt64, last: UInt64)
    case error(String)

    public func encoded(id: UInt64?) -> [[UInt8]] {
        let idFrame = id.map { [[UInt8](bigEndian: $0)] } ?? []
        switch self {
        case .head(let last): return [Frames.head] + idFrame + [[UInt8](bigEndian: last)]
        case .stats(let json): return [Frames.stats] + idFrame + [json]
        case .position(let producerSequence, let last):
            return [Frames.position] + idFrame + [[UInt8](bigEndian: producerSequence), [UInt8](bigEndian: last)]
        case .batch(let last, let scanned, let frames):
            return [Frames.batch, [UInt8](bigEndian: id ?? 0), [UInt8](bigEndian: last), [UInt8](bigEndian: scanned)] + frames
        case .chunk(let last, let scanned, let records):
            return [Frames.chunk, [UInt8](bigEndian: id ?? 0), [UInt8](bigEndian: last), [UInt8](bigEndian: scanned), records]
        case .passive(let message): return [Frames.passive] + idFrame + [Array(message.utf8)]
        case .trimmed(let first, let last): return [Frames.trimmed] + idFrame + [[UInt8](bigEndian: first), [UInt8](bigEndian: last)]
        case .error(let message): return [Frames.error] + idFrame + [Array(message.utf8)]
        }
    }

    public static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (id: UInt64?, message: BrokerAnswer) {
        guard let name = frames.first else { throw ControlProtocolError("an empty reply") }
        /// The id (when the frame count says there is one) and the frames after it.
        func split(plain: Int) throws(ControlProtocolError) -> (UInt64?, ArraySlice<[UInt8]>) {
            if frames.count == plain { return (nil, frames[1...]) }
            if frames.count == plain + 1 { return (try Frames.id(frames[1], in: name), frames[2...]) }
            throw ControlProtocolError("a \(Frames.text(name)) reply of \(frames.count) frames")
        }
        switch name {
        case Frames.head:
            let (id, rest) = try split(plain: 2)
            return (id, .head(last: try Frames.u64(rest.first!, "the last sequence")))
        case Frames.stats:
            let (id, rest) = try split(plain: 2)
            return (id, .stats(json: rest.first!))
        case Frames.position:
            let (id, rest) = try split(plain: 3)
            return (id, .position(producerSequence: try Frames.u64(rest.first!, "the producer sequence"),
                                  last: try Frames.u64(rest.last!, "the last sequence")))
        case Frames.trimmed:
            let (id, rest) = try split(plain: 3)
            return (id, .trimmed(first: try Frames.u64(rest.first!, "the first sequence"), last: try Frames.u64(rest.last!, "the last sequence")))
        case Frames.batch, Frames.chunk:
            guard frames.count >= 4 else { throw ControlProtocolError("a \(Frames.text(name)) reply of \(frames.count) frames") }
            let id = try Frames.id(frames[1], in: name)
            let last = try Frames.u64(frames[2], "the last sequence")
            let scanned = try Frames.u64(frames[3], "the sequence scanned through")
            if name == Frames.chunk {
                guard frames.count == 5 else { throw ControlProtocolError("a CHUNK reply of \(frames.count) frames", requestID: id) }
                return (id, .chunk(last: last, scannedThrough: scanned, records: frames[4]))
            }
            guard (frames.count - 4) % 3 == 0 else {
                throw ControlProtocolError("a BATCH reply whose records are not topic, header and body", requestID: id)
            }
            return (id, .batch(last: last, scannedThrough: scanned, frames: Array(frames[4...])))
        case Frames.error, Frames.passive:
            let (id, rest) = try split(plain: 2)
            let message = String(decoding: rest.first!, as: UTF8.self)
            return (id, name == Frames.error ? .error(message) : .passive(message))
        default:
            throw ControlProtocolError("an unknown reply '\(Frames.text(name))'")
        }
    }
}

// MARK: - The aggregator's requests and replies

public enum AggregatorCommand: ControlMessage {
    case report(format: String)
    case query(ReportQuery)
    case status

    public func encoded(id: UInt64?) -> [[UInt8]] {
        let idFrame = id.map { [[UInt8](bigEndian: $0)] } ?? []
        switch self {
        case .report(let format): return [Frames.report] + idFrame + [Array(format.utf8)]
        case .query(let query): return [Frames.query] + idFrame + [query.encoded]
        case .status: return [Frames.status] + idFrame
        }
    }

    public static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (id: UInt64?, message: AggregatorCommand) {
        guard let name = frames.first else { throw ControlProtocolError("an empty request") }
        switch name {
        case Frames.report:
            switch frames.count {
            case 1: return (nil, .report(format: "json"))
            case 2: return (nil, .report(format: String(decoding: frames[1], as: UTF8.self)))
            case 3: return (try Frames.id(frames[1], in: name), .report(format: String(decoding: frames[2], as: UTF8.self)))
            default: throw ControlProtocolError("REPORT takes a format, after an optional u64 request id", requestID: Frames.possibleID(frames))
            }
        case Frames.query:
            let id: UInt64?
            switch frames.count {
            case 2: id = nil
            case 3: id = try Frames.id(frames[1], in: name)
            default: throw ControlProtocolError("QUERY takes a JSON query, after an optional u64 request id", requestID: Frames.possibleID(frames))
            }
            do {
                return (id, .query(try ReportQuery(decoding: frames[frames.count - 1])))
            } catch {
                throw ControlProtocolError("QUERY: \(error)", requestID: id)
            }
        case Frames.status:
            switch frames.count {
            case 1: return (nil, .status)
            case 2: return (try Frames.id(frames[1], in: name), .status)
            default: throw ControlProtocolError("STATUS takes no argument but a u64 request id", requestID: Frames.possibleID(frames))
            }
        default:
            throw ControlProtocolError("unknown command '\(Frames.text(name))'", requestID: Frames.possibleID(frames))
        }
    }
}

public enum AggregatorAnswer: ControlAnswer {
    /// A report or the status, as text.
    case ok([UInt8])
    case error(String)

    public func encoded(id: UInt64?) -> [[UInt8]] {
        let idFrame = id.map { [[UInt8](bigEndian: $0)] } ?? []
        switch self {
        case .ok(let body): return [Frames.ok] + idFrame + [body]
        case .error(let message): return [Frames.error] + idFrame + [Array(message.utf8)]
        }
    }

    public static func decode(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (id: UInt64?, message: AggregatorAnswer) {
        guard let name = frames.first, name == Frames.ok || name == Frames.error else {
            throw ControlProtocolError("an aggregator reply must be OK or ERROR")
        }
        let id: UInt64?
        switch frames.count {
        case 2: id = nil
        case 3: id = try Frames.id(frames[1], in: name)
        default: throw ControlProtocolError("a \(Frames.text(name)) reply of \(frames.count) frames")
        }
        let body = frames[frames.count - 1]
        return (id, name == Frames.ok ? .ok(body) : .error(String(decoding: body, as: UTF8.self)))
    }
}

// MARK: - Frames

/// The command names and the fields the messages share.
enum Frames {
    static let head = Array("HEAD".utf8)
    static let stats = Array("STATS".utf8)
    static let position = Array("POSITION".utf8)
    static let replay = Array("REPLAY".utf8)
    static let chunk = Array("CHUNK".utf8)
    static let follow = Array("FOLLOW".utf8)
    static let batch = Array("BATCH".utf8)
    static let error = Array("ERROR".utf8)
    static let passive = Array("PASSIVE".utf8)
    static let trimmed = Array("TRIMMED".utf8)
    static let consumed = Array("CONSUMED".utf8)
    static let report = Array("REPORT".utf8)
    static let query = Array("QUERY".utf8)
    static let status = Array("STATUS".utf8)
    static let ok = Array("OK".utf8)

    /// A command name for a message: printable ASCII as it is, anything else in hex, at most 32 bytes.
    static func text(_ name: [UInt8]) -> String {
        let shown = name.prefix(32)
        if shown.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: shown, as: UTF8.self) + (name.count > 32 ? "…" : "") }
        return "0x" + shown.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// The second frame as a request id, when it has the size of one: what an error reply echoes
    /// for a request it could not read.
    static func possibleID(_ frames: [[UInt8]]) -> UInt64? {
        frames.count > 1 ? ByteReader.integer(exactly: frames[1], as: UInt64.self) : nil
    }

    static func id(_ frame: [UInt8], in name: [UInt8]) throws(ControlProtocolError) -> UInt64 {
        guard let id = ByteReader.integer(exactly: frame, as: UInt64.self) else {
            throw ControlProtocolError("the request id of \(text(name)) must be a u64 (8 bytes), not \(frame.count) bytes")
        }
        return id
    }

    static func u64(_ frame: [UInt8], _ field: String) throws(ControlProtocolError) -> UInt64 {
        guard let value = ByteReader.integer(exactly: frame, as: UInt64.self) else {
            throw ControlProtocolError("\(field) must be a u64 (8 bytes), not \(frame.count) bytes")
        }
        return value
    }

    /// A query's frames after the command name: the request id, the start (`u64 after`, then
    /// `i64 since` only when the query has one), the count and the prefixes.
    static func encode(_ query: ReplayQuery, id: UInt64) -> [[UInt8]] {
        var start = [UInt8](bigEndian: query.after)
        if let since = query.since { start.appendInteger(since) }
        return [[UInt8](bigEndian: id), start, [UInt8](bigEndian: query.maxCount)] + query.prefixes
    }

    static func decodeQuery(_ frames: [[UInt8]]) throws(ControlProtocolError) -> (UInt64, ReplayQuery) {
        let name = frames[0]
        guard frames.count >= 4 else {
            throw ControlProtocolError("\(text(name)) takes a u64 request id, a u64 sequence and a u32 count", requestID: possibleID(frames))
        }
        let id = try Frames.id(frames[1], in: name)
        let start = frames[2]
        guard start.count == 8 || start.count == 16 else {
            throw ControlProtocolError("the start of \(text(name)) must be a u64 sequence (8 bytes), or a u64 sequence and an i64 time in milliseconds (16 bytes), not \(start.count) bytes",
                                       requestID: id)
        }
        let (after, since) = start.withUnsafeBytes { bytes in
            (ByteReader.integer(bytes, at: 0, as: UInt64.self), bytes.count == 16 ? ByteReader.integer(bytes, at: 8, as: Int64.self) : nil)
        }
        guard let maxCount = ByteReader.integer(exactly: frames[3], as: UInt32.self) else {
            throw ControlProtocolError("the count of \(text(name)) must be a u32 (4 bytes), not \(frames[3].count) bytes", requestID: id)
        }
        // An empty prefix matches everything, as no prefix does.
        let prefixes = Array(frames[4...])
        return (id, ReplayQuery(after: after, maxCount: maxCount, prefixes: prefixes.contains(where: \.isEmpty) ? [] : prefixes, since: since))
    }
}
