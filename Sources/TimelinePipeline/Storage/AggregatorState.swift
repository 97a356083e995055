import Timeline

/// Everything the aggregator must persist, and persists together: the statistics, the set of events
/// counted, and the stream position they reflect. Restoring them and replaying from the position
/// gives exactly the statistics of every event once.
///
/// They live in two files of the data folder, a state file replaced at each checkpoint and an
/// append-only keys file (their format, writing and loading are in `AggregatorState+Files`, the
/// state file's JSON summary in `AggregatorStateSummary`). A
/// checkpoint appends only the keys counted since the last one, so its cost does not grow with the
/// history.
public struct AggregatorState: Sendable {
    public static let fileName = "aggregator-state.bin"
    public static let keysFileName = "aggregator-keys.bin"

    public var statistics = Statistics()
    var counted = EventKeySet()
    /// Keys counted since the last checkpoint, in order: the next checkpoint appends them.
    var unsavedKeys = UnsavedKeys()
    /// Keys already in the keys file, and the CRC-32C of their bytes.
    var savedKeyCount: UInt64 = 0
    var savedKeysChecksum: UInt32 = 0
    public var position = StreamPosition()
    public var duplicateEvents: UInt64 = 0
    public var rejected: UInt64 = 0
    /// Messages applied as they arrived live, and from the broker's log; repeats of a sequence
    /// already applied. Kept with the state, so they add up across restarts.
    public var live: UInt64 = 0
    public var replayed: UInt64 = 0
    public var duplicateSequences: UInt64 = 0

    public init() {}

    /// How many distinct events were counted.
    public var countedEvents: Int { counted.count }

    /// Whether an event with this key was counted.
    public func hasCounted(_ key: EventKey) -> Bool { counted.contains(key) }

    /// Counts an event unless an event with the same id was counted before; returns whether it
    /// counted. Throws when the set of counted keys cannot get the memory to grow; the state is
    /// then as it was.
    @discardableResult
    public mutating func apply(_ event: TimelineEvent) throws(MemoryMapError) -> Bool {
        try apply(EventSummary(event))
    }

    @discardableResult
    public mutating func apply(_ summary: EventSummary) throws(MemoryMapError) -> Bool {
        // Room for the key in both places first, so that a failure changes nothing.
        try unsavedKeys.reserveOne()
        guard try counted.insert(summary.key) else {
            duplicateEvents += 1
            return false
        }
        unsavedKeys.append(summary.key)
        statistics.add(summary)
        return true
    }

    /// What a checkpoint writes: the keys to append at `keyOffset` and the new state file.
    public struct Checkpoint: Sendable {
        var keys: UnsavedKeys.Bytes
        var keyOffset: UInt64
        var keyCount: UInt64
        var keysChecksum: UInt32
        var stateFile: [UInt8]
    }

    /// The checkpoint of the state as it stands; hand it to `write(_:to:)`, then to `saved(_:)`.
    public func checkpoint() -> Checkpoint {
        // The unsaved keys are kept in the file's byte order: the checkpoint writes them in place.
        let keys = unsavedKeys.bytes(count: unsavedKeys.count)
        let checksum = keys.withUnsafeBytes { CRC32C.checksum($0, seed: savedKeysChecksum) }
        let count = savedKeyCount + UInt64(unsavedKeys.count)
        return Checkpoint(keys: keys, keyOffset: savedKeyCount * 16, keyCount: count, keysChecksum: checksum,
                          stateFile: encodedStateFile(keyCount: count, keysChecksum: checksum))
    }

    /// Records that a checkpoint reached the disk.
    public mutating func saved(_ checkpoint: Checkpoint) {
        unsavedKeys.removeFirst(Int(checkpoint.keyCount - savedKeyCount))
        savedKeyCount = checkpoint.keyCount
        savedKeysChecksum = checkpoint.keysChecksum
    }
}
