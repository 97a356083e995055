// The JSON form, written by hand so that key order and layout never depend on a Foundation version.

/// The few JSON values a report needs.
enum ReportJSONValue {
    case integer(Int)
    case string(String)
    /// A number with the given digits after the point.
    case decimal(Double, digits: Int)
    case null
    /// An array whose elements are made one at a time as they are written: a table of tens of
    /// thousands of rows is never held as values all at once.
    case rows(count: Int, element: (Int) -> ReportJSONValue)
    /// Keys are sorted when written, whatever order they are given in.
    case object([String: ReportJSONValue])

    /// Pretty-printed: two spaces per level, `"key": value`, empty containers as `[]` and `{}`.
    /// After each element of an array, `flush` may take what `out` holds so far.
    func write(to out: inout String, indent: Int = 0, flush: (inout String) throws -> Void) rethrows {
        switch self {
        case .integer(let value):
            out += String(value)
        case .string(let value):
            EventJSON.appendString(value, to: &out)
        case .decimal(let value, let digits):
            out += ReportJSONValue.fixed(value, digits: digits)
        case .null:
            out += "null"
        case .rows(let count, let element):
            guard count > 0 else { out += "[]"; return }
            out += "[\n"
            for index in 0..<count {
                out += String(repeating: " ", count: indent + 2)
                try element(index).write(to: &out, indent: indent + 2, flush: flush)
                out += index == count - 1 ? "\n" : ",\n"
                try flush(&out)
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{\n"
            let sorted = members.sorted { $0.key < $1.key }
            for (index, member) in sorted.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                EventJSON.appendString(member.key, to: &out)
                out += ": "
                try member.value.write(to: &out, indent: indent + 2, flush: flush)
                out += index == sorted.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }
}

extension ReportJSONValue {
    /// `value` with exactly `digits` digits after a dot, whatever the locale: 0.5 as `0.50`.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = scaled / Int(scale), fraction = String(scaled % Int(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return "\(sign)\(whole)" }
        return "\(sign)\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// Renders a whole document: pretty-printed, with a final newline.
    var document: String {
        var out = ""
        write(to: &out, flush: { _ in })
        return out + "\n"
    }
}

extension StatisticsFilter {
    /// The restriction as JSON: only the parts set.
    var jsonValue: ReportJSONValue {
        var members: [String: ReportJSONValue] = [:]
        if let pair { members["pair"] = .rows(count: 2) { .string($0 == 0 ? pair.0.rawValue : pair.1.rawValue) } }
        if let country { members["country"] = .string(country.rawValue) }
        if let fromYear { members["from"] = .integer(fromYear) }
        if let toYear { members["to"] = .integer(toYear) }
        if !kinds.isEmpty {
            let names = kinds.sorted().map(\.rawValue)
            members["kinds"] = .rows(count: names.count) { .string(names[$0]) }
        }
        return .object(members)
    }
}

extension Report {
    /// The contract documented on `render(_:)`.
    var jsonValue: ReportJSONValue {
        let decades = statistics.visitsByDecade, years = statistics.visitsByYear
        let directions = self.directions, byDirection = statistics.visitsByDirection
        var members: [String: ReportJSONValue] = [
            "title": .string(title),
            "position": .object(position.mapValues { .integer($0) }),
            "totalEvents": .integer(statistics.totalEvents),
            "totalVisits": .integer(statistics.totalVisits),
            "visitsByDecade": .rows(count: decades.count) { index in
                let count = decades[index]
                return .object(["decade": .integer(count.decade), "from": .string(count.from.rawValue),
                                "to": .string(count.to.rawValue), "count": .integer(count.count)])
            },
            "visitsByYear": .rows(count: years.count) { index in
                let count = years[index]
                return .object(["year": .integer(count.year), "from": .string(count.from.rawValue),
                                "to": .string(count.to.rawValue), "count": .integer(count.count)])
            },
            "visitsByDirection": .rows(count: directions.count) { index in
                let direction = directions[index]
                return .object(["from": .string(direction.from.rawValue), "to": .string(direction.to.rawValue),
                                "count": .integer(byDirection[direction] ?? 0)])
            },
            "eventsByKind": .object(Dictionary(uniqueKeysWithValues: statistics.eventsByKind.map { ($0.key.rawValue, .integer($0.value)) })),
        ]
        if let generatedAt { members["generatedAt"] = .string(generatedAt) }
        if !filter.isEmpty { members["filter"] = filter.jsonValue }
        return .object(members)
    }

    func renderJSON() -> String {
        var out = ""
        jsonValue.write(to: &out, flush: { _ in })
        return out + "\n"
    }

    /// The JSON form without its final newline, handed to `emit` a piece at a time (pieces of
    /// about `pieceSize` bytes), so that a report with many rows is never one string in memory.
    /// The pieces joined are `render(.json)` less its last character.
    public func writeJSON(pieceSize: Int = 1 << 16, _ emit: (String) throws -> Void) rethrows {
        var out = ""
        try jsonValue.write(to: &out) { text in
            guard text.utf8.count >= pieceSize else { return }
            try emit(text)
            text.removeAll(keepingCapacity: true)
        }
        if !out.isEmpty { try emit(out) }
    }
}
