import Timeline

/// The aggregator's set of counted event keys, kept under 16 bytes per key however many there
/// are: the bulk of the keys sit in one sorted run of 14-byte entries, packed with no gaps, and
/// only the keys added since the last merge sit in a small hash table.
///
/// - Keys are stored scrambled by an invertible mix (a two-round Feistel network), so that even
///   ids chosen by people (`…0001`, `…0002`) spread evenly over the 128-bit space.
/// - The sorted run lives in memory mapped for it alone, inside an address range reserved up
///   front, so it grows page by page where it is: no reallocation and copy, no second copy
///   resident while it grows, nothing left to the allocator's fragmentation.
/// - The run leaves out the top 16 bits of each key: the keys sharing them are one stretch of the
///   run, and a table of 65,536 starting points says where each stretch begins.
/// - A lookup reads the recent table, then binary-searches the few entries of the run that share
///   the key's top bits (an index with one starting point per 8 to 16 keys says where they are).
/// - When the recent table holds 1/32 of the run (at least 32,768 keys), its keys are sorted and
///   merged into the run from the back, in place.
///
/// Memory: 14 bytes per merged key, plus the recent table (at most 1/32 of the run at load 3/4:
/// under 1 byte per key), the index (a quarter to half a byte per key) and the run's table of
/// stretches (512 KiB, two of 256 KiB). It is mapped at the first insert (an empty set holds
/// none), and a failure to map it is an error of that insert (`MappedRegion`), which leaves the
/// set as it was. The index and the tables are mapped memory too, so that nothing of the set
/// stays behind in the allocator's arenas when they are replaced.
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
        storage.run.forEach { body($0.key) }
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
        /// The index has a bucket per 8 to 16 keys (a quarter to half a byte a key, as the count
        /// falls between two powers of two), so a lookup searches a few neighbouring entries; and
        /// at least 2^16 buckets, so that the keys of a bucket share the 16 bits the run leaves out.
        var starts: BucketIndex
        var indexBits: UInt64

        init(expected: Int) throws(MemoryMapError) {
            run = try SortedRun(expected: expected)
            recent = try RecentTable(minimumKeys: 1 << 15)
            indexBits = 16
            starts = try BucketIndex(buckets: 1 << 16)
        }

        private init(run: SortedRun, recent: RecentTable, starts: BucketIndex, indexBits: UInt64) {
            self.run = run
            self.recent = recent
            self.starts = starts
            self.indexBits = indexBits
        }

        func copy() throws(MemoryMapError) -> Storage {
            Storage(run: try run.copy(), recent: try recent.copy(), starts: try starts.copy(), indexBits: indexBits)
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
            return run.contains(key, in: Int(starts[bucket])..<Int(starts[bucket + 1]))
        }

        /// Moves the recent keys into the sorted run and rebuilds the index. The memory is had
        /// first: a failure leaves every key where it was.
        private func merge() throws(MemoryMapError) {
            // 8 to 16 keys a bucket (the largest power of two of buckets at most total / 8), 2^16
            // to 2^28 buckets; rebuilt by one pass over the run.
            let total = run.count + recent.count
            let bits = UInt64(max(16, min(28, Int.bitWidth - max(1, total / 8).leadingZeroBitCount - 1)))
            let buckets = 1 << Int(bits)
            try run.reserve(count: total)
            let index = starts.buckets == buckets ? starts : try BucketIndex(buckets: buckets)
            recent.drainSorted { added in run.merge(added) }
            // A table that cannot be had larger stays as it is: it still works, merged more often.
            try? recent.resize(minimumKeys: max(1 << 15, run.count / 32))
            indexBits = bits
            starts = index
            let shift = 64 - indexBits
            var bucket = 0, position: Int32 = 0
            run.forEach { key in
                let keyBucket = Int(key.high >> shift)
                while bucket <= keyBucket {
                    index[bucket] = position
                    bucket += 1
                }
                position += 1
            }
            while bucket <= buckets {
                starts[bucket] = Int32(run.count)
                bucket += 1
            }
        }
    }

    /// The run's index, `buckets + 1` positions, in mapped memory of its own: rebuilt larger as the
    /// run grows, the old one unmapped, so none of it stays behind in the allocator's arenas.
    struct BucketIndex {
        let buckets: Int
        private let region: MappedRegion

        init(buckets: Int) throws(MemoryMapError) {
            self.buckets = buckets
            let bytes = (buckets + 1) * 4
            region = try MappedRegion(minimumBytes: bytes, reserve: bytes)
            try region.commit(bytes: bytes)
        }

        func copy() throws(MemoryMapError) -> BucketIndex {
            let copy = try BucketIndex(buckets: buckets)
            copy.region.base.copyMemory(from: region.base, byteCount: (buckets + 1) * 4)
            return copy
        }

        subscript(bucket: Int) -> Int32 {
            get { region.base.assumingMemoryBound(to: Int32.self)[bucket] }
            nonmutating set { region.base.assumingMemoryBound(to: Int32.self)[bucket] = newValue }
        }
    }

    /// Sorted mixed keys in an address range of their own, 14 bytes each: the top 16 bits of a
    /// key's `high` word are not stored, since every key sharing them sits in one stretch of the
    /// run, and `tops` says where each stretch begins. An entry is `low` (8 bytes) then the other
    /// 48 bits of `high` (6 bytes), little-endian, read and written unaligned.
    struct SortedRun {
        static let entryBytes = 14
        static let lowerBits: UInt64 = 0xFFFF_FFFF_FFFF

        private(set) var count = 0
        private var region: MappedRegion
        /// `tops[t]` is the first position whose key's top 16 bits are `t` or more (65,537
        /// positions); `spare` is where a merge writes the next table.
        private var tops: BucketIndex
        private var spare: BucketIndex

        init(expected: Int) throws(MemoryMapError) {
            region = try MappedRegion(minimumBytes: max(1 << 20, expected * SortedRun.entryBytes))
            tops = try BucketIndex(buckets: 1 << 16)
            spare = try BucketIndex(buckets: 1 << 16)
        }

        private init(count: Int, region: MappedRegion, tops: BucketIndex, spare: BucketIndex) {
            self.count = count
            self.region = region
            self.tops = tops
            self.spare = spare
        }

        func copy() throws(MemoryMapError) -> SortedRun {
            let bytes = count * SortedRun.entryBytes
            let copy = try MappedRegion(minimumBytes: max(1 << 20, bytes))
            try copy.commit(bytes: bytes)
            copy.base.copyMemory(from: region.base, byteCount: bytes)
            return SortedRun(count: count, region: copy, tops: try tops.copy(), spare: try BucketIndex(buckets: 1 << 16))
        }

        /// The stored part of the entry at `index`: `high` without its top 16 bits, and `low`.
        @inline(__always)
        func lower(_ index: Int) -> (high: UInt64, low: UInt64) {
            let at = region.base + index * SortedRun.entryBytes
            return (at.loadUnaligned(fromByteOffset: 6, as: UInt64.self) >> 16, at.loadUnaligned(as: UInt64.self))
        }

        @inline(__always)
        private func store(_ key: Mixed, at index: Int) {
            let at = region.base + index * SortedRun.entryBytes
            // Bytes 6 and 7 belong to both words: the same value both times (`low`'s top bytes).
            at.storeBytes(of: key.high << 16 | key.low >> 48, toByteOffset: 6, as: UInt64.self)
            at.storeBytes(of: key.low, as: UInt64.self)
        }

        /// Whether `key` is among the entries `range`, which all share the key's top 16 bits.
        func contains(_ key: Mixed, in range: Range<Int>) -> Bool {
            let high = key.high & SortedRun.lowerBits, low = key.low
            var lower = range.lowerBound, upper = range.upperBound
            while lower < upper {
                let middle = (lower + upper) / 2
                let entry = self.lower(middle)
                if entry.high == high && entry.low == low { return true }
                if entry.high < high || (entry.high == high && entry.low < low) { lower = middle + 1 } else { upper = middle }
            }
            return false
        }

        /// Every key in order, whole.
        func forEach(_ body: (Mixed) -> Void) {
            var top = 0
            for index in 0..<count {
                while Int(tops[top + 1]) <= index { top += 1 }
                let entry = lower(index)
                body(Mixed(high: UInt64(top) << 48 | entry.high, low: entry.low))
            }
        }

        /// Makes room for `count` keys, moving to a larger region when this one cannot hold them.
        mutating func reserve(count wanted: Int) throws(MemoryMapError) {
            let bytes = wanted * SortedRun.entryBytes
            if !region.canHold(bytes: bytes) {
                let larger = try MappedRegion(minimumBytes: bytes * 2)
                try larger.commit(bytes: count * SortedRun.entryBytes)
                larger.base.copyMemory(from: region.base, byteCount: count * SortedRun.entryBytes)
                region = larger
            }
            try region.commit(bytes: bytes)
        }

        /// Merges sorted keys (none of them present) in place, from the back, into room made by
        /// `reserve(count:)`, and the table of where each top-16-bit stretch begins with them.
        mutating func merge(_ added: UnsafeBufferPointer<Mixed>) {
            let total = count + added.count
            precondition(region.committed >= total * SortedRun.entryBytes)
            let old = tops, new = spare
            // `fromTop`: the top 16 bits of the entry at `from` (the last stretch beginning at or
            // before it); `unset`: the highest stretch whose start in `new` is still to be written,
            // as positions are visited from the back.
            var from = count - 1, next = added.count - 1, to = total - 1
            var fromTop = (1 << 16) - 1
            while fromTop > 0 && Int(old[fromTop]) > from { fromTop -= 1 }
            var unset = 1 << 16
            new[unset] = Int32(total)
            while next >= 0 {
                var key = added[next]
                if from >= 0 {
                    let entry = lower(from)
                    let current = Mixed(high: UInt64(fromTop) << 48 | entry.high, low: entry.low)
                    if current > key {
                        key = current
                        from -= 1
                        while fromTop > 0 && Int(old[fromTop]) > from { fromTop -= 1 }
                    } else {
                        next -= 1
                    }
                } else {
                    next -= 1
                }
                store(key, at: to)
                let top = Int(key.high >> 48)
                while unset > top {
                    new[unset] = Int32(to + 1)
                    unset -= 1
                }
                to -= 1
            }
            // The entries up to `from` did not move: stretches beginning among them begin where
            // they did; the others begin at `to + 1`, the first entry written.
            let keptTop = from >= 0 ? fromTop : -1
            while unset > keptTop {
                new[unset] = Int32(to + 1)
                unset -= 1
            }
            while unset >= 0 {
                new[unset] = old[unset]
                unset -= 1
            }
            count = total
            spare = old
            tops = new
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
