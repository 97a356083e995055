import Timeline

/// The aggregator's set of counted event keys, kept at close to 16 bytes per key however many
/// there are: the bulk of the keys sit in one sorted run of 16-byte entries, packed with no gaps,
/// and only the keys added since the last merge sit in a small hash table.
///
/// - Keys are stored scrambled by an invertible mix (a two-round Feistel network), so that even
///   ids chosen by people (`…0001`, `…0002`) spread evenly over the 128-bit space.
/// - The sorted run lives in memory mapped for it alone, inside an address range reserved up
///   front, so it grows page by page where it is: no reallocation and copy, no second copy
///   resident while it grows, nothing left to the allocator's fragmentation.
/// - A lookup reads the recent table, then binary-searches the few entries of the run that share
///   the key's top bits (an index with one starting point per ~8 keys says where they are).
/// - When the recent table holds 1/32 of the run (at least 32,768 keys), its keys are sorted and
///   merged into the run from the back, in place.
///
/// Memory: 16 bytes per merged key, plus the recent table (at most 1/32 of the run at load 3/4:
/// under 1 byte per key) and the index (about half a byte per key). It is mapped at the first
/// insert (an empty set holds none), and a failure to map it is an error of that insert
/// (`MappedRegion`), which leaves the set as it was.
/// Sendable as a value: the storage is copied before any change when shared (copy on write), so a
/// copy handed to another thread is never changed under it.
struct EventKeySet: @unchecked Sendable {
    private var storage: Storage?
    private let expected: Int

    init(minimumCapacity: Int = 0) {
        expected = minimumCapacity
    }

    var count: Int { storage.map { $0.run.count + $0.recent.count } ?? 0 }

    /// Adds a key; false when it was already there.
    @discardableResult
    mutating func insert(_ key: EventKey) throws(MemoryMapError) -> Bool {
        if storage == nil {
            storage = try Storage(expected: expected)
        } else if !isKnownUniquelyReferenced(&storage) {
            storage = try storage!.copy()
        }
        return try storage!.insert(Mixed(key))
    }

    func contains(_ key: EventKey) -> Bool {
        storage?.contains(Mixed(key)) ?? false
    }

    /// Every key, in no particular order.
    func forEach(_ body: (EventKey) -> Void) {
        guard let storage else { return }
        storage.recent.forEach { body($0.key) }
        for index in 0..<storage.run.count { body(storage.run[index].key) }
    }

    /// A key after the mix: `high` orders the sorted run and picks hash slots.
    struct Mixed: Comparable {
        var high: UInt64
        var low: UInt64

        init(high: UInt64, low: UInt64) {
            self.high = high
            self.low = low
        }

        init(_ key: EventKey) {
            var a = key.high, b = key.low
            b ^= Mixed.round(a)
            a ^= Mixed.round(b)
            high = a
            low = b
        }

        /// The key this mixed value came from (the rounds undone in reverse order).
        var key: EventKey {
            var a = high, b = low
            a ^= Mixed.round(b)
            b ^= Mixed.round(a)
            return EventKey(high: a, low: b)
        }

        var isZero: Bool { high == 0 && low == 0 }

        static func < (lhs: Mixed, rhs: Mixed) -> Bool {
            lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
        }

        /// The 64-bit finaliser of MurmurHash3.
        @inline(__always)
        static func round(_ value: UInt64) -> UInt64 {
            var z = value
            z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
            z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
            return z ^ (z >> 33)
        }
    }

    final class Storage {
        var run: SortedRun
        var recent: RecentTable
        /// `starts[b]` is the first position in `run` whose top `indexBits` bits are `b` or more.
        /// The index has about one bucket per 8 keys (4 bits of index per 16-byte key: a quarter
        /// byte a key), so a lookup searches a few neighbouring entries.
        var starts: [Int32]
        var indexBits: UInt64

        init(expected: Int) throws(MemoryMapError) {
            run = try SortedRun(expected: expected)
            recent = try RecentTable(minimumKeys: 1 << 15)
            indexBits = 12
            starts = [Int32](repeating: 0, count: (1 << 12) + 1)
        }

        private init(run: SortedRun, recent: RecentTable, starts: [Int32], indexBits: UInt64) {
            self.run = run
            self.recent = recent
            self.starts = starts
            self.indexBits = indexBits
        }

        func copy() throws(MemoryMapError) -> Storage {
            Storage(run: try run.copy(), recent: try recent.copy(), starts: starts, indexBits: indexBits)
        }

        func contains(_ key: Mixed) -> Bool {
            recent.contains(key) || runContains(key)
        }

        func insert(_ key: Mixed) throws(MemoryMapError) -> Bool {
            if runContains(key) { return false }
            // A full recent table is merged before the key goes in, so that a merge that fails
            // leaves the set without it, as the error says.
            if recent.count + 1 >= max(1 << 15, run.count / 32) {
                if recent.contains(key) { return false }
                try merge()
            }
            return try recent.insert(key)
        }

        private func runContains(_ key: Mixed) -> Bool {
            let bucket = Int(key.high >> (64 - indexBits))
            var low = Int(starts[bucket]), high = Int(starts[bucket + 1])
            while low < high {
                let middle = (low + high) / 2
                let entry = run[middle]
                if entry == key { return true }
                if entry < key { low = middle + 1 } else { high = middle }
            }
            return false
        }

        /// Moves the recent keys into the sorted run and rebuilds the index. The memory is had
        /// first: a failure leaves every key where it was.
        private func merge() throws(MemoryMapError) {
            try run.reserve(count: run.count + recent.count)
            recent.drainSorted { added in run.merge(added) }
            try recent.resize(minimumKeys: max(1 << 15, run.count / 32))
            // One bucket per ~8 keys, 2^12 to 2^28 buckets; rebuilt by one pass over the run.
            indexBits = UInt64(max(12, min(28, (max(1, run.count / 8)).bitWidth - (max(1, run.count / 8)).leadingZeroBitCount)))
            let buckets = 1 << Int(indexBits)
            if starts.count != buckets + 1 { starts = [Int32](repeating: 0, count: buckets + 1) }
            let shift = 64 - indexBits
            var bucket = 0
            for index in 0..<run.count {
                let keyBucket = Int(run[index].high >> shift)
                while bucket <= keyBucket {
                    starts[bucket] = Int32(index)
                    bucket += 1
                }
            }
            while bucket <= buckets {
                starts[bucket] = Int32(run.count)
                bucket += 1
            }
        }
    }

    /// Sorted mixed keys, two words each, in an address range of their own.
    struct SortedRun {
        private(set) var count = 0
        private var region: MappedRegion

        init(expected: Int) throws(MemoryMapError) {
            region = try MappedRegion(minimumBytes: max(1 << 20, expected * 16))
        }

        private init(count: Int, region: MappedRegion) {
            self.count = count
            self.region = region
        }

        func copy() throws(MemoryMapError) -> SortedRun {
            let copy = try MappedRegion(minimumBytes: max(1 << 20, count * 16))
            try copy.commit(bytes: count * 16)
            copy.words.update(from: region.words, count: 2 * count)
            return SortedRun(count: count, region: copy)
        }

        subscript(index: Int) -> Mixed {
            Mixed(high: region.words[2 * index], low: region.words[2 * index + 1])
        }

        /// Makes room for `count` keys, moving to a larger region when this one cannot hold them.
        mutating func reserve(count wanted: Int) throws(MemoryMapError) {
            if !region.canHold(bytes: wanted * 16) {
                let larger = try MappedRegion(minimumBytes: wanted * 16 * 2)
                try larger.commit(bytes: count * 16)
                larger.words.update(from: region.words, count: 2 * count)
                region = larger
            }
            try region.commit(bytes: wanted * 16)
        }

        /// Merges sorted keys (none of them present) in place, from the back, into room made by
        /// `reserve(count:)`.
        mutating func merge(_ added: UnsafeBufferPointer<Mixed>) {
            let total = count + added.count
            precondition(region.committed >= total * 16)
            let words = region.words
            var from = count - 1, next = added.count - 1, to = total - 1
            while next >= 0 {
                if from >= 0, Mixed(high: words[2 * from], low: words[2 * from + 1]) > added[next] {
                    words[2 * to] = words[2 * from]
                    words[2 * to + 1] = words[2 * from + 1]
                    from -= 1
                } else {
                    words[2 * to] = added[next].high
                    words[2 * to + 1] = added[next].low
                    next -= 1
                }
                to -= 1
            }
            count = total
        }
    }

    /// Open addressing with linear probing over mixed keys; the slot is the key's top bits (the mix
    /// makes them uniform). The all-zero key marks an empty slot and is kept on the side. Its slots
    /// are mapped memory too: emptying the table hands the pages back (`MADV_DONTNEED`) instead of
    /// freeing and allocating megabytes through the allocator at every merge.
    struct RecentTable {
        private var region: MappedRegion
        private var slots: Int
        private var shift: UInt64
        private var containsZero = false
        private(set) var count = 0

        init(minimumKeys: Int) throws(MemoryMapError) {
            slots = RecentTable.slots(for: minimumKeys)
            shift = UInt64(64 - slots.trailingZeroBitCount)
            region = try MappedRegion(minimumBytes: slots * 16, reserve: slots * 16)
            try region.commit(bytes: slots * 16)
        }

        private static func slots(for keys: Int) -> Int {
            var slots = 1024
            while slots * 3 / 4 < keys { slots *= 2 }
            return slots
        }

        private var words: UnsafeMutablePointer<UInt64> { region.words }

        func contains(_ key: Mixed) -> Bool {
            if key.isZero { return containsZero }
            let words = words, mask = slots - 1
            var slot = Int(truncatingIfNeeded: key.high >> shift)
            while true {
                let high = words[2 * slot], low = words[2 * slot + 1]
                if high == key.high && low == key.low { return true }
                if high == 0 && low == 0 { return false }
                slot = (slot + 1) & mask
            }
        }

        mutating func insert(_ key: Mixed) throws(MemoryMapError) -> Bool {
            if (count + 1) * 4 > slots * 3 { try grow() }
            return place(key)
        }

        /// Inserts a key into a table with room for it.
        private mutating func place(_ key: Mixed) -> Bool {
            if key.isZero {
                defer { containsZero = true }
                if containsZero { return false }
                count += 1
                return true
            }
            let words = words, mask = slots - 1
            var slot = Int(truncatingIfNeeded: key.high >> shift)
            while true {
                let high = words[2 * slot], low = words[2 * slot + 1]
                if high == 0 && low == 0 {
                    words[2 * slot] = key.high
                    words[2 * slot + 1] = key.low
                    count += 1
                    return true
                }
                if high == key.high && low == key.low { return false }
                slot = (slot + 1) & mask
            }
        }

        private mutating func grow() throws(MemoryMapError) {
            self = try copy(minimumKeys: count * 2)
        }

        func forEach(_ body: (Mixed) -> Void) {
            if containsZero { body(Mixed(high: 0, low: 0)) }
            let words = words
            for slot in 0..<slots where words[2 * slot] != 0 || words[2 * slot + 1] != 0 {
                body(Mixed(high: words[2 * slot], low: words[2 * slot + 1]))
            }
        }

        /// Moves the keys to the front of the table's own memory, sorts them there and hands them
        /// to `body`; the table is empty afterwards. No memory is allocated.
        mutating func drainSorted(_ body: (UnsafeBufferPointer<Mixed>) -> Void) {
            let words = words
            var filled = 0
            for slot in 0..<slots where words[2 * slot] != 0 || words[2 * slot + 1] != 0 {
                let high = words[2 * slot], low = words[2 * slot + 1]
                words[2 * slot] = 0
                words[2 * slot + 1] = 0
                words[2 * filled] = high
                words[2 * filled + 1] = low
                filled += 1
            }
            if containsZero {
                words[2 * filled] = 0
                words[2 * filled + 1] = 0
                filled += 1
            }
            UnsafeMutableRawPointer(words).withMemoryRebound(to: Mixed.self, capacity: filled) { keys in
                var buffer = UnsafeMutableBufferPointer(start: keys, count: filled)
                buffer.sort()
                body(UnsafeBufferPointer(buffer))
            }
            region.discard(bytes: slots * 16)
            containsZero = false
            count = 0
        }

        /// A table of its own with the same keys, and room for `minimumKeys`.
        func copy(minimumKeys: Int = 0) throws(MemoryMapError) -> RecentTable {
            var copy = try RecentTable(minimumKeys: max(count, minimumKeys))
            forEach { _ = copy.place($0) }
            return copy
        }

        /// Resizes an empty table for `minimumKeys` keys.
        mutating func resize(minimumKeys: Int) throws(MemoryMapError) {
            precondition(count == 0)
            let wanted = RecentTable.slots(for: minimumKeys)
            if wanted != slots { self = try RecentTable(minimumKeys: minimumKeys) }
        }
    }
}
