import Foundation
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
/// under 1 byte per key) and the index (about half a byte per key).
/// Sendable as a value: the storage is copied before any change when shared (copy on write), so a
/// copy handed to another thread is never changed under it.
struct EventKeySet: @unchecked Sendable {
    private var storage: Storage

    init(minimumCapacity: Int = 0) {
        storage = Storage(expected: minimumCapacity)
    }

    var count: Int { storage.run.count + storage.recent.count }

    /// Adds a key; false when it was already there.
    @discardableResult
    mutating func insert(_ key: EventKey) -> Bool {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage.insert(Mixed(key))
    }

    func contains(_ key: EventKey) -> Bool {
        storage.contains(Mixed(key))
    }

    /// Every key, in no particular order.
    func forEach(_ body: (EventKey) -> Void) {
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

        init(expected: Int) {
            run = SortedRun(expected: expected)
            recent = RecentTable(minimumKeys: 1 << 15)
            indexBits = 12
            starts = [Int32](repeating: 0, count: (1 << 12) + 1)
        }

        private init(run: SortedRun, recent: RecentTable, starts: [Int32], indexBits: UInt64) {
            self.run = run
            self.recent = recent
            self.starts = starts
            self.indexBits = indexBits
        }

        func copy() -> Storage {
            Storage(run: run.copy(), recent: recent.copy(), starts: starts, indexBits: indexBits)
        }

        func contains(_ key: Mixed) -> Bool {
            recent.contains(key) || runContains(key)
        }

        func insert(_ key: Mixed) -> Bool {
            if runContains(key) { return false }
            guard recent.insert(key) else { return false }
            if recent.count >= max(1 << 15, run.count / 32) { merge() }
            return true
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

        /// Moves the recent keys into the sorted run and rebuilds the index.
        private func merge() {
            recent.drainSorted { added in run.merge(added) }
            recent.resize(minimumKeys: max(1 << 15, run.count / 32))
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

        init(expected: Int) {
            region = MappedRegion(minimumBytes: max(1 << 20, expected * 16))
        }

        private init(count: Int, region: MappedRegion) {
            self.count = count
            self.region = region
        }

        func copy() -> SortedRun {
            let copy = MappedRegion(minimumBytes: max(1 << 20, count * 16))
            copy.commit(bytes: count * 16)
            copy.words.update(from: region.words, count: 2 * count)
            return SortedRun(count: count, region: copy)
        }

        subscript(index: Int) -> Mixed {
            Mixed(high: region.words[2 * index], low: region.words[2 * index + 1])
        }

        /// Merges sorted keys (none of them present) in place, from the back.
        mutating func merge(_ added: UnsafeBufferPointer<Mixed>) {
            let total = count + added.count
            if !region.canHold(bytes: total * 16) {
                let larger = MappedRegion(minimumBytes: total * 16 * 2)
                larger.commit(bytes: count * 16)
                larger.words.update(from: region.words, count: 2 * count)
                region = larger
            }
            region.commit(bytes: total * 16)
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

    /// Anonymous memory reserved (not committed) up front and made usable page by page: what is
    /// resident is what was written.
    final class MappedRegion {
        let base: UnsafeMutableRawPointer
        let reserved: Int
        private(set) var committed = 0

        /// Reserves at least `minimumBytes`, and `reserve` bytes of addresses (1 GiB unless told:
        /// room to grow without moving; only addresses, nothing is resident until used).
        init(minimumBytes: Int, reserve: Int = 1 << 30) {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            var size = max(minimumBytes, reserve)
            size = (size + page - 1) / page * page
            guard let pointer = mmap(nil, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
                  pointer != MAP_FAILED else {
                fatalError("cannot reserve \(size) bytes of address space for the counted-key set: \(String(cString: strerror(errno)))")
            }
            base = pointer
            reserved = size
        }

        deinit {
            munmap(base, reserved)
        }

        var words: UnsafeMutablePointer<UInt64> { base.assumingMemoryBound(to: UInt64.self) }

        func canHold(bytes: Int) -> Bool { bytes <= reserved }

        /// Gives the pages of the first `bytes` back to the system; they read as zeros afterwards.
        func discard(bytes: Int) {
            _ = madvise(base, min(bytes, committed), MADV_DONTNEED)
        }

        /// Makes the first `bytes` (rounded up to 1 MiB) readable and writable.
        func commit(bytes: Int) {
            guard bytes > committed else { return }
            let step = 1 << 20
            let target = min(reserved, (bytes + step - 1) / step * step)
            guard target > committed else { return }
            guard mprotect(base + committed, target - committed, PROT_READ | PROT_WRITE) == 0 else {
                fatalError("cannot commit memory for the counted-key set: \(String(cString: strerror(errno)))")
            }
            committed = target
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

        init(minimumKeys: Int) {
            slots = RecentTable.slots(for: minimumKeys)
            shift = UInt64(64 - slots.trailingZeroBitCount)
            region = MappedRegion(minimumBytes: slots * 16, reserve: slots * 16)
            region.commit(bytes: slots * 16)
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

        mutating func insert(_ key: Mixed) -> Bool {
            if key.isZero {
                defer { containsZero = true }
                if containsZero { return false }
                count += 1
                return true
            }
            if (count + 1) * 4 > slots * 3 { grow() }
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

        private mutating func grow() {
            let old = keys()
            let zero = containsZero
            self = RecentTable(minimumKeys: count * 2)
            for key in old { _ = insert(key) }
            if zero { _ = insert(Mixed(high: 0, low: 0)) }
        }

        func forEach(_ body: (Mixed) -> Void) {
            if containsZero { body(Mixed(high: 0, low: 0)) }
            let words = words
            for slot in 0..<slots where words[2 * slot] != 0 || words[2 * slot + 1] != 0 {
                body(Mixed(high: words[2 * slot], low: words[2 * slot + 1]))
            }
        }

        /// The keys, in slot order (nearly sorted: slots follow the top bits).
        func keys() -> [Mixed] {
            var keys: [Mixed] = []
            keys.reserveCapacity(count)
            forEach { keys.append($0) }
            return keys
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

        /// A table of its own with the same keys.
        func copy() -> RecentTable {
            var copy = RecentTable(minimumKeys: count)
            forEach { _ = copy.insert($0) }
            return copy
        }

        /// Resizes an empty table for `minimumKeys` keys.
        mutating func resize(minimumKeys: Int) {
            precondition(count == 0)
            let wanted = RecentTable.slots(for: minimumKeys)
            if wanted != slots { self = RecentTable(minimumKeys: minimumKeys) }
        }
    }
}
