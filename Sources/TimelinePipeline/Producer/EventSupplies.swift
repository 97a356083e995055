import Foundation
import Timeline
import ZeroMQ

/// Where a producer worker takes its events from: a fixed list, or a list that grows (a followed file).
public protocol EventSupply: AnyObject, Sendable {
    /// The events at `index` and after that are available now, at most `limit` of them.
    func events(from index: Int, limit: Int) -> [TimelineEvent]
    /// Whether more events may come later (a followed file): the worker then waits instead of finishing.
    var isOpenEnded: Bool { get }
    /// Blocks up to `timeout` seconds for more events; returns how many there are in all.
    func waitForMore(beyond count: Int, timeout: Double) -> Int
    var count: Int { get }
}

/// A fixed list of events.
public final class FixedSupply: EventSupply {
    let all: [TimelineEvent]
    public init(_ events: [TimelineEvent]) { all = events }
    public func events(from index: Int, limit: Int) -> [TimelineEvent] {
        guard index < all.count else { return [] }
        return Array(all[index..<min(all.count, index + limit)])
    }
    public var isOpenEnded: Bool { false }
    public func waitForMore(beyond count: Int, timeout: Double) -> Int { all.count }
    public var count: Int { all.count }
}

/// Synthetic visits made on demand, so that millions of them need no memory.
public final class SyntheticSupply: EventSupply {
    public let count: Int
    let seed: UInt64

    public init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    public func events(from index: Int, limit: Int) -> [TimelineEvent] {
        guard index < count else { return [] }
        return (index..<min(count, index + limit)).map { SyntheticEvents.event($0, seed: seed) }
    }

    public var isOpenEnded: Bool { false }
    public func waitForMore(beyond count: Int, timeout: Double) -> Int { self.count }
}

/// Every `stride`-th event of another supply, starting at `offset`: one worker's share.
public final class StridedSupply: EventSupply {
    let base: any EventSupply
    let offset: Int
    let stride: Int

    public init(_ base: any EventSupply, offset: Int, stride: Int) {
        self.base = base
        self.offset = offset
        self.stride = stride
    }

    public var count: Int { base.count > offset ? (base.count - offset + stride - 1) / stride : 0 }

    public func events(from index: Int, limit: Int) -> [TimelineEvent] {
        var result: [TimelineEvent] = []
        var local = index
        while result.count < limit, local < count {
            // Fetch the run of base events that covers the next few local indices in one call.
            let baseIndex = offset + local * stride
            let chunk = base.events(from: baseIndex, limit: stride * min(limit - result.count, 64))
            var position = 0
            while position < chunk.count, result.count < limit, local < count {
                result.append(chunk[position])
                position += stride
                local += 1
            }
            if chunk.isEmpty { break }
        }
        return result
    }

    public var isOpenEnded: Bool { false }
    public func waitForMore(beyond count: Int, timeout: Double) -> Int { self.count }
}

/// A JSON Lines file that grows: lines appended after start are read and published as they come
/// (`produce --follow`). Only complete lines are read; a bad line is reported and skipped.
public final class FollowedFileSupply: EventSupply, @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var all: [TimelineEvent] = []
    private var ids = Set<String>()
    private var offset: UInt64 = 0
    private var lineNumber = 0
    private var partial = Data()
    private let report: @Sendable (Diagnostic) -> Void

    public init(path: String, report: @escaping @Sendable (Diagnostic) -> Void) throws {
        self.path = path
        self.report = report
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SourceError(path: path, reason: .unreadable("no such readable file"))
        }
        readNewLines()
    }

    public var count: Int { lock.withLock { all.count } }
    public var isOpenEnded: Bool { true }

    public func events(from index: Int, limit: Int) -> [TimelineEvent] {
        lock.withLock {
            guard index < all.count else { return [] }
            return Array(all[index..<min(all.count, index + limit)])
        }
    }

    /// Checks the file for new lines now and then until there are more than `count` events or the
    /// timeout passes.
    public func waitForMore(beyond count: Int, timeout: Double) -> Int {
        let deadline = monotonicSeconds() + timeout
        while true {
            readNewLines()
            let total = self.count
            if total > count || monotonicSeconds() >= deadline { return total }
            usleep(50_000)
        }
    }

    private func readNewLines() {
        guard let handle = FileHandle(forReadingAtPath: path) else { return }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        lock.lock()
        defer { lock.unlock() }
        if size < offset {
            // Truncated or replaced: start over from the top, keeping what was already read by id.
            offset = 0
            lineNumber = 0
            partial = Data()
        }
        guard size > offset else { return }
        try? handle.seek(toOffset: offset)
        let data = handle.readData(ofLength: Int(size - offset))
        offset += UInt64(data.count)
        partial.append(data)
        while let newline = partial.firstIndex(of: 0x0A) {
            let lineData = partial[partial.startIndex..<newline]
            partial = Data(partial[(newline + 1)...])
            lineNumber += 1
            let line = String(decoding: lineData, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                let event = try EventJSON.decode(line, fallbackSource: Provenance(document: path, line: lineNumber))
                if ids.insert(event.id).inserted { all.append(event) }
            } catch {
                report(Diagnostic(.error, file: path, line: lineNumber, "\(error)"))
            }
        }
    }
}
