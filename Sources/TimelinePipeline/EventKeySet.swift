import Timeline

/// The aggregator's set of counted event keys: open addressing with linear probing over one flat
/// array of slots (two 64-bit words each, 16 bytes, no per-entry overhead), so a probe walks
/// consecutive memory.
///
/// Keys are SHA-256 bits or ids' own hex digits; a multiplicative mix of both halves picks the
/// first slot, so ids that differ only in a few digits do not cluster. The all-zero key marks an
/// empty slot and is tracked on the side. The table doubles when it is 4/5 full, so it holds between
/// 2/5 and 4/5 of its slots: 20 to 40 bytes per key.
struct EventKeySet {
    /// `words[2 * slot]` is the high half of the key in `slot`, `words[2 * slot + 1]` the low half.
    private var words: [UInt64]
    private var shift: UInt64
    private var containsZero = false
    private(set) var count = 0

    init(minimumCapacity: Int = 0) {
        var slots = 1024
        while slots * 4 / 5 < minimumCapacity { slots *= 2 }
        words = [UInt64](repeating: 0, count: 2 * slots)
        shift = UInt64(64 - slots.trailingZeroBitCount)
    }

    /// Slots in the table.
    var capacity: Int { words.count / 2 }

    /// Adds a key; false when it was already there.
    @discardableResult
    mutating func insert(_ key: EventKey) -> Bool {
        if key.high == 0 && key.low == 0 {
            defer { containsZero = true }
            if containsZero { return false }
            count += 1
            return true
        }
        if (count + 1) * 5 > capacity * 4 { grow() }
        let shift = shift
        let inserted = words.withUnsafeMutableBufferPointer { Self.place(key, $0, shift) }
        if inserted { count += 1 }
        return inserted
    }

    func contains(_ key: EventKey) -> Bool {
        if key.high == 0 && key.low == 0 { return containsZero }
        let mask = capacity - 1
        var slot = Self.slot(key, shift)
        while true {
            let high = words[2 * slot], low = words[2 * slot + 1]
            if high == key.high && low == key.low { return true }
            if high == 0 && low == 0 { return false }
            slot = (slot + 1) & mask
        }
    }

    /// Every key, in no particular order.
    func forEach(_ body: (EventKey) -> Void) {
        if containsZero { body(EventKey(high: 0, low: 0)) }
        for slot in 0..<capacity where words[2 * slot] != 0 || words[2 * slot + 1] != 0 {
            body(EventKey(high: words[2 * slot], low: words[2 * slot + 1]))
        }
    }

    @inline(__always)
    private static func slot(_ key: EventKey, _ shift: UInt64) -> Int {
        let mixed = ((key.high &* 0x9E37_79B9_7F4A_7C15) ^ key.low) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: mixed >> shift)
    }

    @inline(__always)
    private static func place(_ key: EventKey, _ words: UnsafeMutableBufferPointer<UInt64>, _ shift: UInt64) -> Bool {
        let mask = words.count / 2 - 1
        var slot = slot(key, shift)
        while true {
            let high = words[2 * slot], low = words[2 * slot + 1]
            if high == 0 && low == 0 {
                words[2 * slot] = key.high
                words[2 * slot + 1] = key.low
                return true
            }
            if high == key.high && low == key.low { return false }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let old = words
        words = []
        var grown = [UInt64](repeating: 0, count: 2 * old.count)
        shift -= 1
        let shift = shift
        grown.withUnsafeMutableBufferPointer { grown in
            old.withUnsafeBufferPointer { old in
                for slot in 0..<(old.count / 2) where old[2 * slot] != 0 || old[2 * slot + 1] != 0 {
                    _ = Self.place(EventKey(high: old[2 * slot], low: old[2 * slot + 1]), grown, shift)
                }
            }
        }
        words = grown
    }
}
