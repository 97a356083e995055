import Foundation
import Timeline

/// One event of the dashboard's live feed.
public struct DashboardFeedItem: Sendable, Equatable {
    /// The broker's sequence of the record.
    public var sequence: UInt64
    public var topic: String
    public var kind: EventKind
    public var year: Int
    public var from: CountryCode
    public var to: CountryCode
    /// The event's JSON object as the broker logged it (the JSON Lines contract).
    public var body: String

    public init(sequence: UInt64, topic: String, summary: EventSummary, body: String) {
        self.sequence = sequence
        self.topic = topic
        kind = summary.kind
        year = summary.year
        from = summary.from
        to = summary.to
        self.body = body
    }
}

/// What changed since the last `takeUpdate`: the newest events (at most the feed's capacity).
public struct DashboardUpdate: Sendable, Equatable {
    /// `event` messages, oldest first.
    public var events: [String]
    /// Events added that are not among `events`: more came than the feed holds.
    public var skipped: Int
}

/// What the dashboard shows, folded one event at a time: the statistics (the domain's own
/// `Statistics`, so decades and directions are counted as the aggregator counts them) and a ring of
/// the most recent events. Pure; the dashboard keeps it behind a lock, the consumer's thread adds
/// to it and the HTTP side reads it.
///
/// It counts what the broker's log holds, record by record: an event logged twice (the same facts
/// from two producers) counts twice here, where the aggregator counts it once by its id. Keeping
/// every id would make the dashboard's memory grow with the history.
public struct DashboardModel: Sendable {
    public let feedCapacity: Int
    public let countryNames: [CountryCode: String]
    /// Counts only: the dashboard draws no dates.
    public private(set) var statistics = Statistics(keepsDates: false)
    /// The sequence of the last event added.
    public private(set) var lastSequence: UInt64 = 0
    /// The broker's last sequence as the consumer last heard it.
    public private(set) var head: UInt64 = 0
    /// The newest `feedCapacity` events; `feedStart` is the oldest's index once the ring is full.
    private var feed: [DashboardFeedItem] = []
    private var feedStart = 0
    /// Events added since the last `takeUnsent`; the newest of them are at the top of the feed.
    private var unsent = 0
    /// Grows with every change (an event, a newer head): two copies of the same version are alike.
    public private(set) var version: UInt64 = 0

    public init(feedCapacity: Int = 200, countryNames: [CountryCode: String] = [:]) {
        precondition(feedCapacity > 0, "the feed holds at least one event")
        self.feedCapacity = feedCapacity
        self.countryNames = countryNames
        feed.reserveCapacity(feedCapacity)
    }

    /// Counts an event and puts it at the top of the feed.
    public mutating func add(_ item: DashboardFeedItem, summary: EventSummary) {
        statistics.add(summary)
        lastSequence = item.sequence
        head = max(head, item.sequence)
        if feed.count < feedCapacity {
            feed.append(item)
        } else {
            feed[feedStart] = item
            feedStart = (feedStart + 1) % feedCapacity
        }
        unsent += 1
        version += 1
    }

    public mutating func noteHead(_ sequence: UInt64) {
        guard sequence > head else { return }
        head = sequence
        version += 1
    }

    /// The feed, newest first.
    public var recent: [DashboardFeedItem] {
        (0..<feed.count).map { feed[(feedStart + feed.count - 1 - $0) % feed.count] }
    }

    /// How many events were added since the last call, which starts the count again. The hub takes
    /// it with a copy of the model under the lock and makes the messages from the copy outside it.
    public mutating func takeUnsent() -> Int {
        defer { unsent = 0 }
        return unsent
    }

    /// The `event` messages of the newest `unsent` events; nil when there are none. Whatever came,
    /// no more events than the feed: a page shows no more.
    public func update(unsent: Int) -> DashboardUpdate? {
        guard unsent > 0 else { return nil }
        let sent = min(unsent, feed.count)
        return DashboardUpdate(events: recent.prefix(sent).reversed().map(eventJSON), skipped: unsent - sent)
    }

    /// What to push since the last call; nil when nothing was added.
    public mutating func takeUpdate() -> DashboardUpdate? {
        update(unsent: takeUnsent())
    }

    // MARK: JSON

    /// The `state` message: everything a page needs to draw itself. `health` is a JSON object
    /// kept elsewhere (the pipeline's health and the HTTP side's own figures).
    public func stateJSON(health: String) -> String {
        stateBody() + ",\"health\":\(health)}"
    }

    /// The state without its health and closing brace: what depends on the model alone, so
    /// clients given the same version can share it.
    public func stateBody() -> String {
        "{\"sequence\":\(lastSequence),\"feedCapacity\":\(feedCapacity),\"stats\":\(statsJSON()),"
            + "\"feed\":[\(recent.map(eventJSON).joined(separator: ","))]"
    }

    /// An `event` message: the broker's sequence, the topic, the decade and direction the event
    /// counts in, the countries' names, and the event itself.
    public func eventJSON(_ item: DashboardFeedItem) -> String {
        "{\"sequence\":\(item.sequence),\"topic\":\(Self.quoted(item.topic)),\"kind\":\(Self.quoted(item.kind.rawValue)),"
            + "\"decade\":\(Aggregation.decade(of: item.year)),\"from\":\(Self.quoted(item.from.rawValue)),\"to\":\(Self.quoted(item.to.rawValue)),"
            + "\"fromName\":\(Self.quoted(name(item.from))),\"toName\":\(Self.quoted(name(item.to))),\"event\":\(item.body)}"
    }

    /// How many directions the chart draws in colours of their own; the rest are one series.
    public static let chartedDirections = 6

    /// The `stats` message, what the page draws: totals, visits per direction, and the chart's
    /// series (the directions with the most visits, ties in the order of their codes, then "*" for
    /// the others together when there are more) with their counts per decade.
    public func statsJSON() -> String {
        let byDirection = statistics.visitsByDirection
        let directions = byDirection.sorted { $0.key < $1.key }.map { direction, count in
            "{\"from\":\(Self.quoted(direction.from.rawValue)),\"to\":\(Self.quoted(direction.to.rawValue)),"
                + "\"fromName\":\(Self.quoted(name(direction.from))),\"toName\":\(Self.quoted(name(direction.to))),\"count\":\(count)}"
        }
        let charted = byDirection.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(Self.chartedDirections).map(\.key)
        let hasOther = byDirection.count > charted.count
        var series = charted.map { "{\"from\":\(Self.quoted($0.from.rawValue)),\"to\":\(Self.quoted($0.to.rawValue))}" }
        if hasOther { series.append("{\"from\":\"*\",\"to\":\"*\"}") }
        let decades = statistics.visitsByDecadeAndDirection.sorted { $0.key < $1.key }.map { decade, counts in
            var row = charted.map { counts[$0] ?? 0 }
            if hasOther { row.append(counts.values.reduce(0, +) - row.reduce(0, +)) }
            return "{\"decade\":\(decade),\"counts\":[\(row.map(String.init).joined(separator: ","))]}"
        }
        let kinds = statistics.eventsByKind.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\(Self.quoted($0.key.rawValue)):\($0.value)" }
        return "{\"totalEvents\":\(statistics.totalEvents),\"totalVisits\":\(statistics.totalVisits),\"sequence\":\(lastSequence),"
            + "\"head\":\(head),\"lag\":\(head > lastSequence ? head - lastSequence : 0),"
            + "\"visitsByDirection\":[\(directions.joined(separator: ","))],"
            + "\"chart\":{\"series\":[\(series.joined(separator: ","))],\"decades\":[\(decades.joined(separator: ","))]},"
            + "\"eventsByKind\":{\(kinds.joined(separator: ","))}}"
    }

    private func name(_ country: CountryCode) -> String {
        countryNames[country] ?? country.rawValue
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
