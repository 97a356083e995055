import Foundation
import Logging
import SystemPackage

/// Where the progress of long work goes.
public enum ProgressDisplay: Sendable {
    /// Nowhere.
    case off
    /// A bar redrawn in place on standard error, a terminal.
    case terminal
    /// A line through the logger every `interval`.
    case log(Logger, interval: Duration)

    /// For standard error: a bar when it is a terminal, else a log line every 5 s (nothing without
    /// a logger); off when `enabled` is false or `TIMELINE_PROGRESS` is `0`.
    public static func standardError(enabled: Bool = true, logger: Logger?,
                                     environment: [String: String] = ProcessInfo.processInfo.environment) -> ProgressDisplay {
        guard enabled, environment["TIMELINE_PROGRESS"] != "0" else { return .off }
        if isatty(STDERR_FILENO) == 1 { return .terminal }
        return logger.map { .log($0, interval: .seconds(5)) } ?? .off
    }

    public var isOff: Bool {
        if case .off = self { return true }
        return false
    }
}

/// The progress of one long piece of work (events published, records caught up on): a bar with
/// the rate and the time left, redrawn in place at most ten times a second on a terminal, or a log
/// line every few seconds elsewhere. Nothing is shown for work done within `delay` (a second), so
/// small inputs stay quiet; `finish()` leaves the final state on its own line (a terminal) or logs
/// it, when anything was shown.
///
/// The caller updates it per batch, not per event: each `update` reads the clock once. Owned by
/// one thread.
public struct ProgressReporter {
    public let title: String
    public let unit: String
    public private(set) var total: UInt64
    public private(set) var done: UInt64 = 0
    /// What else there is to say, after the count (`1234 events` while files are read).
    public private(set) var detail: String?
    let display: ProgressDisplay
    /// Nothing is shown before this much time has passed since the start.
    var delay = 1.0
    /// The least time between two redraws of the bar.
    var redrawInterval = 0.1
    private let clock: @Sendable () -> Double
    private let columns: @Sendable () -> Int
    private let write: @Sendable (String) -> Void
    private let started: Double
    /// The count at the first update: a rate counts what was done while watched (a resumed
    /// producer starts from what the broker had).
    private var baseline: UInt64?
    private var lastShown: Double?

    /// - Parameters:
    ///   - clock: monotonic seconds.
    ///   - columns: the terminal's width.
    ///   - write: where a terminal's bar goes.
    public init(title: String, unit: String, total: UInt64, display: ProgressDisplay, clock: @escaping @Sendable () -> Double = monotonicSeconds,
                columns: @escaping @Sendable () -> Int = { terminalColumns(STDERR_FILENO) },
                write: @escaping @Sendable (String) -> Void = { text in _ = try? FileDescriptor.standardError.writeAll(text.utf8) }) {
        self.title = title
        self.unit = unit
        self.total = total
        self.display = display
        self.clock = clock
        self.columns = columns
        self.write = write
        started = clock()
    }

    /// Whether anything was shown yet.
    public var shown: Bool { lastShown != nil }

    /// `done` of `total` (unchanged when nil) are done now, with `detail` (unchanged when nil);
    /// redraws or logs when due.
    public mutating func update(done: UInt64, total: UInt64? = nil, detail: String? = nil) {
        if display.isOff { return }
        if let total { self.total = total }
        if let detail { self.detail = detail }
        if baseline == nil { baseline = done }
        self.done = done
        let now = clock()
        guard now - started >= delay else { return }
        switch display {
        case .off:
            return
        case .terminal:
            if let lastShown, now - lastShown < redrawInterval { return }
            write("\r" + line(now: now, final: false) + "\u{1B}[K")
        case .log(let logger, let interval):
            if let lastShown, now - lastShown < interval.inSeconds { return }
            if lastShown == nil, now - started < interval.inSeconds { return }
            logger.info("Progress", metadata: metadata(now: now, final: false))
        }
        lastShown = now
    }

    /// The work is over (done, or stopped): the final state, when anything was shown.
    public mutating func finish() {
        guard shown else { return }
        let now = clock()
        switch display {
        case .off:
            return
        case .terminal:
            write("\r" + line(now: now, final: true) + "\u{1B}[K\n")
        case .log(let logger, _):
            logger.info("Progress finished", metadata: metadata(now: now, final: true))
        }
        lastShown = nil
    }

    /// Per second since the first update.
    private func rate(now: Double) -> Double {
        let elapsed = now - started
        guard elapsed > 0 else { return 0 }
        return Double(done - min(done, baseline ?? done)) / elapsed
    }

    private func line(now: Double, final: Bool) -> String {
        let rate = rate(now: now)
        let tail = final ? "in " + ProgressFormat.duration(now - started)
                         : "eta " + ProgressFormat.duration(ProgressFormat.remaining(done: done, total: total, rate: rate))
        return ProgressFormat.line(title: title, done: done, total: total, unit: detail.map { "\(unit) (\($0))" } ?? unit, rate: rate, tail: tail,
                                   columns: columns())
    }

    private func metadata(now: Double, final: Bool) -> Logger.Metadata {
        let rate = rate(now: now)
        var metadata: Logger.Metadata = [
            "progress.task": "\(title)", "progress.done": "\(done)", "progress.total": "\(total)", "progress.unit": "\(unit)",
            "progress.ratePerSecond": "\(Int(rate.rounded()))",
        ]
        if let detail { metadata["progress.detail"] = "\(detail)" }
        if final {
            metadata["progress.seconds"] = "\(ProgressFormat.duration(now - started))"
        } else {
            metadata["progress.eta"] = "\(ProgressFormat.duration(ProgressFormat.remaining(done: done, total: total, rate: rate)))"
        }
        return metadata
    }
}

/// The text of a progress line, without a terminal.
enum ProgressFormat {
    /// `producing [#####-----]  52% 104000/200000 events 51.2k/s eta 2s`, within `columns` (the
    /// last column left free, so the terminal never wraps); the bar takes what the text leaves, and
    /// is left out below 10 characters.
    static func line(title: String, done: UInt64, total: UInt64, unit: String, rate: Double, tail: String, columns: Int) -> String {
        let fraction = total == 0 ? 1 : min(1, Double(done) / Double(total))
        let percent = String(Int((fraction * 100).rounded(.down)))
        let text = String(repeating: " ", count: max(0, 3 - percent.count)) + percent + "% \(done)/\(total) \(unit) \(Self.rate(rate)) \(tail)"
        let barWidth = columns - 1 - title.count - text.count - 2
        guard barWidth >= 10 else { return String((title + " " + text).prefix(max(0, columns - 1))) }
        return title + " " + bar(fraction: fraction, width: min(barWidth, 50)) + " " + text
    }

    /// `[####------]`, `width` characters in all.
    static func bar(fraction: Double, width: Int) -> String {
        let inner = max(0, width - 2)
        let filled = Int((min(1, max(0, fraction)) * Double(inner)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: inner - filled) + "]"
    }

    /// `850/s`, `51.2k/s`, `1.23M/s`.
    static func rate(_ perSecond: Double) -> String {
        switch perSecond {
        case ..<1_000: return "\(Int(perSecond.rounded()))/s"
        case ..<1_000_000: return String(format: "%.1fk/s", perSecond / 1_000)
        default: return String(format: "%.2fM/s", perSecond / 1_000_000)
        }
    }

    /// Seconds left at `rate`; infinite when nothing moves.
    static func remaining(done: UInt64, total: UInt64, rate: Double) -> Double {
        guard done < total else { return 0 }
        guard rate > 0 else { return .infinity }
        return Double(total - done) / rate
    }

    /// `0s`, `42s`, `1m05s`, `1h02m`; `--` when unknown.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 100 * 3_600 else { return "--" }
        let whole = Int(seconds.rounded(.up))
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if whole < 60 { return "\(whole)s" }
        if whole < 3_600 { return "\(whole / 60)m\(two(whole % 60))s" }
        return "\(whole / 3_600)h\(two(whole % 3_600 / 60))m"
    }
}

/// The width of the terminal on `descriptor`; 80 when it cannot be told.
public func terminalColumns(_ descriptor: Int32) -> Int {
    var size = winsize()
    guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
}
