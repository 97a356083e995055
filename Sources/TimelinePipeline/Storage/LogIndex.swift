/// What the event log knows of its records without reading them: the last sequence and where it
/// starts, the sparse index of the segment it appends to, and how far each producer got.
struct LogIndex {
    private(set) var lastSequence: UInt64
    /// Where the last record starts in the active segment (0 while the segment is empty).
    private(set) var lastOffset: Int64 = 0
    /// The highest producer sequence logged for each producer id, for resuming producers and dropping repeats.
    private(set) var producerPositions: [String: UInt64]
    /// The sparse index of the active segment.
    private(set) var offsets: SegmentOffsets

    /// The index of an empty segment starting at `first`, after records that left producers at `positions`.
    init(segmentFirst first: UInt64, positions: [String: UInt64]) {
        lastSequence = first - 1
        producerPositions = positions
        offsets = SegmentOffsets(first: first)
    }

    /// The index of a segment whose index and last record are known.
    init(offsets: SegmentOffsets, lastSequence: UInt64, lastOffset: Int64, positions: [String: UInt64]) {
        self.offsets = offsets
        self.lastSequence = lastSequence
        self.lastOffset = lastOffset
        producerPositions = positions
    }

    /// Counts the next record, which starts at `offset` of the active segment.
    @inline(__always)
    mutating func add(sequence: UInt64, offset: Int64) {
        offsets.add(sequence: sequence, offset: offset)
        lastSequence = sequence
        lastOffset = offset
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

    /// A new, empty active segment after the last record.
    mutating func startSegment() {
        offsets = SegmentOffsets(first: lastSequence + 1)
        lastOffset = 0
    }
}
