// The CSV form: one flat list of counts that a spreadsheet or `awk` can read without knowing sections.

extension Report {
    static let csvHeader = ["section", "key", "from", "to", "count"]

    /// RFC 4180: CRLF after every record, header first. Countries are codes; `key` is the decade,
    /// year or kind, empty where a section has none.
    func renderCSV() -> String {
        var records = [Report.csvHeader]
        records.append(["total_events", "", "", "", "\(statistics.totalEvents)"])
        records.append(["total_visits", "", "", "", "\(statistics.totalVisits)"])
        for direction in directions {
            records.append(["direction", "", direction.from.rawValue, direction.to.rawValue, "\(statistics.visitsByDirection[direction] ?? 0)"])
        }
        for count in statistics.visitsByDecade {
            records.append(["decade", "\(count.decade)", count.from.rawValue, count.to.rawValue, "\(count.count)"])
        }
        for count in statistics.visitsByYear {
            records.append(["year", "\(count.year)", count.from.rawValue, count.to.rawValue, "\(count.count)"])
        }
        for (kind, count) in statistics.eventsByKind.sorted(by: { $0.key < $1.key }) {
            records.append(["kind", kind.rawValue, "", "", "\(count)"])
        }
        return records.map { $0.map(Report.csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    /// A field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a comma, a quote or a
    /// line break; as it is otherwise.
    static func csvField(_ value: String) -> String {
        let needsQuotes = value.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
        guard needsQuotes else { return value }
        var out = "\""
        for character in value {
            if character == "\"" { out += "\"\"" } else { out.append(character) }
        }
        return out + "\""
    }
}
