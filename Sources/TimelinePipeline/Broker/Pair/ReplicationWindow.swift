import Timeline

/// The active broker's records that are written but not yet copied by the passive broker, with
/// synchronous replication: they are published to subscribers, and count in producers'
/// `POSITION`, only once the passive broker has written them (its next `FETCH` says so).
///
/// The records are kept as the chunks the log wrote them in (one per write, whole records each),
/// so releasing drops chunks and moves no bytes.
struct ReplicationWindow {
    /// Held chunks, oldest first; the first is held from `start` on.
    private var chunks: [[UInt8]] = []
    private var first = 0
    private var start = 0
    private(set) var heldBytes = 0
    /// Each producer's position over the records released: what `POSITION` answers while records are held.
    private(set) var committedPositions: [String: UInt64] = [:]
    private var producerIDs = ProducerIDCache()
    /// Producer messages rejected while records were held: the producer's position moves past
    /// each once everything logged before it is released, as the log's own position did at once.
    private var skips: [(producer: String, producerSequence: UInt64, after: UInt64)] = []
    /// Held records up to here were published before holding began: releasing them only moves
    /// the committed positions on.
    private var publishedThrough: UInt64 = 0

    var isEmpty: Bool { heldBytes == 0 }

    /// A message of `producer` numbered `producerSequence` was rejected when the log's last
    /// sequence was `after`.
    mutating func skip(producer: String, producerSequence: UInt64, after: UInt64) {
        skips.append((producer, producerSequence, after))
    }

    private mutating func applySkips(releasedThrough: UInt64) {
        guard !skips.isEmpty else { return }
        var kept: [(producer: String, producerSequence: UInt64, after: UInt64)] = []
        for skip in skips {
            guard skip.after <= releasedThrough else {
                kept.append(skip)
                continue
            }
            if committedPositions[skip.producer, default: 0] + 1 == skip.producerSequence {
                committedPositions[skip.producer] = skip.producerSequence
            }
        }
        skips = kept
    }

    /// Starts holding with `unacknowledged` (the records the passive broker has not written yet,
    /// already published) held, and each producer's position as it stands before them: for a
    /// producer with records among them, one before its first there; for the others, `positions`.
    mutating func begin(positions: [String: UInt64], unacknowledged: UnsafeRawBufferPointer, publishedThrough: UInt64) throws {
        drop()
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
        hold(unacknowledged)
    }

    /// Holds whole records (one log write's worth).
    mutating func hold(_ records: UnsafeRawBufferPointer) {
        guard !records.isEmpty else { return }
        chunks.append(Array(records))
        heldBytes += records.count
    }

    /// Hands each held record with a sequence up to `sequence` to `publish` (topic, header, body)
    /// in order, and forgets it. Returns how many were released.
    @discardableResult
    mutating func release(through sequence: UInt64, _ publish: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        var released = 0
        var lastReleased: UInt64 = 0
        var cache = producerIDs
        // The last record's producer position, written to the table when the producer changes:
        // a run of one producer's records costs one lookup, not one per record.
        var producer = "", producerSequence: UInt64 = 0
        defer {
            producerIDs = cache
            if !producer.isEmpty, producerSequence > committedPositions[producer, default: 0] { committedPositions[producer] = producerSequence }
            applySkips(releasedThrough: isEmpty ? .max : lastReleased)
        }
        while first < chunks.count {
            var offset = start
            var reachedEnd = true
            // A publisher that fails leaves the records it did not take held.
            defer { if !reachedEnd { start = offset } }
            try chunks[first].withUnsafeBytes { bytes in
                try LogRecordFormat.forEachWholeRecord(in: UnsafeRawBufferPointer(rebasing: bytes[offset...])) { record in
                    let fields = try LogRecordFormat.fields(ofPayload: LogRecordFormat.payload(ofRecord: record))
                    let header = try WireHeader.decode(fields.header, cache: &cache)
                    reachedEnd = false
                    guard header.sequence <= sequence else { return false }
                    if !header.producer.isEmpty, header.producerSequence > 0 {
                        if header.producer != producer {
                            if !producer.isEmpty, producerSequence > committedPositions[producer, default: 0] {
                                committedPositions[producer] = producerSequence
                            }
                            producer = header.producer
                        }
                        producerSequence = header.producerSequence
                    }
                    if header.sequence > publishedThrough { try publish(fields.topic, fields.header, fields.body) }
                    offset += record.count
                    heldBytes -= record.count
                    released += 1
                    lastReleased = header.sequence
                    reachedEnd = offset == bytes.count
                    return true
                }
            }
            guard reachedEnd else { break }
            first += 1
            start = 0
        }
        if first == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            first = 0
        } else if first > 64 {
            chunks.removeFirst(first)
            first = 0
        }
        return released
    }

    /// The held records from the first on, whole, about `maxBytes` of them at most (at least
    /// one), if the first held record has sequence `first`: the chunk a passive broker that has
    /// written everything before it asks for next, without reading the log. Nil otherwise.
    func records(from wanted: UInt64, maxBytes: Int) throws -> (bytes: [UInt8], count: Int, last: UInt64)? {
        guard !isEmpty else { return nil }
        var out: [UInt8] = []
        var count = 0, last: UInt64 = 0
        var matches = true
        for index in first..<chunks.count {
            var full = false
            try chunks[index].withUnsafeBytes { bytes in
                let from = index == first ? start : 0
                try LogRecordFormat.forEachWholeRecord(in: UnsafeRawBufferPointer(rebasing: bytes[from...])) { record in
                    let fields = try LogRecordFormat.fields(ofPayload: LogRecordFormat.payload(ofRecord: record))
                    let sequence = ByteReader.integer(fields.header, at: WireHeader.sequenceOffset, as: UInt64.self)
                    if count == 0, sequence != wanted {
                        matches = false
                        return false
                    }
                    guard count == 0 || out.count + record.count <= maxBytes else {
                        full = true
                        return false
                    }
                    out.append(contentsOf: record)
                    count += 1
                    last = sequence
                    return true
                }
            }
            if !matches { return nil }
            if full { break }
        }
        return (out, count, last)
    }

    /// Forgets everything held (the broker steps down; the records were never acknowledged).
    mutating func drop() {
        skips.removeAll()
        chunks.removeAll(keepingCapacity: true)
        first = 0
        start = 0
        heldBytes = 0
    }
}
