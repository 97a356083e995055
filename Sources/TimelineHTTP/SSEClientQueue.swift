import Foundation

/// What one Server-Sent Events client has yet to be sent, bounded in bytes. A client that does not
/// keep up (its queue would pass `limitBytes`) loses what is queued and is marked for a resync:
/// it is sent the whole state next, which covers everything it missed. Pure; the hub keeps one
/// per client behind its lock.
public struct SSEClientQueue: Sendable {
    /// What the client's writer takes next.
    public enum Next: Equatable, Sendable {
        /// Send the whole state first (a new client, or one that fell behind).
        case resync
        /// Send these messages, in order.
        case messages([[UInt8]])
    }

    public let limitBytes: Int
    public private(set) var queuedBytes = 0
    public private(set) var needsResync: Bool
    /// How often the queue overflowed and was dropped.
    public private(set) var resyncs = 0
    /// Messages dropped: queued ones at an overflow, and those that came while a resync was due.
    public private(set) var droppedMessages = 0
    private var messages: [[UInt8]] = []

    /// A new client starts with a resync: its first message is the state.
    public init(limitBytes: Int, startsWithResync: Bool = true) {
        precondition(limitBytes > 0, "a client's queue holds at least a byte")
        self.limitBytes = limitBytes
        needsResync = startsWithResync
    }

    public var isEmpty: Bool { !needsResync && messages.isEmpty }

    /// Queues a message; returns false when it overflowed the queue (everything is dropped and a
    /// resync is due). While a resync is due, messages are dropped: the state will hold them.
    @discardableResult
    public mutating func push(_ message: [UInt8]) -> Bool {
        if needsResync {
            droppedMessages += 1
            return true
        }
        guard queuedBytes + message.count <= limitBytes else {
            droppedMessages += messages.count + 1
            messages.removeAll()
            queuedBytes = 0
            needsResync = true
            resyncs += 1
            return false
        }
        messages.append(message)
        queuedBytes += message.count
        return true
    }

    /// Forgets the queued messages: a state just sent holds what they say.
    public mutating func supersede() {
        messages.removeAll()
        queuedBytes = 0
    }

    /// Drops what is queued and sends the state next: what it was to follow was never queued.
    public mutating func requireResync() {
        droppedMessages += messages.count
        supersede()
        needsResync = true
    }

    /// Takes what is due: the resync first, else every queued message; nil when nothing is.
    public mutating func take() -> Next? {
        if needsResync {
            needsResync = false
            return .resync
        }
        guard !messages.isEmpty else { return nil }
        defer {
            messages.removeAll()
            queuedBytes = 0
        }
        return .messages(messages)
    }
}

/// The Server-Sent Events wire form of one message: `event: NAME`, the data's lines each as a
/// `data:` line (so a newline in the data cannot end the message), and a blank line.
public func serverSentEvent(_ name: String, data: String) -> [UInt8] {
    var text = "event: \(name)\n"
    // CR, LF and CRLF all end a line in an event stream; data with none (JSON, mostly) is one line.
    guard data.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else {
        var bytes = Array(text.utf8)
        bytes.reserveCapacity(bytes.count + data.utf8.count + 8)
        bytes += "data: ".utf8
        bytes += data.utf8
        bytes += "\n\n".utf8
        return bytes
    }
    let lines = data.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
    for line in lines.split(separator: "\n", omittingEmptySubsequences: false) {
        text += "data: \(line)\n"
    }
    text += "\n"
    return Array(text.utf8)
}
