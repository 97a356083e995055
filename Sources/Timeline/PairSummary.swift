/// One pair of countries at a glance (`report --pairs`): visits each way, how balanced they are,
/// the first and last visit and the longest stretch without one.
public struct PairSummary: Hashable, Sendable {
    /// The pair in code order.
    public var first: CountryCode
    public var second: CountryCode
    public var visitsFirstToSecond: Int
    public var visitsSecondToFirst: Int
    /// Events of every kind between the two, either way.
    public var events: Int
    public var firstVisit: PartialDate?
    public var lastVisit: PartialDate?
    public var longestGap: VisitGap?

    /// The smaller direction's visits over the larger's: 1 when balanced, 0 when one way only; nil
    /// without visits.
    public var reciprocity: Double? {
        let larger = max(visitsFirstToSecond, visitsSecondToFirst)
        return larger == 0 ? nil : Double(min(visitsFirstToSecond, visitsSecondToFirst)) / Double(larger)
    }

    public var visits: Int { visitsFirstToSecond + visitsSecondToFirst }
}

/// The longest stretch between two visits of a pair (either way) with no visit known: whole days
/// strictly between the end of the earlier visit's date and the start of the later one's. A visit
/// dated to the year covers its year, so coarse dates make gaps shorter, never longer.
public struct VisitGap: Hashable, Sendable {
    public var after: PartialDate
    public var before: PartialDate
    public var days: Int
}

extension Statistics {
    /// Every pair with an event, in code order.
    public var pairs: [PairSummary] {
        struct Pair: Hashable { var first: CountryCode, second: CountryCode }
        var summaries: [Pair: PairSummary] = [:]
        var dates: [Pair: [PartialDate]] = [:]
        forEachCount { year, kind, direction, count in
            let pair = Pair(first: min(direction.from, direction.to), second: max(direction.from, direction.to))
            summaries[pair, default: PairSummary(first: pair.first, second: pair.second, visitsFirstToSecond: 0,
                                                 visitsSecondToFirst: 0, events: 0)].events += count
        }
        forEachVisitYear { year, direction, count, days in
            let pair = Pair(first: min(direction.from, direction.to), second: max(direction.from, direction.to))
            if direction.from == pair.first {
                summaries[pair]?.visitsFirstToSecond += count
            } else {
                summaries[pair]?.visitsSecondToFirst += count
            }
            dates[pair, default: []] += days.dates(year: year)
        }
        for (pair, pairDates) in dates {
            let spans = pairDates.map { ($0, DayRange($0)) }.sorted { ($0.1.first, $0.1.last) < ($1.1.first, $1.1.last) }
            summaries[pair]?.firstVisit = spans.first?.0
            summaries[pair]?.lastVisit = spans.max { $0.1.last < $1.1.last }?.0
            summaries[pair]?.longestGap = Self.longestGap(spans)
        }
        return summaries.values.sorted { ($0.first, $0.second) < ($1.first, $1.second) }
    }

    /// `spans` sorted by their first day.
    static func longestGap(_ spans: [(PartialDate, DayRange)]) -> VisitGap? {
        guard var latest = spans.first else { return nil }
        var best: VisitGap?
        for span in spans.dropFirst() {
            let days = span.1.first - latest.1.last - 1
            if days > (best?.days ?? 0) { best = VisitGap(after: latest.0, before: span.0, days: days) }
            if span.1.last > latest.1.last { latest = span }
        }
        return best
    }

    /// The dates visits from `from` to `to` fell on, each once, earliest first.
    public func visitDates(from: CountryCode, to: CountryCode) -> [PartialDate] {
        var result: [PartialDate] = []
        forEachVisitYear { year, direction, _, days in
            if direction.from == from, direction.to == to { result += days.dates(year: year) }
        }
        return result.sorted { (DayRange($0).first, DayRange($0).last) < (DayRange($1).first, DayRange($1).last) }
    }
}
