/// A problem found while reading a source, located by file and line.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Sendable, Comparable {
        /// The input was rejected: an event could not be made from it.
        case error
        /// Something was read but looks wrong, or a part of the input was not used.
        case warning
        /// For information, such as a row that repeats an earlier one.
        case note

        private var rank: Int { self == .error ? 0 : self == .warning ? 1 : 2 }
        public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
    }

    public var severity: Severity
    public var file: String
    public var line: Int?
    public var message: String

    public init(_ severity: Severity, file: String, line: Int?, _ message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: severity: message`, the form compilers use, so editors can jump to it.
    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return "\(location): \(severity.rawValue): \(message)"
    }
}

/// Events read from one source, with everything worth telling about how they were read.
public struct SourceReading: Sendable {
    public var document: String
    public var events: [TimelineEvent]
    public var diagnostics: [Diagnostic]

    public init(document: String, events: [TimelineEvent] = [], diagnostics: [Diagnostic] = []) {
        self.document = document
        self.events = events
        self.diagnostics = diagnostics
    }

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
}
