// The two formats meant to be read as they are: plain text for a terminal and Markdown.

extension Report {
    func renderText(_ tables: [ReportTable]) -> String {
        var lines = [title, String(repeating: "=", count: max(title.count, 1))]
        if let generatedAt { lines.append("Generated at: \(generatedAt)") }
        if let positionSummary { lines.append("Position: \(positionSummary)") }
        if let filterSummary { lines.append(filterSummary) }
        for table in tables {
            lines.append("")
            lines.append(table.heading)
            lines.append(String(repeating: "-", count: table.heading.count))
            if table.rows.isEmpty {
                lines.append(table.emptyNote)
            } else {
                lines += Report.aligned(table)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The table as padded lines: header, a rule under each column, then the rows. Columns are two
    /// spaces apart; numbers line up on the right.
    static func aligned(_ table: ReportTable) -> [String] {
        let header = table.columns.map(\.title)
        let widths = table.columns.indices.map { column in
            ([header] + table.rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.indices.map { column -> String in
                let padding = String(repeating: " ", count: widths[column] - cells[column].count)
                switch table.columns[column].alignment {
                case .left: return cells[column] + padding
                case .right: return padding + cells[column]
                }
            }
            // Trailing spaces from a left-aligned last column serve nobody.
            let joined = padded.joined(separator: "  ")
            return String(joined.reversed().drop(while: { $0 == " " }).reversed())
        }
        return [line(header), line(widths.map { String(repeating: "-", count: $0) })] + table.rows.map(line)
    }

    func renderMarkdown(_ tables: [ReportTable]) -> String {
        var lines = ["# \(Report.markdownText(title))"]
        var context: [String] = []
        if let generatedAt { context.append("Generated at \(Report.markdownText(generatedAt)).") }
        if let positionSummary { context.append("Position: \(Report.markdownText(positionSummary)).") }
        if let filterSummary { context.append(Report.markdownText(filterSummary) + ".") }
        if !context.isEmpty {
            lines.append("")
            lines.append(context.joined(separator: " "))
        }
        for table in tables {
            lines.append("")
            lines.append("## \(table.heading)")
            lines.append("")
            if table.rows.isEmpty {
                lines.append(table.emptyNote)
                continue
            }
            func row(_ cells: [String]) -> String { "| " + cells.map(Report.markdownText).joined(separator: " | ") + " |" }
            lines.append(row(table.columns.map(\.title)))
            lines.append("| " + table.columns.map { $0.alignment == .right ? "---:" : "---" }.joined(separator: " | ") + " |")
            lines += table.rows.map(row)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text safe inside a Markdown table cell or heading: pipes and backslashes escaped, line breaks
    /// turned into spaces, and `<` and `&` written as entities so that a title cannot smuggle markup into
    /// a rendered page. `>` stays as it is: away from the start of a line it means nothing, and the
    /// arrows in direction labels must read as arrows.
    static func markdownText(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "|": out += "\\|"
            case "<": out += "&lt;"
            case "&": out += "&amp;"
            case "\n", "\r", "\r\n": out += " "
            default: out.append(character)
            }
        }
        return out
    }
}
