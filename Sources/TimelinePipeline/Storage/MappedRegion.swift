import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory for the counted-key set that could not be had.
public struct MemoryMapError: Error, CustomStringConvertible, Sendable {
    /// `"reserve"` (address space) or `"commit"` (pages made usable).
    public let operation: String
    public let bytes: Int
    public let code: Errno

    public var description: String {
        "cannot \(operation) \(bytes) bytes of memory for the counted-key set: \(code)"
    }
}

/// Anonymous memory reserved (not committed) up front and made usable a megabyte at a time: what
/// is resident is what was written. The counted-key set keeps its sorted run and its hash table in
/// regions of their own.
///
/// Failures are errors, not traps: the aggregator reports them and stops, its last checkpoint
/// whole. Where address space is limited (`ulimit -v`), a region that cannot reserve room to grow
/// reserves only what it needs now, and grows by moving to a larger region, as an array would;
/// such a fallback costs copies, never counts, so it is taken without a word.
final class MappedRegion {
    let base: UnsafeMutableRawPointer
    let reserved: Int
    private(set) var committed = 0

    /// Reserves at least `minimumBytes` of addresses, and `reserve` bytes (1 GiB unless told) when it
    /// can: room to grow without moving; only addresses, nothing is resident until used.
    init(minimumBytes: Int, reserve: Int = 1 << 30) throws(MemoryMapError) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let needed = (minimumBytes + page - 1) / page * page
        var size = max(needed, (reserve + page - 1) / page * page)
        var pointer = MappedRegion.map(size)
        if pointer == nil, size > needed {
            size = needed
            pointer = MappedRegion.map(size)
        }
        guard let pointer else { throw MemoryMapError(operation: "reserve", bytes: size, code: Errno(rawValue: errno)) }
        base = pointer
        reserved = size
    }

    private static func map(_ size: Int) -> UnsafeMutableRawPointer? {
        let pointer = mmap(nil, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        return pointer == MAP_FAILED ? nil : pointer
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

    /// Makes the first `bytes` (rounded up to 1 MiB, at most what is reserved) readable and writable.
    func commit(bytes: Int) throws(MemoryMapError) {
        precondition(canHold(bytes: bytes))
        guard bytes > committed else { return }
        let step = 1 << 20
        let target = min(reserved, (bytes + step - 1) / step * step)
        guard mprotect(base + committed, target - committed, PROT_READ | PROT_WRITE) == 0 else {
            throw MemoryMapError(operation: "commit", bytes: target - committed, code: Errno(rawValue: errno))
        }
        committed = target
    }
}

/// Hands the pages that the C allocator holds free back to the system (glibc's `malloc_trim`).
/// Buffers of a burst, such as the replies of a catch-up, are freed into glibc's arenas, which
/// keep their pages resident for the next allocation; a long-running daemon that had one burst
/// would hold them for good. Found at run time, so that a C library without it is no error: then
/// this does nothing.
enum FreeAllocatorMemory {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        #if canImport(Glibc)
        // RTLD_DEFAULT: the symbol wherever the process has it.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
        #else
        return nil
        #endif
    }()

    /// Releases what can be released; costs a walk over the allocator's free lists.
    static func release() {
        _ = trim?(0)
    }
}
