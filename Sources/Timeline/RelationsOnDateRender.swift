import Foundation

// `timeline at`: what stood between two countries on a date, as text for people or as JSON.

extension RelationsOnDate {
    /// The formats `timeline at` writes.
    public enum Format: String, CaseIterable, Sendable {
        case text, json
    }

    public func render(_ format: Format, countryNames: [CountryCode: String] = [:]) -> String {
        switch format {
        case .text: return renderText(countryNames)
        case .json: return jsonValue.document
        }
    }

    /// "during 1999" for a date coarser than a day, "on 1999-06-01" for a day; intervals as "from … to …".
    static func when(_ date: EDTFDate) -> String {
        switch date {
        case .single(let day): return day.precision == .day ? "on \(day)" : "during \(day)"
        case .interval(let start?, let end?): return "from \(start) to \(end)"
        case .interval(let start?, nil): return "from \(start) on"
        case .interval(nil, let end?): return "by \(end)"
        case .interval(nil, nil): return "at an unknown date"
        }
    }

    static func quoted(_ text: String?) -> String { text.map { ": \($0)" } ?? "" }

    func renderText(_ names: [CountryCode: String]) -> String {
        func name(_ code: CountryCode) -> String { names[code] ?? code.rawValue }
        let undecided = "too coarse to decide"
        var lines = ["Relations between \(name(first)) and \(name(second)) on \(date)"]
        lines.append(String(repeating: "=", count: lines[0].count))
        if date.precision != .day { lines.append("(\(date) is read as every day of it: \"yes\" holds for all of them.)") }

        lines.append("")
        switch relations.standing {
        case .yes: lines.append("Diplomatic relations: established \(Self.when(relations.established!.date))")
        case .undecided: lines.append("Diplomatic relations: \(undecided) (established \(Self.when(relations.established!.date)))")
        case .no: lines.append("Diplomatic relations: no establishment recorded by then")
        }

        lines.append("")
        lines.append("Embassies")
        for embassy in embassies {
            let subject = "\(name(embassy.of))'s embassy in \(name(embassy.inCountry))"
            switch embassy.closed {
            case .yes: lines.append("  \(subject): closed \(Self.when(embassy.closure!.date))\(Self.quoted(embassy.closure!.description))")
            case .undecided: lines.append("  \(subject): \(undecided) (closed \(Self.when(embassy.closure!.date)))\(Self.quoted(embassy.closure!.description))")
            case .no: lines.append("  \(subject): no closure recorded by then")
            }
        }

        lines.append("")
        lines.append("Treaties signed by then")
        if treaties.isEmpty { lines.append("  none recorded") }
        for treaty in treaties {
            let state: String
            switch treaty.inForce {
            case .yes: state = "in force" + (treaty.endDate == nil ? " (no end recorded)" : "")
            case .no: state = "ended" + (treaty.endDate.map { " " + Self.when($0) } ?? "")
            case .undecided: state = undecided + (treaty.endDate.map { " (ended \(Self.when($0)))" } ?? "")
            }
            lines.append("  signed \(Self.when(treaty.signed.date)), \(state)\(Self.quoted(treaty.signed.description))")
        }

        lines.append("")
        lines.append("Ambassadors in post")
        if ambassadors.isEmpty { lines.append("  none recorded") }
        for ambassador in ambassadors {
            let term = ambassador.term
            let state = ambassador.inPost == .yes ? "" : " (\(undecided))"
            let until = ambassador.endedBy.map { " until the next term, \(($0.date.start ?? $0.date.end)!)" } ?? ""
            lines.append("  \(name(term.from)) to \(name(term.to)): \(term.person ?? "unnamed"), \(term.date)\(until)\(state)")
        }

        lines.append("")
        lines.append("Last visit before \(date)")
        for visit in lastVisits {
            var text = "  \(name(visit.from)) -> \(name(visit.to)): " + (visit.date.map { "\($0)" } ?? "none recorded")
            if !visit.undecided.isEmpty {
                text += "; \(undecided) for " + visit.undecided.map(\.description).joined(separator: ", ")
            }
            lines.append(text)
        }

        if !otherFacts.isEmpty {
            lines.append("")
            lines.append("Also by then")
            for other in otherFacts {
                let fact = other.fact
                let state = other.happened == .yes ? "" : " (\(undecided) whether by then)"
                lines.append("  \(fact.kind.rawValue.replacingOccurrences(of: "_", with: " ")) \(Self.when(fact.date))\(state) (\(name(fact.from)) -> \(name(fact.to)))\(Self.quoted(fact.description))")
            }
        }
        if factsNotKept > 0 {
            lines.append("")
            lines.append("Note: \(factsNotKept) facts were not kept (more than \(Statistics.factsPerPair) for a pair); this answer may miss some.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The JSON contract:
    ///
    /// ```
    /// {
    ///   "ambassadors": [ { "from", "to", "person", "term": EDTF, "inPost": "yes" | "undecided",
    ///                      "endedBy": EDTF | null } ],     // the next term's start, for a term with no end
    ///   "date": EDTF, "pair": ["KP", "MN"],
    ///   "embassies": [ { "of", "in", "closed": "yes" | "no" | "undecided", "closure": fact | null } ],
    ///   "lastVisits": [ { "from", "to", "date": EDTF | null, "undecided": [EDTF] } ],
    ///   "factsNotKept": n,                  // facts past a pair's limit, any pair; the answer may miss some
    ///   "otherFacts": [ { "fact": fact, "happened": "yes" | "undecided" } ],
    ///   "relations": { "established": "yes" | "no" | "undecided", "fact": fact | null },
    ///   "treaties": [ { "signed": fact, "inForce": "yes" | "no" | "undecided", "ended": EDTF | null } ]
    /// }
    /// ```
    /// where a fact is `{ "kind", "date", "from", "to", "person"?, "description"? }`.
    var jsonValue: ReportJSONValue {
        func fact(_ fact: StandingFact?) -> ReportJSONValue {
            guard let fact else { return .null }
            var members: [String: ReportJSONValue] = ["kind": .string(fact.kind.rawValue), "date": .string(fact.date.description),
                                                      "from": .string(fact.from.rawValue), "to": .string(fact.to.rawValue)]
            if let person = fact.person { members["person"] = .string(person) }
            if let description = fact.description { members["description"] = .string(description) }
            return .object(members)
        }
        func list<T>(_ items: [T], _ body: @escaping (T) -> ReportJSONValue) -> ReportJSONValue {
            .rows(count: items.count) { body(items[$0]) }
        }
        return .object([
            "date": .string(date.description),
            "pair": list([first, second]) { .string($0.rawValue) },
            "relations": .object(["established": .string(relations.standing.rawValue), "fact": fact(relations.established)]),
            "embassies": list(embassies) { embassy in
                .object(["of": .string(embassy.of.rawValue), "in": .string(embassy.inCountry.rawValue),
                         "closed": .string(embassy.closed.rawValue), "closure": fact(embassy.closure)])
            },
            "treaties": list(treaties) { treaty in
                .object(["signed": fact(treaty.signed), "inForce": .string(treaty.inForce.rawValue),
                         "ended": treaty.endDate.map { .string($0.description) } ?? .null])
            },
            "ambassadors": list(ambassadors) { ambassador in
                .object(["from": .string(ambassador.term.from.rawValue), "to": .string(ambassador.term.to.rawValue),
                         "person": ambassador.term.person.map { .string($0) } ?? .null,
                         "term": .string(ambassador.term.date.description), "inPost": .string(ambassador.inPost.rawValue),
                         "endedBy": ambassador.endedBy.map { .string(($0.date.start ?? $0.date.end)!.description) } ?? .null])
            },
            "lastVisits": list(lastVisits) { visit in
                .object(["from": .string(visit.from.rawValue), "to": .string(visit.to.rawValue),
                         "date": visit.date.map { .string($0.description) } ?? .null,
                         "undecided": list(visit.undecided) { .string($0.description) }])
            },
            "otherFacts": list(otherFacts) { .object(["fact": fact($0.fact), "happened": .string($0.happened.rawValue)]) },
            "factsNotKept": .integer(factsNotKept),
        ])
    }
}
