import Foundation
import Logging
import Synchronization
import SystemPackage

/// How the daemons write their log lines on standard error (`--log-format`, `log.format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's `StreamLogHandler`: one line for people.
    case text
    /// `JSONLogHandler`: one JSON object a line, for log shippers.
    case json
}

/// A log handler that writes each message as one JSON object on one line, for log shippers:
///
/// ```json
/// {"ts":"2026-11-30T09:30:15.250Z","level":"info","logger":"timeline.broker","msg":"Broker started","metadata":{"zmq.frontend":"tcp://127.0.0.1:5601"}}
/// ```
///
/// `ts` is RFC 3339 in UTC with milliseconds, `level` swift-log's level name, `logger` the
/// logger's label, `msg` the message. `metadata` (left out when empty) holds the handler's
/// metadata, overridden by the metadata provider's, overridden by the call's, as
/// `StreamLogHandler` merges them; keys stay as given (dotted, not split into objects), values
/// are strings, arrays and objects. Strings are escaped so that no character (a quote, a control
/// character, a line break) can end or break the line. Each line goes out in one write under a
/// lock, so lines from several threads never interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogLineOutput

    /// A handler writing to `output` (standard error unless given).
    public init(label: String, output: LogLineOutput = .standardError, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            merged.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        output.write(Self.line(time: Date(), level: event.level, label: label, message: event.message.description, metadata: merged))
    }

    /// The bytes of one line, newline included.
    static func line(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + message.utf8.count)
        out.append(contentsOf: #"{"ts":""#.utf8)
        out.append(contentsOf: timestamp(time).utf8)
        out.append(contentsOf: #"","level":"#.utf8)
        appendString(level.rawValue, to: &out)
        out.append(contentsOf: #","logger":"#.utf8)
        appendString(label, to: &out)
        out.append(contentsOf: #","msg":"#.utf8)
        appendString(message, to: &out)
        if !metadata.isEmpty {
            out.append(contentsOf: #","metadata":"#.utf8)
            appendValue(.dictionary(metadata), to: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    /// RFC 3339, UTC, milliseconds: `2026-11-30T09:30:15.250Z`.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds.quotientAndRemainder(dividingBy: 1000).quotient)
        var remainder = milliseconds % 1000
        if remainder < 0 {
            remainder += 1000
            seconds -= 1
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(remainder), 3))Z"
    }

    /// A metadata value as JSON: objects with their keys sorted, so that a line is the same
    /// whatever the dictionary's order.
    static func appendValue(_ value: Logger.Metadata.Value, to out: inout [UInt8]) {
        switch value {
        case .string(let text):
            appendString(text, to: &out)
        case .stringConvertible(let convertible):
            appendString(convertible.description, to: &out)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendValue(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .dictionary(let entries):
            out.append(UInt8(ascii: "{"))
            for (index, key) in entries.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                appendString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                appendValue(entries[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string: quote, backslash and every control character escaped. A Swift string is
    /// always valid Unicode (bytes that were not UTF-8 became U+FFFD when it was made), so its
    /// UTF-8 is copied as it is.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20, 0x7F:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Where log lines go: each line is written whole, under one lock shared by every handler that
/// writes there, so that lines from several threads never interleave.
public struct LogLineOutput: Sendable {
    private let sink: @Sendable ([UInt8]) -> Void

    /// Lines handed to `sink`, one call a line (tests).
    public init(_ sink: @escaping @Sendable ([UInt8]) -> Void) {
        self.sink = sink
    }

    func write(_ line: [UInt8]) { sink(line) }

    /// Standard error, one `write(2)` a line (retried on EINTR and short writes).
    public static let standardError: LogLineOutput = {
        let lock = Mutex(())
        return LogLineOutput { line in
            lock.withLock { _ in
                // A log line that cannot be written has nowhere else to go.
                _ = try? FileDescriptor.standardError.writeAll(line)
            }
        }
    }()
}
