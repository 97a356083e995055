import Foundation
import Synchronization
import SystemPackage
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
    /// How many events there have been in all, forgotten ones included: indexes run up to it.
    var count: Int { get }
    /// The index of the first event still held: those before it were forgotten.
    var firstHeld: Int { get }
    /// Lets go of the events before `index`, which the broker has logged; indexes of the others do
    /// not change. An index past the end lets go of everything read so far.
    func forget(before index: Int)
    /// Told, when a session starts, how many events of this producer the broker has logged. A
    /// supply whose numbering is kept apart from its sources (a followed folder's state file)
    /// throws when it cannot go on from there without losing events.
    func resume(brokerLogged position: Int) throws
}

extension EventSupply {
    /// A fixed or synthetic supply holds everything, or makes it on demand: nothing to let go of.
    public var firstHeld: Int { 0 }
    public func forget(before index: Int) {}
    /// A supply numbered from its sources (read again from the top after a restart) goes on from
    /// anywhere.
    public func resume(brokerLogged position: Int) throws {}
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
///
/// It forgets nothing (the default `forget`): its base is shared with the other workers' shares,
/// and one worker cannot tell what the others are done with. Only a followed file forgets, and it
/// is never split: `produce --follow` runs one worker, which reads the supply itself.
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
///
/// Memory stays bounded however long the file grows: the producer forgets the events the broker
/// has logged (`forget(before:)`), and what is kept of every event read is its id's 128-bit key
/// (`EventKeySet`, about 17 bytes each), so that a line repeated later, even after its event was
/// forgotten, is still known and not published again.
public final class FollowedFileSupply: EventSupply, Sendable {
    public let path: String
    private let file: FilePath
    private let report: @Sendable (Diagnostic) -> Void
    private let state = Mutex(State())

    private struct State {
        /// The events held, from index `firstHeld` on.
        var held: [TimelineEvent] = []
        var firstHeld = 0
        /// The keys of every distinct event read, forgotten ones included.
        var ids = EventKeySet()
        /// How far the file was read, and the start of a line not yet complete there.
        var offset: Int64 = 0
        var partial: [UInt8] = []
        var lineNumber = 0
    }

    public init(path: String, report: @escaping @Sendable (Diagnostic) -> Void) throws {
        self.path = path
        file = FilePath(path)
        self.report = report
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw SourceError(path: path, reason: .unreadable("no such readable file"))
        }
        readNewLines()
    }

    public var count: Int { state.withLock { $0.firstHeld + $0.held.count } }
    public var firstHeld: Int { state.withLock { $0.firstHeld } }
    public var isOpenEnded: Bool { true }

    /// The held events from `index` on; none for an index already forgotten (the producer checks
    /// `firstHeld` before it asks).
    public func events(from index: Int, limit: Int) -> [TimelineEvent] {
        state.withLock { state in
            let start = index - state.firstHeld
            guard start >= 0, start < state.held.count else { return [] }
            return Array(state.held[start..<min(state.held.count, start + limit)])
        }
    }

    public func forget(before index: Int) {
        state.withLock { state in
            let drop = min(index - state.firstHeld, state.held.count)
            guard drop > 0 else { return }
            state.held.removeFirst(drop)
            state.firstHeld += drop
            // A backlog once large (a big file at start, a broker away for a while) does not keep
            // its storage once it has been sent and logged.
            if state.held.capacity > 4 * state.held.count + 1_024 {
                var compact: [TimelineEvent] = []
                compact.reserveCapacity(state.held.count)
                compact.append(contentsOf: state.held)
                state.held = compact
            }
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

    /// Reads what was appended since the last call and adds the events of its complete lines. A
    /// file that cannot be read now (moved away, not yet back) is tried again at the next call.
    private func readNewLines() {
        let diagnostics = state.withLock { state -> [Diagnostic] in
            guard let appended = try? readAppended(after: &state) else { return [] }
            state.partial += appended
            return takeCompleteLines(&state)
        }
        for diagnostic in diagnostics { report(diagnostic) }
    }

    /// The bytes appended after `state.offset`, which moves past them. A file shorter than the
    /// offset was truncated or replaced: it is read again from the top (events already read are
    /// known by id and not repeated).
    private func readAppended(after state: inout State) throws -> [UInt8] {
        let fd = try FileDescriptor.open(file, .readOnly, options: [.closeOnExec])
        defer { try? fd.close() }
        let size = try fd.stat().size
        if size < state.offset {
            state.offset = 0
            state.lineNumber = 0
            state.partial = []
        }
        guard size > state.offset else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(size - state.offset))
        let got = try bytes.withUnsafeMutableBytes { try fd.readFully(fromAbsoluteOffset: state.offset, into: $0) }
        bytes.removeLast(bytes.count - got)
        state.offset += Int64(got)
        return bytes
    }

    /// Decodes the complete lines in `state.partial`, keeping the incomplete rest; returns the
    /// diagnostics of the bad ones.
    private func takeCompleteLines(_ state: inout State) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var start = 0
        while let newline = state.partial[start...].firstIndex(of: 0x0A) {
            let line = String(decoding: state.partial[start..<newline], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            start = newline + 1
            state.lineNumber += 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                let event = try EventJSON.decode(line, fallbackSource: Provenance(document: path, line: state.lineNumber))
                let isNew: Bool
                do {
                    isNew = try state.ids.insert(EventKey(id: event.id))
                } catch {
                    // No memory for the key: publish the event anyway (consumers count an id once),
                    // and say so.
                    isNew = true
                    diagnostics.append(Diagnostic(.warning, file: path, line: state.lineNumber, "cannot remember this event's id: \(error)"))
                }
                if isNew { state.held.append(event) }
            } catch {
                diagnostics.append(Diagnostic(.error, file: path, line: state.lineNumber, "\(error)"))
            }
        }
        state.partial.removeFirst(start)
        return diagnostics
    }
}
