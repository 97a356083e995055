/// An event that tells a state lasting beyond its date: relations established, a treaty signed or
/// ended, an embassy closed, diplomats expelled, an ambassador's term. The aggregator keeps these
/// whole (they are few: a pair's history has tens of them, where it may have thousands of visits),
/// so that it can say what stood between two countries on any date.
public struct StandingFact: Hashable, Sendable {
    public var kind: EventKind
    public var date: EDTFDate
    public var from: CountryCode
    public var to: CountryCode
    /// The person, for an ambassador's term (the event's guest).
    public var person: String?
    public var description: String?

    public init(kind: EventKind, date: EDTFDate, from: CountryCode, to: CountryCode, person: String? = nil, description: String? = nil) {
        self.kind = kind
        self.date = date
        self.from = from
        self.to = to
        self.person = person
        self.description = description
    }

    /// The fact an event tells, nil when its kind tells no state (`EventKind.tellsState`).
    public init?(_ event: TimelineEvent) {
        guard event.kind.tellsState else { return nil }
        self.init(kind: event.kind, date: event.date, from: event.from, to: event.to,
                  person: event.guest.map { StandingFact.cut($0) }, description: event.description.map { StandingFact.cut($0) })
    }

    /// Texts kept whole up to this many characters, cut with "…" beyond: a fact is a line of an
    /// answer, and an event dataset's descriptions (lists of sources) can run to kilobytes.
    public static let textLimit = 300

    static func cut(_ text: String) -> String {
        text.count <= textLimit ? text : String(text.prefix(textLimit - 1)) + "…"
    }

}

extension StandingFact: Comparable {
    /// By date, then kind, direction, person and description: a stable order for reports and files.
    public static func < (lhs: StandingFact, rhs: StandingFact) -> Bool {
        if lhs.date != rhs.date { return lhs.date < rhs.date }
        if lhs.kind != rhs.kind { return lhs.kind < rhs.kind }
        if lhs.from != rhs.from { return lhs.from < rhs.from }
        if lhs.to != rhs.to { return lhs.to < rhs.to }
        if lhs.person != rhs.person { return (lhs.person ?? "") < (rhs.person ?? "") }
        return (lhs.description ?? "") < (rhs.description ?? "")
    }
}

extension EventKind {
    /// Whether events of this kind tell a state lasting beyond their date, and are kept as facts.
    public var tellsState: Bool {
        switch self {
        case .relationsEstablished, .agreementSigned, .agreementEnded, .embassyClosed, .diplomatsExpelled, .ambassadorTerm: true
        case .visit, .aid, .invitation, .other: false
        }
    }
}
