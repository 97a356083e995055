/// The message format on the pipeline's sockets, version 1. Documented in the README for clients in
/// any language.
///
/// A message has three frames:
///
/// 1. **topic**: UTF-8 `kind.FROM.TO`, e.g. `visit.MN.KP`; subscribers filter on its prefix.
/// 2. **header**: 19 bytes or more, big-endian:
///    - `u8` version, `1`;
///    - `u8` body encoding, `0` for JSON (the `ingest --format jsonl` object), `1` for a producer's
///      batch of JSON events (`WireBatch`, producer to broker only);
///    - `u64` sequence: assigned by the broker, `0` on messages a producer sends;
///    - `u64` producer sequence: `1, 2, 3…` per producer, `0` when the sender does not number them;
///    - `u8` length of the producer id, then that many bytes of UTF-8 producer id (may be empty).
/// 3. **body**: the event, in the header's encoding.
public struct WireHeader: Hashable, Sendable {
    public static let version: UInt8 = 1
    public static let minimumSize = 19

    public enum Encoding: UInt8, Sendable {
        /// One event, the `ingest --format jsonl` object.
        case json = 0
        /// Several events from one producer (see `WireBatch`); only producers send it, to the broker,
        /// which logs and publishes each event as a message of its own.
        case batch = 1
    }

    public var encoding: Encoding
    public var sequence: UInt64
    public var producerSequence: UInt64
    public var producer: String

    public init(encoding: Encoding = .json, sequence: UInt64 = 0, producerSequence: UInt64 = 0, producer: String = "") {
        self.encoding = encoding
        self.sequence = sequence
        self.producerSequence = producerSequence
        self.producer = producer
    }

    /// The header's bytes. A producer id longer than 255 bytes is cut to its first 255 bytes at a
    /// character boundary (producer ids are validated where they are configured).
    public func encoded() -> [UInt8] {
        var id = Array(producer.utf8)
        if id.count > 255 { id = Array(String(decoding: id.prefix(255), as: UTF8.self).utf8.prefix(255)) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(WireHeader.minimumSize + id.count)
        bytes.appendInteger(WireHeader.version)
        bytes.appendInteger(encoding.rawValue)
        bytes.appendInteger(sequence)
        bytes.appendInteger(producerSequence)
        bytes.appendInteger(UInt8(id.count))
        bytes.append(contentsOf: id)
        return bytes
    }

    /// Reads a header, or says what is wrong with it.
    public static func decode(_ bytes: some Collection<UInt8>) throws(WireError) -> WireHeader {
        let result = Array(bytes).withUnsafeBytes { raw in Result { () throws(WireError) -> WireHeader in try decode(raw) } }
        return try result.get()
    }

    /// Reads a header from a frame's bytes in place.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> WireHeader {
        var cache = ProducerIDCache()
        return try decode(bytes, cache: &cache)
    }

    /// Reads a header from a frame's bytes in place, taking the producer id's string from `cache`
    /// when it is the same as last time (a stream mostly carries one producer's messages in a row).
    public static func decode(_ bytes: UnsafeRawBufferPointer, cache: inout ProducerIDCache) throws(WireError) -> WireHeader {
        guard bytes.count >= minimumSize else { throw .malformed("the header has \(bytes.count) bytes, fewer than \(minimumSize)") }
        guard bytes[0] == version else { throw .unsupportedVersion(bytes[0]) }
        guard let encoding = Encoding(rawValue: bytes[1]) else { throw .malformed("unknown body encoding \(bytes[1])") }
        let sequence = ByteReader.integer(bytes, at: 2, as: UInt64.self)
        let producerSequence = ByteReader.integer(bytes, at: 10, as: UInt64.self)
        let idLength = Int(bytes[18])
        guard bytes.count == minimumSize + idLength else {
            throw .malformed("the header says the producer id has \(idLength) bytes but \(bytes.count - minimumSize) follow")
        }
        let id = UnsafeBufferPointer(rebasing: bytes.assumingMemoryBound(to: UInt8.self)[minimumSize...])
        guard let producer = cache.string(for: id) else { throw .malformed("the producer id is not UTF-8") }
        return WireHeader(encoding: encoding, sequence: sequence, producerSequence: producerSequence, producer: producer)
    }

    /// Writes a new broker sequence into encoded header bytes in place.
    public static func stamp(sequence: UInt64, into bytes: inout [UInt8]) {
        precondition(bytes.count >= minimumSize)
        bytes.setInteger(sequence, at: sequenceOffset)
    }

    /// Writes a new producer sequence into encoded header bytes in place.
    public static func stamp(producerSequence: UInt64, into bytes: inout [UInt8]) {
        precondition(bytes.count >= minimumSize)
        bytes.setInteger(producerSequence, at: producerSequenceOffset)
    }

    /// Where the broker sequence and the producer sequence lie in an encoded header.
    public static let sequenceOffset = 2
    public static let producerSequenceOffset = 10
}

/// The last producer id read, as bytes and as a string, so that reading the same id again makes no
/// new string.
public struct ProducerIDCache: Sendable {
    private var bytes: [UInt8] = []
    private var string = ""

    public init() {}

    /// The id's string, or nil when the bytes are not UTF-8.
    mutating func string(for id: UnsafeBufferPointer<UInt8>) -> String? {
        if id.count == bytes.count, bytes.withUnsafeBytes({ UnsafeRawBufferPointer(id).elementsEqualBytes($0) }) { return string }
        guard UTF8Validation.isValid(id) else { return nil }
        bytes = Array(id)
        string = String(decoding: id, as: UTF8.self)
        return string
    }
}

extension UnsafeRawBufferPointer {
    /// Whether both hold the same bytes; compares eight at a time (the generic `elementsEqual`
    /// goes a byte at a time through iterators, a cost paid for every message a consumer reads).
    @inline(__always)
    func elementsEqualBytes(_ other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        var offset = 0
        while count - offset >= 8 {
            guard loadUnaligned(fromByteOffset: offset, as: UInt64.self) == other.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            else { return false }
            offset += 8
        }
        while offset < count {
            guard self[offset] == other[offset] else { return false }
            offset += 1
        }
        return true
    }
}

/// A producer's batch body (header encoding `1`): events back to back, each
/// `u16 topic length | topic | u32 body length | JSON body` (big-endian). The header's producer
/// sequence numbers the first event and the others follow one by one; the message's topic frame
/// is empty. Batches spare the producer and the broker a ZeroMQ message per event; subscribers
/// never see them, since the broker publishes every event on its own.
public enum WireBatch {
    /// Appends one event to a batch body.
    public static func append(topic: [UInt8], body: [UInt8], to batch: inout [UInt8]) {
        batch.appendInteger(UInt16(truncatingIfNeeded: topic.count))
        batch.append(contentsOf: topic)
        batch.appendInteger(UInt32(truncatingIfNeeded: body.count))
        batch.append(contentsOf: body)
    }

    /// Calls `entry` with the topic and body of each event, in order. Throws when the framing is
    /// broken; the events before the break have been handed over by then.
    public static func forEachEvent(in batch: UnsafeRawBufferPointer,
                                    _ entry: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws {
        var reader = ByteReader(batch)
        var index = 0
        while !reader.isAtEnd {
            let topic: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer
            do {
                topic = try reader.readLengthPrefixed(UInt16.self, "topic")
                body = try reader.readLengthPrefixed(UInt32.self, "body")
            } catch {
                throw WireError.malformed("batch event \(index): \(error)")
            }
            try entry(topic, body)
            index += 1
        }
    }
}

/// Why a message off the wire was rejected.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongFrameCount(Int)
    case unsupportedVersion(UInt8)
    case malformed(String)
    case badBody(EventDecodingError)
    case topicMismatch(expected: String, actual: String)

    public var description: String {
        switch self {
        case .wrongFrameCount(let count): return "expected 3 frames (topic, header, body), got \(count)"
        case .unsupportedVersion(let version): return "unsupported wire version \(version)"
        case .malformed(let reason): return reason
        case .badBody(let error): return "the event does not decode: \(error)"
        case .topicMismatch(let expected, let actual): return "the topic '\(actual)' does not match the event's '\(expected)'"
        }
    }
}

/// An event with its header, as it travels.
public struct WireMessage: Sendable {
    public var header: WireHeader
    public var event: TimelineEvent

    public init(header: WireHeader, event: TimelineEvent) {
        self.header = header
        self.event = event
    }

    /// The three frames: topic, header, body.
    public func frames() -> [[UInt8]] {
        var body: [UInt8] = []
        EventJSON.encode(event, into: &body)
        return [Array(event.topic.utf8), header.encoded(), body]
    }

    /// Decodes and checks the three frames. The topic must be the event's own, so a subscriber's
    /// prefix filter can be trusted.
    public static func decode(_ frames: [[UInt8]]) throws(WireError) -> WireMessage {
        guard frames.count == 3 else { throw .wrongFrameCount(frames.count) }
        let header = try WireHeader.decode(frames[1])
        return WireMessage(header: header, event: try decodeEvent(topic: frames[0], header: header, body: frames[2]))
    }

    /// Decodes the body of a message whose header is already read, and checks it against the topic.
    public static func decodeEvent(topic: [UInt8], header: WireHeader, body: [UInt8]) throws(WireError) -> TimelineEvent {
        guard header.encoding == .json else { throw .malformed("a batch where one event was expected") }
        let fast = body.withUnsafeBufferPointer { body in
            topic.withUnsafeBytes { topic -> TimelineEvent? in
                guard let fields = EventJSONFastPath.scan(body), EventJSONFastPath.topicMatches(topic, body, fields) else { return nil }
                return EventJSONFastPath.decode(body, fields)
            }
        }
        if let fast { return fast }
        return try decodeSlowly(topic: topic, header: header, body: body)
    }

    /// Checks a message's body and topic as `decodeEvent` does, and returns what the statistics
    /// count of it, without building the event: the aggregator's hot path.
    public static func summarise(topic: UnsafeRawBufferPointer, header: WireHeader, body: UnsafeRawBufferPointer) throws(WireError) -> EventSummary {
        guard header.encoding == .json else { throw .malformed("a batch where one event was expected") }
        let bytes = body.assumingMemoryBound(to: UInt8.self)
        if let fields = EventJSONFastPath.scan(bytes), EventJSONFastPath.topicMatches(topic, bytes, fields) {
            return EventJSONFastPath.summary(bytes, fields)
        }
        return EventSummary(try decodeSlowly(topic: Array(topic), header: header, body: Array(bytes)))
    }

    /// Checks a message's body and topic as `decodeEvent` does, without building the event: what
    /// the broker does before it logs a message.
    public static func validate(topic: UnsafeRawBufferPointer, header: WireHeader, body: UnsafeRawBufferPointer) throws(WireError) {
        guard header.encoding == .json else { throw .malformed("a batch where one event was expected") }
        let bytes = body.assumingMemoryBound(to: UInt8.self)
        if let fields = EventJSONFastPath.scan(bytes), EventJSONFastPath.topicMatches(topic, bytes, fields) { return }
        _ = try decodeSlowly(topic: Array(topic), header: header, body: Array(bytes))
    }

    /// The general decoder, with its precise error messages.
    private static func decodeSlowly(topic: [UInt8], header: WireHeader, body: [UInt8]) throws(WireError) -> TimelineEvent {
        guard let text = String(validating: body, as: UTF8.self) else { throw .malformed("the body is not UTF-8") }
        let event: TimelineEvent
        do {
            event = try EventJSON.decode(text, fallbackSource: Provenance(document: header.producer.isEmpty ? "wire" : header.producer))
        } catch {
            throw .badBody(error)
        }
        // Byte for byte: subscribers filter topics by bytes, so a topic that is only canonically
        // equivalent (a Kelvin sign for a K) is another topic.
        guard topic.elementsEqual(event.topic.utf8) else {
            throw .topicMismatch(expected: event.topic, actual: String(decoding: topic, as: UTF8.self))
        }
        return event
    }
}
