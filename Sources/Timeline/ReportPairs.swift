// `report --pairs`: one row per pair of countries, in every report format.

/// A table of pairs: visits each way, reciprocity, first and last visit, longest gap, events.
public struct PairsReport: Sendable, Equatable {
    public var title: String
    public var pairs: [PairSummary]
    public var generatedAt: String?
    public var position: [String: Int]
    public var countryNames: [CountryCode: String]
    public var filter: StatisticsFilter

    /// The pairs of `statistics` restricted by `filter`.
    public init(title: String, statistics: Statistics, generatedAt: String? = nil, position: [String: Int] = [:],
                countryNames: [CountryCode: String] = [:], filter: StatisticsFilter = StatisticsFilter()) {
        self.title = title
        pairs = (filter.isEmpty ? statistics : statistics.filtered(filter)).pairs
        self.generatedAt = generatedAt
        self.position = position
        self.countryNames = countryNames
        self.filter = filter
    }

    /// The document in `format`, ending with a newline. The JSON form is a contract:
    ///
    /// ```
    /// {
    ///   "filter": { ... },                    // only when restricted (as in `Report`)
    ///   "generatedAt": "...",                 // only when set
    ///   "pairs": [ {
    ///     "events": n,                        // every kind, both ways
    ///     "first": "KP", "second": "MN",      // code order
    ///     "firstVisit": "1956" | null, "lastVisit": "2018-10-09" | null,   // EDTF
    ///     "longestGap": { "after": "1988", "before": "2002-03", "days": 4808 } | null,
    ///     "reciprocity": 0.75 | null,         // smaller direction over larger, two decimals
    ///     "visitsFirstToSecond": n, "visitsSecondToFirst": n
    ///   }, ... ],
    ///   "position": { ... },
    ///   "title": "..."
    /// }
    /// ```
    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .json: return jsonValue.document
        case .csv: return renderCSV()
        default:
            // The other formats lay the same table out as `Report` does its own.
            let shell = Report(title: title, statistics: Statistics(), generatedAt: generatedAt, position: position,
                               countryNames: countryNames, filter: filter)
            return shell.render(format, tables: [table])
        }
    }

    func name(_ code: CountryCode) -> String { countryNames[code] ?? code.rawValue }

    static func reciprocityText(_ value: Double?) -> String { value.map { ReportJSONValue.fixed($0, digits: 2) } ?? "" }

    var table: ReportTable {
        let number = ReportTable.Alignment.right
        let columns: [ReportTable.Column] = [
            .init(title: "Pair", alignment: .left), .init(title: "First -> second", alignment: number),
            .init(title: "Second -> first", alignment: number), .init(title: "Reciprocity", alignment: number),
            .init(title: "First visit", alignment: .left), .init(title: "Last visit", alignment: .left),
            .init(title: "Longest gap (days)", alignment: number), .init(title: "Gap between", alignment: .left),
            .init(title: "Events", alignment: number),
        ]
        let rows = pairs.map { pair -> [String] in
            ["\(name(pair.first)) – \(name(pair.second))", "\(pair.visitsFirstToSecond)", "\(pair.visitsSecondToFirst)",
             PairsReport.reciprocityText(pair.reciprocity), pair.firstVisit?.description ?? "", pair.lastVisit?.description ?? "",
             pair.longestGap.map { "\($0.days)" } ?? "", pair.longestGap.map { "\($0.after) and \($0.before)" } ?? "",
             "\(pair.events)"]
        }
        return ReportTable(topic: .pairs, heading: "Pairs", columns: columns, rows: rows, emptyNote: "No pairs recorded.")
    }

    static let csvHeader = ["first", "second", "visits_first_to_second", "visits_second_to_first", "reciprocity",
                            "first_visit", "last_visit", "longest_gap_days", "gap_after", "gap_before", "events"]

    /// RFC 4180, header first, one record per pair; countries are codes, dates EDTF.
    func renderCSV() -> String {
        var records = [PairsReport.csvHeader]
        for pair in pairs {
            records.append([pair.first.rawValue, pair.second.rawValue, "\(pair.visitsFirstToSecond)", "\(pair.visitsSecondToFirst)",
                            PairsReport.reciprocityText(pair.reciprocity), pair.firstVisit?.description ?? "",
                            pair.lastVisit?.description ?? "", pair.longestGap.map { "\($0.days)" } ?? "",
                            pair.longestGap?.after.description ?? "", pair.longestGap?.before.description ?? "", "\(pair.events)"])
        }
        return records.map { $0.map(Report.csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    var jsonValue: ReportJSONValue {
        let pairs = self.pairs
        var members: [String: ReportJSONValue] = [
            "title": .string(title),
            "position": .object(position.mapValues { .integer($0) }),
            "pairs": .rows(count: pairs.count) { index in
                let pair = pairs[index]
                return .object([
                    "first": .string(pair.first.rawValue), "second": .string(pair.second.rawValue),
                    "visitsFirstToSecond": .integer(pair.visitsFirstToSecond), "visitsSecondToFirst": .integer(pair.visitsSecondToFirst),
                    "reciprocity": pair.reciprocity.map { .decimal($0, digits: 2) } ?? .null,
                    "firstVisit": pair.firstVisit.map { .string($0.description) } ?? .null,
                    "lastVisit": pair.lastVisit.map { .string($0.description) } ?? .null,
                    "longestGap": pair.longestGap.map {
                        .object(["after": .string($0.after.description), "before": .string($0.before.description), "days": .integer($0.days)])
                    } ?? .null,
                    "events": .integer(pair.events),
                ])
            },
        ]
        if let generatedAt { members["generatedAt"] = .string(generatedAt) }
        if !filter.isEmpty { members["filter"] = filter.jsonValue }
        return .object(members)
    }
}
