// The HTML form: one page with everything inline, so it can be mailed or opened from disk as it is.

extension Report {
    func renderHTML(_ tables: [ReportTable]) -> String {
        let escape = Report.htmlEscape
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        \(Report.htmlStyle)
        </style>
        </head>
        <body>
        <main>
        <h1>\(escape(title))</h1>

        """
        var context: [String] = []
        if let generatedAt { context.append("Generated at \(escape(generatedAt))") }
        if let positionSummary { context.append("Position: \(escape(positionSummary))") }
        if let filterSummary { context.append(escape(filterSummary)) }
        if !context.isEmpty { out += "<p class=\"context\">\(context.joined(separator: " · "))</p>\n" }

        for table in tables {
            out += "<section>\n<h2>\(escape(table.heading))</h2>\n"
            if table.topic == .decades { out += decadeCharts }
            out += Report.htmlTable(table)
            out += "</section>\n"
        }
        out += "</main>\n</body>\n</html>\n"
        return out
    }

    /// The chart of visits per decade: one for the pair when there is one, else one per pair (the
    /// pairs with the most visits first, at most `maxPairCharts`), each under its pair's name, so
    /// that many pairs do not crowd one chart.
    var decadeCharts: String {
        var byPair: [[CountryCode]: [Int: [Direction: Int]]] = [:]
        for (decade, counts) in statistics.visitsByDecadeAndDirection {
            for (direction, count) in counts {
                byPair[[min(direction.from, direction.to), max(direction.from, direction.to)], default: [:]][decade, default: [:]][direction] = count
            }
        }
        guard byPair.count > 1 else { return DecadeChart(report: self)?.svg ?? "" }
        func visits(_ counts: [Int: [Direction: Int]]) -> Int { counts.values.reduce(0) { $0 + $1.values.reduce(0, +) } }
        let ranked = byPair.sorted { (visits($1.value), $0.key[0], $0.key[1]) < (visits($0.value), $1.key[0], $1.key[1]) }
        var out = ""
        for (pair, counts) in ranked.prefix(Report.maxPairCharts) {
            let directions = Set(counts.values.flatMap(\.keys)).sorted()
            guard let chart = DecadeChart(counts: counts, directions: directions, labels: Dictionary(uniqueKeysWithValues: directions.map { ($0, label($0)) })) else { continue }
            out += "<h3>\(Report.htmlEscape("\(name(pair[0])) – \(name(pair[1]))"))</h3>\n" + chart.svg
        }
        if ranked.count > Report.maxPairCharts {
            out += "<p class=\"empty\">Charts for the \(Report.maxPairCharts) pairs with the most visits; \(ranked.count - Report.maxPairCharts) more pairs are in the tables.</p>\n"
        }
        return out
    }

    /// At most this many charts on one page.
    static let maxPairCharts = 50

    static func htmlTable(_ table: ReportTable) -> String {
        let escape = Report.htmlEscape
        guard !table.rows.isEmpty else { return "<p class=\"empty\">\(escape(table.emptyNote))</p>\n" }
        func cell(_ tag: String, _ text: String, _ column: Int) -> String {
            let alignment = table.columns[column].alignment == .right ? " class=\"num\"" : ""
            return "<\(tag)\(alignment)>\(escape(text))</\(tag)>"
        }
        var out = "<table>\n<thead><tr>"
        out += table.columns.enumerated().map { cell("th", $0.element.title, $0.offset) }.joined()
        out += "</tr></thead>\n<tbody>\n"
        for row in table.rows {
            out += "<tr>" + row.enumerated().map { cell("td", $0.element, $0.offset) }.joined() + "</tr>\n"
        }
        out += "</tbody>\n</table>\n"
        return out
    }

    /// Text safe in HTML content and in quoted attributes, and in XML (the SVG part): the five
    /// significant characters become character references that both languages know.
    static func htmlEscape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static let htmlStyle = """
    body { margin: 0; background: #fff; color: #222; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
    main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
    h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
    h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
    h2 { font-size: 1.15rem; margin: 1.75rem 0 .5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
    .context, .empty { color: #555; }
    table { border-collapse: collapse; margin: .5rem 0; }
    th, td { padding: .2rem .75rem; border-bottom: 1px solid #eee; text-align: left; }
    th { border-bottom: 2px solid #ccc; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    svg.chart { display: block; max-width: 100%; height: auto; margin: .5rem 0 1rem; }
    svg.chart text { font: 12px system-ui, sans-serif; fill: #333; }
    @media print { main { max-width: none; } }
    """
}

/// A grouped bar chart of visits per decade: one group per decade from the first to the last, one
/// bar per direction with visits in that decade, a legend of directions and whole-number ticks on
/// the count axis. Colours and strokes are attributes rather than page CSS, so the SVG also reads
/// correctly when copied out of the page.
struct DecadeChart {
    /// Colours that stay apart for colour-blind readers (Okabe and Ito); reused past eight directions.
    static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]

    // Layout in SVG user units.
    static let barWidth = 16.0
    static let barGap = 2.0
    static let groupGap = 20.0
    static let left = 48.0
    static let right = 16.0
    static let top = 16.0
    static let plotHeight = 200.0
    static let legendRow = 18.0

    let decades: [Int]
    let directions: [Direction]
    let counts: [Int: [Direction: Int]]
    let labels: [Direction: String]
    /// The top of the count axis and the distance between ticks, both whole numbers.
    let axisMaximum: Int
    let tickStep: Int

    /// Nil when there is nothing to draw.
    init?(report: Report) {
        let directions = report.directions
        self.init(counts: report.statistics.visitsByDecadeAndDirection, directions: directions,
                  labels: Dictionary(uniqueKeysWithValues: directions.map { ($0, report.label($0)) }))
    }

    /// Visits per decade and direction, the directions in their order, and their labels; nil when
    /// there is nothing to draw.
    init?(counts: [Int: [Direction: Int]], directions: [Direction], labels: [Direction: String]) {
        let largest = counts.values.flatMap(\.values).max() ?? 0
        guard largest > 0 else { return nil }
        self.counts = counts
        // Every decade from the first to the last, so that a decade without visits shows as a gap.
        let known = counts.keys.sorted()
        decades = Array(stride(from: known[0], through: known[known.count - 1], by: 10))
        self.directions = directions
        self.labels = labels
        tickStep = DecadeChart.tickStep(forMaximum: largest)
        axisMaximum = (largest + tickStep - 1) / tickStep * tickStep
    }

    /// The smallest of 1, 2, 5, 10, 20, 50, ... that covers `maximum` in at most five steps.
    static func tickStep(forMaximum maximum: Int) -> Int {
        var magnitude = 1
        while true {
            for factor in [1, 2, 5] where factor * magnitude * 5 >= maximum {
                return factor * magnitude
            }
            magnitude *= 10
        }
    }

    var groupWidth: Double { Double(directions.count) * DecadeChart.barWidth + Double(directions.count - 1) * DecadeChart.barGap }

    var width: Double {
        let plot = DecadeChart.groupGap + Double(decades.count) * (groupWidth + DecadeChart.groupGap)
        // Leave room for the longest legend entry at roughly 7 units per character.
        let legend = 24 + 7 * Double(labels.values.map(\.count).max() ?? 0)
        return DecadeChart.left + max(plot, legend) + DecadeChart.right
    }

    var baseline: Double { DecadeChart.top + DecadeChart.plotHeight }

    var height: Double { baseline + 36 + Double(directions.count) * DecadeChart.legendRow + 4 }

    func y(_ count: Int) -> Double { baseline - Double(count) * DecadeChart.plotHeight / Double(axisMaximum) }

    func colour(_ index: Int) -> String { DecadeChart.palette[index % DecadeChart.palette.count] }

    var svg: String {
        let escape = Report.htmlEscape
        let n = DecadeChart.number
        let plotRight = width - DecadeChart.right
        var out = "<svg class=\"chart\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\""
        out += " role=\"img\" aria-label=\"Visits per decade by direction\">\n"

        // Count axis: a grid line and a label at every tick.
        for tick in stride(from: 0, through: axisMaximum, by: tickStep) {
            let at = n(y(tick))
            out += "<line class=\"grid\" x1=\"\(n(DecadeChart.left))\" y1=\"\(at)\" x2=\"\(n(plotRight))\" y2=\"\(at)\" stroke=\"#e4e4e4\"/>\n"
            out += "<text class=\"tick\" x=\"\(n(DecadeChart.left - 6))\" y=\"\(at)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(tick)</text>\n"
        }
        out += "<line class=\"axis\" x1=\"\(n(DecadeChart.left))\" y1=\"\(n(DecadeChart.top))\" x2=\"\(n(DecadeChart.left))\" y2=\"\(n(baseline))\" stroke=\"#888\"/>\n"
        out += "<line class=\"axis\" x1=\"\(n(DecadeChart.left))\" y1=\"\(n(baseline))\" x2=\"\(n(plotRight))\" y2=\"\(n(baseline))\" stroke=\"#888\"/>\n"
        let middle = n(DecadeChart.top + DecadeChart.plotHeight / 2)
        out += "<text class=\"axis-title\" x=\"12\" y=\"\(middle)\" transform=\"rotate(-90 12 \(middle))\" text-anchor=\"middle\">Visits</text>\n"

        // Bars, grouped by decade; a direction without visits in a decade leaves its slot empty.
        for (group, decade) in decades.enumerated() {
            let groupLeft = DecadeChart.left + DecadeChart.groupGap + Double(group) * (groupWidth + DecadeChart.groupGap)
            for (index, direction) in directions.enumerated() {
                guard let count = counts[decade]?[direction], count > 0 else { continue }
                let x = groupLeft + Double(index) * (DecadeChart.barWidth + DecadeChart.barGap)
                let tooltip = "\(Report.decadeLabel(decade)) \(labels[direction] ?? ""): \(count)"
                out += "<rect class=\"bar\" data-decade=\"\(decade)\" data-from=\"\(escape(direction.from.rawValue))\""
                out += " data-to=\"\(escape(direction.to.rawValue))\" data-count=\"\(count)\""
                out += " x=\"\(n(x))\" y=\"\(n(y(count)))\" width=\"\(n(DecadeChart.barWidth))\" height=\"\(n(baseline - y(count)))\""
                out += " fill=\"\(colour(index))\"><title>\(escape(tooltip))</title></rect>\n"
            }
            let middle = groupLeft + groupWidth / 2
            out += "<text class=\"decade\" x=\"\(n(middle))\" y=\"\(n(baseline + 16))\" text-anchor=\"middle\">\(Report.decadeLabel(decade))</text>\n"
        }

        // Legend: a swatch and the direction's name, one per row under the axis.
        for (index, direction) in directions.enumerated() {
            let rowTop = baseline + 30 + Double(index) * DecadeChart.legendRow
            out += "<rect class=\"swatch\" x=\"\(n(DecadeChart.left))\" y=\"\(n(rowTop))\" width=\"12\" height=\"12\" fill=\"\(colour(index))\"/>\n"
            out += "<text class=\"legend\" x=\"\(n(DecadeChart.left + 18))\" y=\"\(n(rowTop + 6))\" dominant-baseline=\"middle\">\(escape(labels[direction] ?? ""))</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    /// A coordinate with at most one decimal and a dot as separator, whatever the locale.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = abs(tenths)
        return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }
}
