// The JSON form, written by hand so that key order and layout never depend on a Foundation version.

/// The few JSON values a report needs.
enum ReportJSONValue {
    case integer(Int)
    case string(String)
    case array([ReportJSONValue])
    /// Keys are sorted when written, whatever order they are given in.
    case object([String: ReportJSONValue])

    /// Pretty-printed: two spaces per level, `"key": value`, empty containers as `[]` and `{}`.
    func write(to out: inout String, indent: Int = 0) {
        switch self {
        case .integer(let value):
            out += String(value)
        case .string(let value):
            EventJSON.appendString(value, to: &out)
        case .array(let elements):
            guard !elements.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (index, element) in elements.enumerated() {
                out += String(repeating: " ", count: indent + 2)
                element.write(to: &out, indent: indent + 2)
                out += index == elements.count - 1 ? "\n" : ",\n"
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
                member.value.write(to: &out, indent: indent + 2)
                out += index == sorted.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }
}

extension Report {
    /// The contract documented on `render(_:)`.
    var jsonValue: ReportJSONValue {
        var members: [String: ReportJSONValue] = [
            "title": .string(title),
            "position": .object(position.mapValues { .integer($0) }),
            "totalEvents": .integer(statistics.totalEvents),
            "totalVisits": .integer(statistics.totalVisits),
            "visitsByDecade": .array(statistics.visitsByDecade.map { count in
                .object(["decade": .integer(count.decade), "from": .string(count.from.rawValue),
                         "to": .string(count.to.rawValue), "count": .integer(count.count)])
            }),
            "visitsByYear": .array(statistics.visitsByYear.map { count in
                .object(["year": .integer(count.year), "from": .string(count.from.rawValue),
                         "to": .string(count.to.rawValue), "count": .integer(count.count)])
            }),
            "visitsByDirection": .array(directions.map { direction in
                .object(["from": .string(direction.from.rawValue), "to": .string(direction.to.rawValue),
                         "count": .integer(statistics.visitsByDirection[direction] ?? 0)])
            }),
            "eventsByKind": .object(Dictionary(uniqueKeysWithValues: statistics.eventsByKind.map { ($0.key.rawValue, .integer($0.value)) })),
        ]
        if let generatedAt { members["generatedAt"] = .string(generatedAt) }
        return .object(members)
    }

    func renderJSON() -> String {
        var out = ""
        jsonValue.write(to: &out)
        return out + "\n"
    }
}
