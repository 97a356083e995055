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
        /// For a term with no end given: the start of the next term from the same country to the
        /// same country, which ends it.
        public var endedBy: StandingFact?
    }

    /// A fact of a kind not answered above, with whether it had happened by the date.
    public struct OtherFact: Hashable, Sendable {
        public var fact: StandingFact
        public var happened: Standing
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
    /// Facts between the two that had happened by the date (certainly or maybe), of kinds not
    /// answered above (diplomats expelled).
    public var otherFacts: [OtherFact]
    /// Facts not kept by the statistics (past a pair's limit, any pair): the answer may miss some.
    public var factsNotKept: Int

    public init(date: PartialDate, pair: (CountryCode, CountryCode), statistics: Statistics) {
        let (a, b) = (min(pair.0, pair.1), max(pair.0, pair.1))
        self.date = date
        first = a
        second = b
        let query = DayRange(date)
        let facts = statistics.facts(between: a, and: b)

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
        let signatures = facts.filter { $0.kind == .agreementSigned }
        let endings = Self.endings(of: signatures, among: facts.filter { $0.kind == .agreementEnded })
        treaties = signatures.compactMap { signed in
            var ended: StandingFact?
            var endDate: EDTFDate?
            if case .interval(_, let end?) = signed.date {
                endDate = .single(end)
            } else if let ending = endings[signed] {
                ended = ending
                endDate = ending.date
            }
            let started = Self.started(signed.date, by: query)
            guard started != .no else { return nil }
            let inForce = Self.inForce(signed.date.start.map { EDTFDate.single($0) } ?? signed.date, until: endDate, on: query)
            return Treaty(signed: signed, ended: ended, endDate: endDate, inForce: inForce)
        }

        // Ambassadors: a term from its start to its end. A term with no end given (`2017/..`, or
        // a single date read as its start) runs until the next term from the same country to the
        // same country starts; one with no start given (`../1999`) may have begun at any time.
        let terms = facts.filter { $0.kind == .ambassadorTerm }
        ambassadors = terms.compactMap { term in
            let start = term.date.start, end: PartialDate?
            var endedBy: StandingFact?
            switch term.date {
            case .single: end = nil
            case .interval(_, let to): end = to
            }
            var endDate = end.map { EDTFDate.single($0) }
            if end == nil, let start {
                let next = terms.filter { $0.from == term.from && $0.to == term.to && ($0.date.start ?? $0.date.end).map { DayRange($0).first > DayRange(start).last } == true }
                    .min { DayRange(($0.date.start ?? $0.date.end)!).first < DayRange(($1.date.start ?? $1.date.end)!).first }
                if let next {
                    endedBy = next
                    endDate = .single((next.date.start ?? next.date.end)!)
                }
            }
            let inPost: Standing
            if let start {
                inPost = Self.inForce(.single(start), until: endDate, on: query)
            } else {
                // Begun at an unknown time: no later than the end, so never certainly in post.
                inPost = endDate.map { Self.inForce(.interval(start: nil, end: $0.end), until: $0, on: query) } ?? .undecided
            }
            return inPost == .no ? nil : Ambassador(term: term, inPost: inPost, endedBy: endedBy)
        }

        // The last visit certainly before the date's first day; a visit whose date begins before
        // that day and runs into it may or may not be before it.
        lastVisits = [(a, b), (b, a)].map { from, to in
            let dates = statistics.visitDates(from: from, to: to)
            let before = dates.filter { DayRange($0).isBefore(query) }.max { DayRange($0).last < DayRange($1).last }
            let undecided = dates.filter { DayRange($0).first < query.first && DayRange($0).last >= query.first }
            return LastVisit(from: from, to: to, date: before, undecided: undecided)
        }

        otherFacts = facts.filter { $0.kind == .diplomatsExpelled }.compactMap { fact in
            let happened = Self.started(fact.date, by: query)
            return happened == .no ? nil : OtherFact(fact: fact, happened: happened)
        }
        factsNotKept = statistics.factsNotKept
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

    /// Which `agreement_ended` ends which signature. Each ending ends one agreement at most, signed
    /// before it: the one signed in the first year its description names, else the one sharing the
    /// most significant words (two at least) with it; the latest signed wins a tie. Endings are taken in
    /// date order, so an earlier ending does not take a later one's agreement.
    static func endings(of signatures: [StandingFact], among endings: [StandingFact]) -> [StandingFact: StandingFact] {
        var result: [StandingFact: StandingFact] = [:]
        for ending in endings.sorted() {
            let endStart = DayRange((ending.date.start ?? ending.date.end)!)
            let open = signatures.filter { signed in
                guard result[signed] == nil else { return false }
                if case .interval(_, _?) = signed.date { return false }
                return DayRange((signed.date.start ?? signed.date.end)!).first <= endStart.last
            }
            // The years the description names, in the order it names them: the first that was a
            // signing year is the agreement it speaks of ("the 1986 treaty, replaced in 2002").
            let years = (ending.description ?? "").split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            let words = significantWords(ending.description)
            func overlap(_ signed: StandingFact) -> Int { significantWords(signed.description).intersection(words).count }
            var chosen: StandingFact?
            for year in years {
                let named = open.filter { $0.date.year == year }
                if let best = named.max(by: { (overlap($0), $0.date) < (overlap($1), $1.date) }) {
                    chosen = best
                    break
                }
            }
            if chosen == nil {
                chosen = open.map { ($0, overlap($0)) }.filter { $0.1 >= 2 }.max { ($0.1, $0.0.date) < ($1.1, $1.0.date) }?.0
            }
            if let chosen { result[chosen] = ending }
        }
        return result
    }

    private static func significantWords(_ text: String?) -> Set<String> {
        let stop: Set<String> = ["the", "and", "of", "a", "an", "on", "in", "with", "between", "for", "to", "is", "was",
                                 "treaty", "agreement", "signed", "ended", "first", "new", "by"]
        return Set((text ?? "").lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init)
            .filter { $0.count > 2 && !stop.contains($0) })
    }
}
