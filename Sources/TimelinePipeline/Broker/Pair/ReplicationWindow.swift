import Timeline

/// The active broker's records that are written but not yet copied by the passive broker, with
/// synchronous replication: they are published to subscribers, and count in producers'
/// `POSITION`, only once the passive broker has written them (its next `FETCH` says so).
struct ReplicationWindow {
    /// Records in the event log's framing, from `start` on.
    private var held: [UInt8] = []
    private var start = 0
    /// Each producer's position over the records released: what `POSITION` answers while records are held.
    private(set) var committedPositions: [String: UInt64] = [:]
    private var producerIDs = ProducerIDCache()
    /// Held records up to here were published before holding began: releasing them only moves
    /// the committed positions on.
    private var publishedThrough: UInt64 = 0

    var isEmpty: Bool { start == held.count }
    var heldBytes: Int { held.count - start }

    /// Starts holding with `unacknowledged` (the records the passive broker has not written yet,
    /// already published) held, and each producer's position as it stands before them: for a
    /// producer with records among them, one before its first there; for the others, `positions`.
    mutating func begin(positions: [String: UInt64], unacknowledged: UnsafeRawBufferPointer, publishedThrough: UInt64) throws {
        held.removeAll(keepingCapacity: true)
        start = 0
        self.publishedThrough = publishedThrough
        var committed = positions
        var seen = Set<String>()
        var cache = producerIDs
        try LogRecordFormat.forEachWholeRecord(in: unacknowledged) { record in
            let fields = try LogRecordFormat.fields(ofPayload: LogRecordFormat.payload(ofRecord: record))
            let header = try WireHeader.decode(fields.header, cache: &cache)
            if !header.producer.isEmpty, header.producerSequence > 0, seen.insert(header.producer).inserted {
                committed[header.producer] = header.producerSequence - 1
            }
            return true
        }
        producerIDs = cache
        committedPositions = committed
        held.append(contentsOf: unacknowledged)
    }

    mutating func hold(_ records: UnsafeRawBufferPointer) {
        held.append(contentsOf: records)
    }

    /// Hands each held record with a sequence up to `sequence` to `publish` (topic, header, body)
    /// in order, and forgets it. Returns how many were released.
    @discardableResult
    mutating func release(through sequence: UInt64, _ publish: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        var released = 0
        var offset = start
        var positions = committedPositions
        var cache = producerIDs
        defer {
            start = offset
            committedPositions = positions
            producerIDs = cache
            if start == held.count {
                held.removeAll(keepingCapacity: true)
                start = 0
            } else if start > 8 << 20 {
                held.removeFirst(start)
                start = 0
            }
        }
        try held.withUnsafeBytes { bytes in
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            try LogRecordFormat.forEachWholeRecord(in: rest) { record in
                let fields = try LogRecordFormat.fields(ofPayload: LogRecordFormat.payload(ofRecord: record))
                let header = try WireHeader.decode(fields.header, cache: &cache)
                guard header.sequence <= sequence else { return false }
                if !header.producer.isEmpty, header.producerSequence > positions[header.producer, default: 0] {
                    positions[header.producer] = header.producerSequence
                }
                if header.sequence > publishedThrough { try publish(fields.topic, fields.header, fields.body) }
                offset += record.count
                released += 1
                return true
            }
        }
        return released
    }

    /// The held records from the first on, whole, about `maxBytes` of them at most (at least
    /// one), if the first held record has sequence `first`: the chunk a passive broker that has
    /// written everything before it asks for next, without reading the log. Nil otherwise.
    func records(from first: UInt64, maxBytes: Int) throws -> (bytes: [UInt8], count: Int, last: UInt64)? {
        guard !isEmpty else { return nil }
        return try held.withUnsafeBytes { bytes -> (bytes: [UInt8], count: Int, last: UInt64)? in
            let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
            var end = 0, count = 0, last: UInt64 = 0
            var matches = true
            try LogRecordFormat.forEachWholeRecord(in: rest) { record in
                let fields = try LogRecordFormat.fields(ofPayload: LogRecordFormat.payload(ofRecord: record))
                let sequence = ByteReader.integer(fields.header, at: WireHeader.sequenceOffset, as: UInt64.self)
                if count == 0, sequence != first {
                    matches = false
                    return false
                }
                guard count == 0 || end + record.count <= maxBytes else { return false }
                end += record.count
                count += 1
                last = sequence
                return true
            }
            guard matches else { return nil }
            return (Array(rest[..<end]), count, last)
        }
    }

    /// Forgets everything held (the broker steps down; the records were never acknowledged).
    mutating func drop() {
        held.removeAll(keepingCapacity: true)
        start = 0
    }
}
