/// What the event log knows of its records without reading them: the last sequence, how many
/// records there are, where every 256th one starts in the file, and how far each producer got.
struct LogIndex {
    /// Every this many records, the file offset is kept to start reads near any sequence.
    static let stride: UInt64 = 256

    private(set) var lastSequence: UInt64 = 0
    private(set) var recordCount: UInt64 = 0
    /// The highest producer sequence logged for each producer id, for resuming producers and dropping repeats.
    private(set) var producerPositions: [String: UInt64] = [:]
    /// `offsets[k]`: where the record with sequence `k * stride + 1` starts.
    private var offsets: [Int64] = []

    /// Counts the next record, which starts at `offset` of the file.
    @inline(__always)
    mutating func add(sequence: UInt64, offset: Int64) {
        if (sequence - 1) % LogIndex.stride == 0 { offsets.append(offset) }
        lastSequence = sequence
        recordCount += 1
    }

    /// Moves a producer's position on to `producerSequence`, never back. Messages without a
    /// producer id or producer sequence have no position.
    @inline(__always)
    mutating func advance(producer: String, to producerSequence: UInt64) {
        guard !producer.isEmpty, producerSequence > 0 else { return }
        if producerSequence > producerPositions[producer, default: 0] { producerPositions[producer] = producerSequence }
    }

    /// Moves a producer's position on to `producerSequence` only when it is the next one.
    mutating func skip(producer: String, producerSequence: UInt64) {
        if producerSequence == producerPositions[producer, default: 0] + 1 { producerPositions[producer] = producerSequence }
    }

    /// The nearest indexed record at or before sequence `after + 1`, where a read of the records
    /// after `after` starts (with `after < lastSequence`).
    func start(after: UInt64) -> (sequence: UInt64, offset: Int64) {
        let slot = Int(after / LogIndex.stride)
        return (UInt64(slot) * LogIndex.stride + 1, offsets[slot])
    }
}
