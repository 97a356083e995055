/// The ways a report can be written out.
public enum ReportFormat: String, CaseIterable, Sendable {
    /// Aligned plain-text tables for a terminal.
    case text
    /// Headings and GitHub pipe tables.
    case markdown
    /// RFC 4180 rows under the fixed header `section,key,from,to,count`.
    case csv
    /// One pretty-printed JSON object with sorted keys (see `Report.render(_:)` for the contract).
    case json
    /// One self-contained HTML page with an inline SVG chart of visits per decade.
    case html

    /// The usual file name extension for the format, without the dot.
    public var fileExtension: String {
        switch self {
        case .text: return "txt"
        case .markdown: return "md"
        case .csv: return "csv"
        case .json: return "json"
        case .html: return "html"
        }
    }
}

/// Everything a report shows: statistics plus the context needed to present them.
///
/// The domain has no clock and no gazetteer, so the caller supplies the timestamp and any country
/// names. Rendering is a pure function of these values: the same report always gives the same text.
public struct Report: Sendable, Equatable {
    /// A heading such as "Mongolia–North Korea relations".
    public var title: String
    public var statistics: Statistics
    /// An ISO 8601 timestamp chosen by the caller; left out of the output when nil.
    public var generatedAt: String?
    /// Where in the event stream the statistics stand, e.g. `["sequence": 1234]`; may be empty.
    public var position: [String: Int]
    /// Display names for country codes. A code without a name is shown as the code.
    public var countryNames: [CountryCode: String]
    /// What the statistics were restricted to (empty: everything). `init` applies it.
    public private(set) var filter: StatisticsFilter

    /// A report of `statistics` restricted by `filter`.
    public init(title: String, statistics: Statistics, generatedAt: String? = nil,
                position: [String: Int] = [:], countryNames: [CountryCode: String] = [:], filter: StatisticsFilter = StatisticsFilter()) {
        self.title = title
        self.statistics = filter.isEmpty ? statistics : statistics.filtered(filter)
        self.generatedAt = generatedAt
        self.position = position
        self.countryNames = countryNames
        self.filter = filter
    }

    /// The report as a document in the given format, ending with a newline.
    ///
    /// Every format carries the totals, visits per direction, per decade and per year by direction,
    /// and events per kind. The JSON form is a contract for other programs: an object whose keys are
    /// sorted at every level, pretty-printed with two-space indentation:
    ///
    /// ```
    /// {
    ///   "eventsByKind": { "<kind>": count, ... },
    ///   "filter": { "country": "MN", "from": 1980, "kinds": ["visit"], "pair": ["KP", "MN"], "to": 1999 },
    ///                                         // only when restricted, with the parts set
    ///   "generatedAt": "...",                 // only when set
    ///   "position": { "<name>": value, ... },
    ///   "title": "...",
    ///   "totalEvents": n,
    ///   "totalVisits": n,
    ///   "visitsByDecade": [ { "count": n, "decade": 1950, "from": "MN", "to": "KP" }, ... ],
    ///   "visitsByDirection": [ { "count": n, "from": "MN", "to": "KP" }, ... ],
    ///   "visitsByYear": [ { "count": n, "from": "MN", "to": "KP", "year": 1956 }, ... ]
    /// }
    /// ```
    /// Arrays are sorted by decade or year, then `from`, then `to`. Countries are always codes.
    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .csv: return renderCSV()
        case .json: return renderJSON()
        default: return render(format, tables: tables)
        }
    }

    /// The human-readable formats of `tables`, under this report's title and context.
    func render(_ format: ReportFormat, tables: [ReportTable]) -> String {
        switch format {
        case .markdown: return renderMarkdown(tables)
        case .html: return renderHTML(tables)
        default: return renderText(tables)
        }
    }
}

// MARK: - What the human-readable formats share

/// One table of a report, before it is laid out for a particular format.
struct ReportTable {
    enum Alignment { case left, right }

    struct Column {
        var title: String
        var alignment: Alignment
    }

    /// Which part of the statistics the table shows, for formats that add something to one of them.
    enum Topic { case totals, directions, decades, years, kinds, pairs }

    var topic: Topic
    var heading: String
    var columns: [Column]
    var rows: [[String]]
    /// Said instead of the table when it has no rows.
    var emptyNote: String
}

extension Report {
    /// The directions that have visits, in code order; one column each in the per-decade and per-year tables.
    var directions: [Direction] { statistics.visitsByDirection.keys.sorted() }

    func name(_ code: CountryCode) -> String { countryNames[code] ?? code.rawValue }

    /// "MN -> KP", or "Mongolia -> North Korea" when names are known.
    func label(_ direction: Direction) -> String { "\(name(direction.from)) -> \(name(direction.to))" }

    /// "1950s" for 1950.
    static func decadeLabel(_ decade: Int) -> String { "\(decade)s" }

    /// "Restricted to MN–KP, 1980–1999", nil without a filter.
    var filterSummary: String? { filter.isEmpty ? nil : "Restricted to \(filter)" }

    /// The position as `name value` pairs in key order, e.g. "sequence 1234, offset 7"; nil when empty.
    var positionSummary: String? {
        guard !position.isEmpty else { return nil }
        return position.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    static let noVisits = "No visits recorded."

    /// The tables every human-readable format shows, in order.
    var tables: [ReportTable] {
        let directions = self.directions
        let number = ReportTable.Alignment.right

        let totals = ReportTable(
            topic: .totals, heading: "Totals",
            columns: [.init(title: "Measure", alignment: .left), .init(title: "Count", alignment: number)],
            rows: [["Events", "\(statistics.totalEvents)"], ["Visits", "\(statistics.totalVisits)"]],
            emptyNote: "")

        let byDirection = ReportTable(
            topic: .directions, heading: "Visits by direction",
            columns: [.init(title: "Direction", alignment: .left), .init(title: "Visits", alignment: number)],
            rows: directions.map { [label($0), "\(statistics.visitsByDirection[$0] ?? 0)"] },
            emptyNote: Report.noVisits)

        // One row per bucket, one column per direction, then the bucket's total.
        func perBucket(_ topic: ReportTable.Topic, _ heading: String, _ key: String, _ counts: [Int: [Direction: Int]], _ bucketLabel: (Int) -> String) -> ReportTable {
            let columns = [ReportTable.Column(title: key, alignment: .left)]
                + directions.map { ReportTable.Column(title: label($0), alignment: number) }
                + [ReportTable.Column(title: "Total", alignment: number)]
            let rows = counts.keys.sorted().map { bucket -> [String] in
                let row = counts[bucket] ?? [:]
                let cells = directions.map { "\(row[$0] ?? 0)" }
                return [bucketLabel(bucket)] + cells + ["\(row.values.reduce(0, +))"]
            }
            return ReportTable(topic: topic, heading: heading, columns: columns, rows: rows, emptyNote: Report.noVisits)
        }

        let byKind = ReportTable(
            topic: .kinds, heading: "Events by kind",
            columns: [.init(title: "Kind", alignment: .left), .init(title: "Events", alignment: number)],
            rows: statistics.eventsByKind.sorted { $0.key < $1.key }.map { [$0.key.rawValue, "\($0.value)"] },
            emptyNote: "No events recorded.")

        return [
            totals,
            byDirection,
            perBucket(.decades, "Visits by decade", "Decade", statistics.visitsByDecadeAndDirection, Report.decadeLabel),
            perBucket(.years, "Visits by year", "Year", statistics.visitsByYearAndDirection, String.init),
            byKind,
        ]
    }
}
