/// What stood between two countries on a date (`timeline at`): relations, embassies, treaties in
/// force, ambassadors in post, and the last visit each way before it. Computed from the statistics'
/// facts and visit dates, with each date's precision respected: a fact dated only to a year that
/// contains the date asked about can be neither before nor after it, and the answer says so
/// (`Standing.undecided`) instead of guessing.
public struct RelationsOnDate: Hashable, Sendable {
    /// How sure an answer is.
    public enum Standing: String, Hashable, Sendable {
        /// In force (established, closed, in post) on every day of the date asked about.
        case yes
        /// Not in force on any day of it.
        case no
        /// The dates are too coarse to decide.
        case undecided
    }

    public struct Relations: Hashable, Sendable {
        public var standing: Standing
        /// The establishment that decides (the earliest certain one, else the undecidable one).
        public var established: StandingFact?
    }

    public struct Embassy: Hashable, Sendable {
        /// The country whose embassy it is, and where.
        public var of: CountryCode
        public var inCountry: CountryCode
        /// `yes`: closed on the date; `no`: no closure recorded by then; `undecided`: closed during
        /// a period containing the date.
        public var closed: Standing
        public var closure: StandingFact?
    }

    public struct Treaty: Hashable, Sendable {
        public var signed: StandingFact
        /// The end that applies: the signature's own interval end, or a matching `agreement_ended`.
        public var ended: StandingFact?
        public var endDate: EDTFDate?
        public var inForce: Standing
    }

    public struct Ambassador: Hashable, Sendable {
        public var term: StandingFact
        public var inPost: Standing
    }

    public struct LastVisit: Hashable, Sendable {
        public var from: CountryCode
        public var to: CountryCode
        /// The latest visit certainly before the date.
        public var date: PartialDate?
        /// Visits whose dates contain the date asked about: before or after it, no one can say.
        public var undecided: [PartialDate]
    }

    public var date: PartialDate
    public var first: CountryCode
    public var second: CountryCode
    public var relations: Relations
    public var embassies: [Embassy]
    /// Treaties signed by the date (certainly or maybe), with whether each is in force.
    public var treaties: [Treaty]
    /// Terms in post on the date, certainly or maybe.
    public var ambassadors: [Ambassador]
    public var lastVisits: [LastVisit]
    /// Facts between the two, before or on the date, of kinds not answered above (diplomats expelled).
    public var otherFacts: [StandingFact]

    public init(date: PartialDate, pair: (CountryCode, CountryCode), statistics: Statistics) {
        let (a, b) = (min(pair.0, pair.1), max(pair.0, pair.1))
        self.date = date
        first = a
        second = b
        let query = DayRange(date)
        let facts = statistics.facts.filter { ($0.from == a && $0.to == b) || ($0.from == b && $0.to == a) }

        // Relations: the first establishment certainly by the date, else one that may be.
        let establishments = facts.filter { $0.kind == .relationsEstablished }
        if let certain = establishments.first(where: { Self.started($0.date, by: query) == .yes }) {
            relations = Relations(standing: .yes, established: certain)
        } else if let maybe = establishments.first(where: { Self.started($0.date, by: query) == .undecided }) {
            relations = Relations(standing: .undecided, established: maybe)
        } else {
            relations = Relations(standing: .no, established: nil)
        }

        // Embassies: a closure by the country whose embassy it is (`from` closes its embassy in `to`).
        embassies = [(a, b), (b, a)].map { of, host in
            let closures = facts.filter { $0.kind == .embassyClosed && $0.from == of && $0.to == host }
            if let certain = closures.last(where: { Self.started($0.date, by: query) == .yes }) {
                return Embassy(of: of, inCountry: host, closed: .yes, closure: certain)
            }
            if let maybe = closures.first(where: { Self.started($0.date, by: query) == .undecided }) {
                return Embassy(of: of, inCountry: host, closed: .undecided, closure: maybe)
            }
            return Embassy(of: of, inCountry: host, closed: .no, closure: nil)
        }

        // Treaties: each signature with its end, if one is known.
        let endings = facts.filter { $0.kind == .agreementEnded }
        treaties = facts.filter { $0.kind == .agreementSigned }.compactMap { signed in
            var ended: StandingFact?
            var endDate: EDTFDate?
            if case .interval(_, let end?) = signed.date {
                endDate = .single(end)
            } else if let ending = Self.ending(of: signed, among: endings) {
                ended = ending
                endDate = ending.date
            }
            let inForce = Self.inForce(signed.date.start.map { EDTFDate.single($0) } ?? signed.date, until: endDate, on: query)
            let started = Self.started(signed.date, by: query)
            guard started != .no else { return nil }
            return Treaty(signed: signed, ended: ended, endDate: endDate, inForce: inForce)
        }

        // Ambassadors: a term from its start to its end; an open end runs on.
        ambassadors = facts.filter { $0.kind == .ambassadorTerm }.compactMap { term in
            let start: EDTFDate, end: EDTFDate?
            switch term.date {
            case .single(let day): (start, end) = (.single(day), .single(day))
            case .interval(let from, let to):
                guard let from else { return nil }
                (start, end) = (.single(from), to.map { .single($0) })
            }
            let inPost = Self.inForce(start, until: end, on: query)
            return inPost == .no ? nil : Ambassador(term: term, inPost: inPost)
        }

        lastVisits = [(a, b), (b, a)].map { from, to in
            let dates = statistics.visitDates(from: from, to: to)
            let before = dates.filter { DayRange($0).isBefore(query) }.max { DayRange($0).last < DayRange($1).last }
            let undecided = dates.filter { !DayRange($0).isBefore(query) && !DayRange($0).isAfter(query) }
            return LastVisit(from: from, to: to, date: before, undecided: undecided)
        }

        otherFacts = facts.filter { $0.kind == .diplomatsExpelled && Self.started($0.date, by: query) != .no }
    }

    /// Whether something dated `date` had happened by the date asked about: `yes` when it
    /// happened on or before its first day, `no` when after its last, else `undecided`.
    static func started(_ date: EDTFDate, by query: DayRange) -> Standing {
        // An interval's start is when it began; a date with only an end (`../1999`) happened by then.
        guard let day = date.start ?? date.end else { return .undecided }
        let span = DayRange(day)
        if date.start == nil {
            return span.last <= query.first ? .yes : .undecided
        }
        if span.last <= query.first { return .yes }
        if span.first > query.last { return .no }
        return .undecided
    }

    /// Whether a state begun at `start` and ended at `end` (nil: not ended) held on every day of
    /// the date asked about. The end day itself still counts (a term ending on the day asked about
    /// was in post that day).
    static func inForce(_ start: EDTFDate, until end: EDTFDate?, on query: DayRange) -> Standing {
        let begun = started(start, by: query)
        guard begun != .no else { return .no }
        var over = Standing.no
        if let end, let endDay = end.start ?? end.end {
            let span = DayRange(endDay)
            if span.last < query.first { over = .yes } else if span.first < query.last { over = .undecided }
        }
        if over == .yes { return .no }
        if begun == .yes, over == .no { return .yes }
        return .undecided
    }

    /// The `agreement_ended` that ends `signed`: one after it whose description names the year it
    /// was signed, else one sharing at least two significant words with its description.
    static func ending(of signed: StandingFact, among endings: [StandingFact]) -> StandingFact? {
        let after = endings.filter { $0.date.year >= signed.date.year }
        let year = String(signed.date.year)
        if let named = after.first(where: { ($0.description ?? "").split(whereSeparator: { !$0.isNumber }).contains { $0 == year } }) {
            return named
        }
        let words = significantWords(signed.description)
        return after.first { significantWords($0.description).intersection(words).count >= 2 }
    }

    private static func significantWords(_ text: String?) -> Set<String> {
        let stop: Set<String> = ["the", "and", "of", "a", "an", "on", "in", "with", "between", "for", "to", "is", "was",
                                 "treaty", "agreement", "signed", "ended", "first", "new", "by"]
        return Set((text ?? "").lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)
            .filter { $0.count > 2 && !stop.contains($0) })
    }
}
