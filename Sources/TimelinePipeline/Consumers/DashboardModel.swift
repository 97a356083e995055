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

/// What changed since the last `takeUpdate`: the newest events (at most the feed's capacity),
/// and the statistics.
public struct DashboardUpdate: Sendable, Equatable {
    /// `event` messages, oldest first.
    public var events: [String]
    /// Events added that are not among `events`: more came than the feed holds.
    public var skipped: Int
    /// The `stats` message.
    public var stats: String
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
    public private(set) var statistics = Statistics()
    /// The sequence of the last event added.
    public private(set) var lastSequence: UInt64 = 0
    /// The broker's last sequence as the consumer last heard it.
    public private(set) var head: UInt64 = 0
    /// The newest `feedCapacity` events; `feedStart` is the oldest's index once the ring is full.
    private var feed: [DashboardFeedItem] = []
    private var feedStart = 0
    /// Events added since the last `takeUpdate`; the newest of them are at the top of the feed.
    private var unsent = 0

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
    }

    public mutating func noteHead(_ sequence: UInt64) {
        head = max(head, sequence)
    }

    /// The feed, newest first.
    public var recent: [DashboardFeedItem] {
        (0..<feed.count).map { feed[(feedStart + feed.count - 1 - $0) % feed.count] }
    }

    /// What to push since the last call; nil when nothing was added. Whatever came, the update
    /// holds no more events than the feed: a page shows no more.
    public mutating func takeUpdate() -> DashboardUpdate? {
        guard unsent > 0 else { return nil }
        defer { unsent = 0 }
        let sent = min(unsent, feed.count)
        return DashboardUpdate(events: recent.prefix(sent).reversed().map(eventJSON), skipped: unsent - sent, stats: statsJSON())
    }

    // MARK: JSON

    /// The `state` message: everything a page needs to draw itself. `health` is a JSON object
    /// kept elsewhere (the pipeline's health and the HTTP side's own figures).
    public func stateJSON(health: String) -> String {
        "{\"sequence\":\(lastSequence),\"feedCapacity\":\(feedCapacity),\"stats\":\(statsJSON()),"
            + "\"feed\":[\(recent.map(eventJSON).joined(separator: ","))],\"health\":\(health)}"
    }

    /// An `event` message: the broker's sequence, the topic, the decade and direction the event
    /// counts in, the countries' names, and the event itself.
    public func eventJSON(_ item: DashboardFeedItem) -> String {
        "{\"sequence\":\(item.sequence),\"topic\":\(Self.quoted(item.topic)),\"kind\":\(Self.quoted(item.kind.rawValue)),"
            + "\"decade\":\(Aggregation.decade(of: item.year)),\"from\":\(Self.quoted(item.from.rawValue)),\"to\":\(Self.quoted(item.to.rawValue)),"
            + "\"fromName\":\(Self.quoted(name(item.from))),\"toName\":\(Self.quoted(name(item.to))),\"event\":\(item.body)}"
    }

    /// The `stats` message: totals, visits per direction and per decade and direction, events per kind.
    public func statsJSON() -> String {
        let directions = statistics.visitsByDirection.sorted { $0.key < $1.key }.map { direction, count in
            "{\"from\":\(Self.quoted(direction.from.rawValue)),\"to\":\(Self.quoted(direction.to.rawValue)),"
                + "\"fromName\":\(Self.quoted(name(direction.from))),\"toName\":\(Self.quoted(name(direction.to))),\"count\":\(count)}"
        }
        let decades = statistics.visitsByDecade.map {
            "{\"decade\":\($0.decade),\"from\":\(Self.quoted($0.from.rawValue)),\"to\":\(Self.quoted($0.to.rawValue)),\"count\":\($0.count)}"
        }
        let kinds = statistics.eventsByKind.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\(Self.quoted($0.key.rawValue)):\($0.value)" }
        return "{\"totalEvents\":\(statistics.totalEvents),\"totalVisits\":\(statistics.totalVisits),\"sequence\":\(lastSequence),"
            + "\"head\":\(head),\"lag\":\(head > lastSequence ? head - lastSequence : 0),"
            + "\"visitsByDirection\":[\(directions.joined(separator: ","))],\"visitsByDecade\":[\(decades.joined(separator: ","))],"
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
