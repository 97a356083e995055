import Foundation

/// A question about the statistics, asked of a running aggregator (`QUERY`) or answered from its
/// data folder: a report restricted by a filter, the table of pairs, or the relations of a pair on
/// a date. Both places answer with `answer(...)`, so they say the same thing.
///
/// On the wire it is one JSON object: `{"view": "report" | "pairs" | "at", "format": "...",
/// "filter": "pair=MN-KP;from=1980" (see `StatisticsFilter.encoded`), "date": "1999-06-01"}`;
/// `filter` and `date` may be left out.
public struct ReportQuery: Hashable, Sendable {
    public enum View: String, Sendable, CaseIterable {
        case report, pairs, at
    }

    public var view: View
    /// A `ReportFormat` for reports and pairs, a `RelationsOnDate.Format` for `at`.
    public var format: String
    public var filter: StatisticsFilter
    /// For `at`: an EDTF date (a day, a month or a year).
    public var date: String?

    public init(view: View, format: String, filter: StatisticsFilter = StatisticsFilter(), date: String? = nil) {
        self.view = view
        self.format = format
        self.filter = filter
        self.date = date
    }

    /// The answer as a document; the error says what in the question is wrong.
    public func answer(statistics: Statistics, title: String, generatedAt: String?, position: [String: Int],
                       countryNames: [CountryCode: String]) throws(FilterError) -> String {
        if statistics.lacksDetail, view != .report || !filter.isEmpty {
            throw FilterError("the aggregator's state was written by a version that kept no visit dates, per-pair counts of every kind or facts, so this answer would be incomplete; rebuild the state from the broker's log (README: Reports, By pair and period)")
        }
        switch view {
        case .report, .pairs:
            guard let format = ReportFormat(rawValue: format) else {
                throw FilterError("unknown report format '\(format)' (formats: \(ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if view == .pairs {
                return PairsReport(title: title, statistics: statistics, generatedAt: generatedAt, position: position,
                                   countryNames: countryNames, filter: filter).render(format)
            }
            return Report(title: title, statistics: statistics, generatedAt: generatedAt, position: position,
                          countryNames: countryNames, filter: filter).render(format)
        case .at:
            guard let format = RelationsOnDate.Format(rawValue: format) else {
                throw FilterError("unknown format '\(format)' for relations on a date (text or json)")
            }
            guard let pair = filter.pair else { throw FilterError("relations on a date need a pair, such as MN-KP") }
            let day = try ReportQuery.day(date ?? "")
            return RelationsOnDate(date: day, pair: pair, statistics: statistics).render(format, countryNames: countryNames)
        }
    }

    /// A single EDTF date: `1999-06-01`, `1999-06` or `1999`.
    public static func day(_ text: String) throws(FilterError) -> PartialDate {
        guard let date = EDTFDate(edtf: text), case .single(let day) = date else {
            throw FilterError("'\(text)' is not a date such as 1999-06-01, 1999-06 or 1999")
        }
        return day
    }

    public var encoded: [UInt8] {
        var object: [String: String] = ["view": view.rawValue, "format": format]
        if !filter.isEmpty { object["filter"] = filter.encoded }
        if let date { object["date"] = date }
        // Strings only: encoding cannot fail.
        return Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    public init(decoding bytes: [UInt8]) throws(FilterError) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw FilterError("the query is not a JSON object")
        }
        for key in object.keys where !["view", "format", "filter", "date"].contains(key) {
            throw FilterError("unknown query field '\(key)'")
        }
        guard let viewName = object["view"] as? String, let view = View(rawValue: viewName) else {
            throw FilterError("the query's view must be one of report, pairs, at")
        }
        guard let format = object["format"] as? String else { throw FilterError("the query has no format") }
        let filterText = object["filter"] as? String ?? ""
        if object["filter"] != nil, object["filter"] as? String == nil { throw FilterError("the query's filter must be a string") }
        if object["date"] != nil, object["date"] as? String == nil { throw FilterError("the query's date must be a string") }
        self.init(view: view, format: format, filter: try StatisticsFilter(encoded: filterText), date: object["date"] as? String)
    }
}
