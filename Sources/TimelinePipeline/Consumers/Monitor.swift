import Foundation
import Logging
import Synchronization
import Timeline
import ZeroMQ

public struct MonitorSettings: Sendable {
    public var endpoints: ConsumerEndpoints
    /// Topic prefixes to show (`visit`, `visit.MN`, `visit.MN.KP`); empty for everything.
    public var topics: [String] = []
    /// Replay everything in the broker's log first, then follow live events.
    public var fromStart = false
    /// Replay the events the broker received from this time on first, then follow live events
    /// (instead of `fromStart`). A span counts back from when the monitor starts.
    public var since: SinceTime?
    /// Print each event as its JSON line instead of a readable line.
    public var json = false
    /// ANSI colour (a terminal, and NO_COLOR unset).
    public var colour = false
    /// Time between two lines of rates and totals (zero for none).
    public var statsInterval: Duration = .seconds(PipelineDefaults.monitorStatsIntervalSeconds)
    /// Exit after this many events.
    public var count: Int?
    public var security: Security?
    /// Figures for `/metrics` (position, lag); nil when metrics are off.
    public var metrics: ConsumerMetrics?

    public init(endpoints: ConsumerEndpoints) {
        self.endpoints = endpoints
    }
}

/// A live feed of events: one readable line per event, or JSON Lines for piping, with a periodic
/// line of rates and totals.
public final class Monitor: SocketLoop {
    public let settings: MonitorSettings
    let context: ZMQContext
    let logger: Logger
    /// Where event lines go (standard output by default).
    let output: @Sendable (String) -> Void
    /// Where the periodic statistics go: standard output in text mode, standard error in JSON mode.
    let statsOutput: @Sendable (String) -> Void
    /// Events shown and skipped, read by other threads.
    private let counts = Mutex((shown: 0, rejected: 0))

    public init(settings: MonitorSettings, context: ZMQContext, logger: Logger,
                output: @escaping @Sendable (String) -> Void, statsOutput: @escaping @Sendable (String) -> Void) {
        self.settings = settings
        self.context = context
        self.logger = logger
        self.output = output
        self.statsOutput = statsOutput
    }

    /// How many events the monitor has shown.
    public var shownCount: Int { counts.withLock { $0.shown } }

    public func runLoop(stopper: LoopStopper) throws {
        let stream = try ConsumerStream(context: context, endpoints: settings.endpoints, topics: settings.topics,
                                        position: StreamPosition(), security: settings.security, logger: logger)
        // A feed shows what the log still holds; it counts nothing that would be wrong without the rest.
        stream.skipsDeletedRecords = true
        stream.metrics = settings.metrics
        defer { stream.close() }
        // A span counts back from now, in milliseconds since the Unix epoch as the broker's log keeps time.
        let since = settings.since.map { $0.milliseconds(now: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }
        logger.info("Monitor started", metadata: [
            "zmq.backend": "\(settings.endpoints.backends.joined(separator: ","))", "monitor.topics": "\(settings.topics.isEmpty ? "everything" : settings.topics.joined(separator: ","))",
            "monitor.fromStart": "\(settings.fromStart)", "monitor.since": "\(since.map(String.init) ?? "none")",
        ])
        var lastStats = ContinuousClock.now
        var shownAtLastStats = 0
        var done = false
        let deliver: (StreamMessage) throws -> Void = { [self] message in
            guard !done else { return }
            let event: TimelineEvent
            do {
                event = try WireMessage.decodeEvent(topic: message.topic, header: message.header, body: message.body)
            } catch {
                counts.withLock { $0.rejected += 1 }
                logger.warning("Skipped a message whose event does not decode", metadata: ["stream.sequence": "\(message.sequence)", "error": "\(error)"])
                return
            }
            output(settings.json ? EventJSON.encode(event) + "\n" : Monitor.line(for: event, colour: settings.colour) + "\n")
            let count = counts.withLock { counts -> Int in
                counts.shown += 1
                return counts.shown
            }
            if let limit = settings.count, count >= limit { done = true }
        }
        if let since {
            guard try stream.catchUp(since: since, stopper: stopper, deliver: deliver) else { return }
        } else if settings.fromStart {
            guard try stream.catchUp(stopper: stopper, deliver: deliver) else { return }
        } else {
            guard try stream.startAtHead(stopper: stopper) else { return }
        }
        let statsEnabled = settings.statsInterval > .zero
        while !done {
            let untilStats = statsEnabled ? settings.statsInterval - lastStats.duration(to: .now) : nil
            guard try stream.step(stopper: stopper, timeout: untilStats, deliver: deliver) else { break }
            if statsEnabled, lastStats.duration(to: .now) >= settings.statsInterval {
                let now = ContinuousClock.now
                let total = shownCount
                let rate = Double(total - shownAtLastStats) / lastStats.duration(to: now).inSeconds
                let counters = stream.counters
                let position = stream.position.sequence
                statsOutput(String(format: "-- events %d (%.1f/s), replayed %llu, gaps repaired %llu, position %llu, lag %llu\n",
                                   total, rate, counters.replayed, counters.gapsRepaired, position,
                                   counters.head > position ? counters.head - position : 0))
                lastStats = now
                shownAtLastStats = total
            }
        }
    }

    /// `1956-07-16/1956-07-18  visit        KP -> MN  Premier Kim Il Sung -> Chairman Yumjaagiin Tsedenbal @ Ulaanbaatar`
    public static func line(for event: TimelineEvent, colour: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        let date = event.date.description.padding(toLength: max(21, event.date.description.count), withPad: " ", startingAt: 0)
        let kind = event.kind.rawValue.padding(toLength: max(21, event.kind.rawValue.count), withPad: " ", startingAt: 0)
        var line = paint(date, "2") + " " + paint(kind, event.kind == .visit ? "32" : "36") + " "
        line += paint("\(event.from.rawValue) -> \(event.to.rawValue)", "1")
        switch (event.guest, event.host) {
        case let (guest?, host?): line += "  \(guest) -> \(host)"
        case let (guest?, nil): line += "  \(guest)"
        case let (nil, host?): line += "  -> \(host)"
        case (nil, nil): if let description = event.description { line += "  \(description)" }
        }
        if let place = event.place { line += " @ " + paint(place, "33") }
        return line
    }
}
