import Timeline

/// The request/reply protocol of the broker's replay endpoint and the aggregator's query endpoint.
///
/// A client sends a multipart request whose first frame is a command; the server answers with one
/// multipart reply. Integers are unsigned big-endian. Clients may be DEALER sockets (no delimiter)
/// or REQ sockets (an empty delimiter frame); the server echoes whatever envelope came with the
/// request.
///
/// Broker (replay endpoint, ROUTER):
/// - `HEAD` -> `HEAD | u64 last sequence`
/// - `STATS` -> `STATS | JSON object of the broker's counters since it started`
/// - `POSITION | producer id` -> `POSITION | u64 last producer sequence logged | u64 last sequence`
/// - `REPLAY | u64 request id | u64 after | u32 max count | prefix…` ->
///   `BATCH | u64 request id | u64 last sequence | u64 scanned through | (topic | header | body)…`:
///   the records after `after` whose topic starts with one of the prefixes (all when none), and the
///   last sequence the broker looked at, so a filtered reader can advance past records it skips.
/// - `CHUNK | u64 request id | u64 after | u32 max count | prefix…` ->
///   `CHUNK | u64 request id | u64 last sequence | u64 scanned through | records`: the same
///   selection as `REPLAY`, as one frame of records in the event log's own framing (see `EventLog`),
///   so that a catch-up costs one frame per few thousand records instead of three per record.
/// - anything else -> `ERROR | message`
///
/// Aggregator (query endpoint, ROUTER):
/// - `REPORT | format` (text, markdown, csv, json, html) -> `OK | report`
/// - `STATUS` -> `OK | JSON object of positions, lag and counters`
/// - anything else -> `ERROR | message`
public enum ControlProtocol {
    public static func u64(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    public static func u32(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) }
    }

    /// Appends `value` big-endian.
    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    /// The big-endian u64 at `offset`; the caller checks the bounds.
    static func readU64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    public static func readU64(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.count == 8 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    public static func readU32(_ bytes: [UInt8]) -> UInt32? {
        guard bytes.count == 4 else { return nil }
        return bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Splits a ROUTER message into the routing envelope (identity frames, and the empty delimiter
    /// when a REQ client sent one) and the request.
    public static func splitEnvelope(_ frames: [[UInt8]]) -> (envelope: [[UInt8]], request: [[UInt8]]) {
        guard frames.count > 1 else { return (frames, []) }
        if let delimiter = frames.firstIndex(where: \.isEmpty) {
            return (Array(frames[...delimiter]), Array(frames[(delimiter + 1)...]))
        }
        return ([frames[0]], Array(frames.dropFirst()))
    }
}
