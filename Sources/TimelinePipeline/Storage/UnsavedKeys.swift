import Timeline

/// The keys counted since the last checkpoint, in the order they were counted, already in the keys
/// file's byte order (`high` then `low`, big-endian), so that a checkpoint writes them as they are.
///
/// They sit in mapped memory of their own (`MappedRegion`), not in an array: between two
/// checkpoints they can grow to megabytes (a catch-up counts many events before the next
/// checkpoint), and an array of that size, once freed, leaves glibc's arenas holding pages that
/// are never handed back. The region is unmapped when the checkpoint that wrote its keys is
/// recorded (`removeFirst`) and dropped, so what a burst of keys took goes back to the system.
///
/// A value: shared storage (a `Bytes` view held by a checkpoint, a copy of the state) is copied
/// before any change.
struct UnsavedKeys: @unchecked Sendable {
    private var storage: Storage?
    /// Keys at the front of `storage` that a checkpoint wrote already (only when keys were counted
    /// between taking a checkpoint and recording it; normally every key is written and the
    /// storage let go).
    private var start = 0

    init() {}

    var count: Int { (storage?.count ?? 0) - start }

    /// Makes room for one more key, so that the `append` that follows cannot fail.
    mutating func reserveOne() throws(MemoryMapError) {
        // Uniqueness is asked before any other reference to the storage is taken.
        if isKnownUniquelyReferenced(&storage) {
            try storage!.reserve(count: storage!.count + 1)
        } else if let shared = storage {
            storage = try shared.copy(from: start, room: count + 1)
            start = 0
        } else {
            storage = try Storage(room: 1)
        }
    }

    /// Appends a key; `reserveOne()` made room for it.
    mutating func append(_ key: EventKey) {
        precondition(storage != nil && isKnownUniquelyReferenced(&storage), "reserveOne() first")
        storage!.append(key)
    }

    /// The key at `index`, in the order counted.
    subscript(index: Int) -> EventKey {
        precondition(index >= 0 && index < count)
        let words = storage!.region.words + 2 * start
        return EventKey(high: UInt64(bigEndian: words[2 * index]), low: UInt64(bigEndian: words[2 * index + 1]))
    }

    /// The first `count` keys as the keys file holds them, without a copy: the view keeps the
    /// memory alive, and a later change to this value copies instead of writing under it.
    func bytes(count: Int) -> Bytes {
        precondition(count <= self.count)
        return Bytes(storage: count == 0 ? nil : storage, offset: start * 16, count: count * 16)
    }

    /// Forgets the first `count` keys (a checkpoint wrote them). When they are all of them, the
    /// memory is let go, and unmapped once no checkpoint holds it.
    mutating func removeFirst(_ count: Int) {
        precondition(count <= self.count)
        if count == self.count {
            storage = nil
            start = 0
        } else {
            start += count
        }
    }

    /// Bytes of keys that a checkpoint writes.
    struct Bytes: @unchecked Sendable {
        fileprivate let storage: Storage?
        fileprivate let offset: Int
        /// In bytes.
        let count: Int

        func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
            guard let storage else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
            return try body(UnsafeRawBufferPointer(start: storage.region.base + offset, count: count))
        }
    }

    fileprivate final class Storage {
        var region: MappedRegion
        var count = 0

        init(room: Int) throws(MemoryMapError) {
            region = try MappedRegion(minimumBytes: max(1 << 20, room * 16))
            try region.commit(bytes: room * 16)
        }

        /// A storage of its own with the keys from `start` on, and room for `room` keys.
        func copy(from start: Int, room: Int) throws(MemoryMapError) -> Storage {
            let kept = count - start
            let copy = try Storage(room: max(room, kept))
            copy.region.words.update(from: region.words + 2 * start, count: 2 * kept)
            copy.count = kept
            return copy
        }

        func reserve(count wanted: Int) throws(MemoryMapError) {
            let bytes = wanted * 16
            if bytes <= region.committed { return }
            if !region.canHold(bytes: bytes) {
                let larger = try MappedRegion(minimumBytes: bytes * 2)
                try larger.commit(bytes: bytes)
                larger.words.update(from: region.words, count: 2 * count)
                region = larger
            }
            try region.commit(bytes: bytes)
        }

        func append(_ key: EventKey) {
            region.words[2 * count] = key.high.bigEndian
            region.words[2 * count + 1] = key.low.bigEndian
            count += 1
        }
    }
}
