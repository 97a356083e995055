import Foundation
import Timeline

/// The summary inside the state file, as JSON. Every field the first versions wrote is still
/// written, and a field they did not always write reads as 0 when absent, so that files pass
/// between versions both ways.
struct StateSummary: Codable, Equatable {
    var sequence: UInt64
    var duplicateEvents: UInt64 = 0
    var rejected: UInt64 = 0
    var live: UInt64 = 0
    var replayed: UInt64 = 0
    var duplicateSequences: UInt64 = 0
    var totalEvents: Int
    /// In version 2: how many keys of the keys file belong to this state, and their CRC-32C.
    var keyCount: UInt64?
    var keysChecksum: UInt32?
    var producers: [String: UInt64]
    /// Events per kind, by the kind's name.
    var eventsByKind: [String: Int]
    var visitsByYear: [YearEntry]
    /// Since version 3: events of the other kinds per year and direction, and the facts kept whole.
    var eventCells: [KindEntry]?
    var facts: [FactEntry]?
    /// Facts not kept past a pair's limit, and whether the statistics go back to a state that kept
    /// less (`Statistics.lacksDetail`); written only when not 0 and not false.
    var factsNotKept: Int?
    var lacksDetail: Bool?

    /// Events of a kind in one year in one direction, written as `[year, "kind", "from", "to", count]`.
    struct KindEntry: Codable, Equatable {
        var count: KindCount

        init(_ count: KindCount) { self.count = count }

        init(from decoder: any Decoder) throws {
            var entry = try decoder.unkeyedContainer()
            let year = try entry.decode(Int.self)
            let kind = try entry.decode(String.self)
            let from = try entry.decode(String.self), to = try entry.decode(String.self)
            let count = try entry.decode(Int.self)
            guard entry.isAtEnd, let kindValue = EventKind(rawValue: kind), let fromCode = CountryCode(from), let toCode = CountryCode(to) else {
                throw DecodingError.dataCorrupted(.init(codingPath: entry.codingPath, debugDescription: "a malformed events-per-kind entry"))
            }
            self.count = KindCount(year: year, kind: kindValue, from: fromCode, to: toCode, count: count)
        }

        func encode(to encoder: any Encoder) throws {
            var entry = encoder.unkeyedContainer()
            try entry.encode(count.year)
            try entry.encode(count.kind.rawValue)
            try entry.encode(count.from.description)
            try entry.encode(count.to.description)
            try entry.encode(count.count)
        }
    }

    /// A fact: `{"date": EDTF, "description"?, "from", "kind", "person"?, "to"}`.
    struct FactEntry: Codable, Equatable {
        var fact: StandingFact

        init(_ fact: StandingFact) { self.fact = fact }

        enum CodingKeys: String, CodingKey { case date, description, from, kind, person, to }

        init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            let date = try fields.decode(String.self, forKey: .date), kind = try fields.decode(String.self, forKey: .kind)
            let from = try fields.decode(String.self, forKey: .from), to = try fields.decode(String.self, forKey: .to)
            guard let dateValue = EDTFDate(edtf: date), let kindValue = EventKind(rawValue: kind), kindValue.tellsState,
                  let fromCode = CountryCode(from), let toCode = CountryCode(to) else {
                throw DecodingError.dataCorrupted(.init(codingPath: fields.codingPath, debugDescription: "a malformed fact"))
            }
            fact = StandingFact(kind: kindValue, date: dateValue, from: fromCode, to: toCode,
                                person: try fields.decodeIfPresent(String.self, forKey: .person),
                                description: try fields.decodeIfPresent(String.self, forKey: .description))
        }

        func encode(to encoder: any Encoder) throws {
            var fields = encoder.container(keyedBy: CodingKeys.self)
            try fields.encode(fact.date.description, forKey: .date)
            try fields.encodeIfPresent(fact.description, forKey: .description)
            try fields.encode(fact.from.description, forKey: .from)
            try fields.encode(fact.kind.rawValue, forKey: .kind)
            try fields.encodeIfPresent(fact.person, forKey: .person)
            try fields.encode(fact.to.description, forKey: .to)
        }
    }

    /// Visits in one year in one direction, written as `[year, "from", "to", count]`.
    struct YearEntry: Codable, Equatable {
        var visits: YearCount

        init(_ visits: YearCount) { self.visits = visits }

        init(from decoder: any Decoder) throws {
            var entry = try decoder.unkeyedContainer()
            let year = try entry.decode(Int.self)
            let from = try entry.decode(String.self), to = try entry.decode(String.self)
            let count = try entry.decode(Int.self)
            guard entry.isAtEnd, let fromCode = CountryCode(from), let toCode = CountryCode(to) else {
                throw DecodingError.dataCorrupted(.init(codingPath: entry.codingPath, debugDescription: "a malformed visits-per-year entry"))
            }
            visits = YearCount(year: year, from: fromCode, to: toCode, count: count)
        }

        func encode(to encoder: any Encoder) throws {
            var entry = encoder.unkeyedContainer()
            try entry.encode(visits.year)
            try entry.encode(visits.from.description)
            try entry.encode(visits.to.description)
            try entry.encode(visits.count)
        }
    }

    init(sequence: UInt64, duplicateEvents: UInt64, rejected: UInt64, live: UInt64, replayed: UInt64,
         duplicateSequences: UInt64, totalEvents: Int, producers: [String: UInt64], eventsByKind: [String: Int],
         visitsByYear: [YearEntry], eventCells: [KindEntry]? = nil, facts: [FactEntry]? = nil, factsNotKept: Int? = nil,
         lacksDetail: Bool? = nil) {
        self.sequence = sequence
        self.duplicateEvents = duplicateEvents
        self.rejected = rejected
        self.live = live
        self.replayed = replayed
        self.duplicateSequences = duplicateSequences
        self.totalEvents = totalEvents
        self.producers = producers
        self.eventsByKind = eventsByKind
        self.visitsByYear = visitsByYear
        self.eventCells = eventCells
        self.facts = facts
        self.factsNotKept = factsNotKept
        self.lacksDetail = lacksDetail
    }

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: CodingKeys.self)
        sequence = try fields.decode(UInt64.self, forKey: .sequence)
        duplicateEvents = try fields.decodeIfPresent(UInt64.self, forKey: .duplicateEvents) ?? 0
        rejected = try fields.decodeIfPresent(UInt64.self, forKey: .rejected) ?? 0
        live = try fields.decodeIfPresent(UInt64.self, forKey: .live) ?? 0
        replayed = try fields.decodeIfPresent(UInt64.self, forKey: .replayed) ?? 0
        duplicateSequences = try fields.decodeIfPresent(UInt64.self, forKey: .duplicateSequences) ?? 0
        totalEvents = try fields.decode(Int.self, forKey: .totalEvents)
        keyCount = try fields.decodeIfPresent(UInt64.self, forKey: .keyCount)
        keysChecksum = try fields.decodeIfPresent(UInt32.self, forKey: .keysChecksum)
        producers = try fields.decode([String: UInt64].self, forKey: .producers)
        eventsByKind = try fields.decode([String: Int].self, forKey: .eventsByKind)
        visitsByYear = try fields.decode([YearEntry].self, forKey: .visitsByYear)
        eventCells = try fields.decodeIfPresent([KindEntry].self, forKey: .eventCells)
        facts = try fields.decodeIfPresent([FactEntry].self, forKey: .facts)
        factsNotKept = try fields.decodeIfPresent(Int.self, forKey: .factsNotKept)
        lacksDetail = try fields.decodeIfPresent(Bool.self, forKey: .lacksDetail)
    }

    /// Reads a summary; the error says which field is wrong.
    init(decoding json: UnsafeRawBufferPointer) throws(StateError) {
        do {
            self = try JSONDecoder().decode(StateSummary.self, from: Data(json))
        } catch let DecodingError.keyNotFound(key, _) {
            throw StateError("the summary is malformed: '\(key.stringValue)' is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
                let DecodingError.dataCorrupted(context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw StateError("the summary is malformed\(path.isEmpty ? "" : " at '\(path)'"): \(context.debugDescription)")
        } catch {
            throw StateError("the summary is malformed")
        }
    }

    /// The JSON, keys sorted, through `JSONEncoder`. Tests hold `encoded()` to it.
    func encodedByJSONEncoder() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Integers, strings and arrays of them only: encoding cannot fail.
        return Array(try! encoder.encode(self))
    }

    /// The JSON, byte for byte what `JSONEncoder` writes with `.sortedKeys` and
    /// `.withoutEscapingSlashes`, written directly. A checkpoint encodes the summary on the
    /// aggregator's stream thread, every 50,000 events by default, and with tens of thousands of
    /// year entries `JSONEncoder` alone took longer than the whole checkpoint had before.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + 32 * (visitsByYear.count + producers.count))
        func field(_ name: StaticString, _ value: some BinaryInteger, first: Bool = false) {
            out.appendJSON(name: name, first: first)
            out.appendJSON(value)
        }
        func object<Value: BinaryInteger>(_ name: StaticString, _ entries: [String: Value]) {
            out.appendJSON(name: name)
            out.append(UInt8(ascii: "{"))
            for (index, key) in entries.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.appendJSON(key)
                out.append(UInt8(ascii: ":"))
                out.appendJSON(entries[key]!)
            }
            out.append(UInt8(ascii: "}"))
        }
        /// An array of arrays: `"name":[[1956,"MN","KP",2],...]`, each inner array written by `row`
        /// through `item` (a comma before each but the first).
        func rows<Entry>(_ name: StaticString, _ entries: [Entry], _ row: (Entry, (RowItem) -> Void) -> Void) {
            out.appendJSON(name: name)
            out.append(UInt8(ascii: "["))
            for (index, entry) in entries.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "["))
                var first = true
                row(entry) { item in
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    switch item {
                    case .integer(let value): out.appendJSON(value)
                    case .text(let value): out.appendJSON(value)
                    }
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "{"))
        field("duplicateEvents", duplicateEvents, first: true)
        field("duplicateSequences", duplicateSequences)
        if let eventCells {
            rows("eventCells", eventCells) { entry, item in
                item(.integer(entry.count.year))
                item(.text(entry.count.kind.rawValue))
                item(.text(entry.count.from.description))
                item(.text(entry.count.to.description))
                item(.integer(entry.count.count))
            }
        }
        object("eventsByKind", eventsByKind)
        if let facts {
            out.appendJSON(name: "facts")
            out.append(UInt8(ascii: "["))
            for (index, entry) in facts.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                let fact = entry.fact
                out.append(UInt8(ascii: "{"))
                out.appendJSON(name: "date", first: true)
                out.appendJSON(fact.date.description)
                if let description = fact.description {
                    out.appendJSON(name: "description")
                    out.appendJSON(description)
                }
                out.appendJSON(name: "from")
                out.appendJSON(fact.from.description)
                out.appendJSON(name: "kind")
                out.appendJSON(fact.kind.rawValue)
                if let person = fact.person {
                    out.appendJSON(name: "person")
                    out.appendJSON(person)
                }
                out.appendJSON(name: "to")
                out.appendJSON(fact.to.description)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        if let factsNotKept { field("factsNotKept", factsNotKept) }
        if let keyCount { field("keyCount", keyCount) }
        if let keysChecksum { field("keysChecksum", keysChecksum) }
        if let lacksDetail {
            out.appendJSON(name: "lacksDetail")
            out += Array((lacksDetail ? "true" : "false").utf8)
        }
        field("live", live)
        object("producers", producers)
        field("rejected", rejected)
        field("replayed", replayed)
        field("sequence", sequence)
        field("totalEvents", totalEvents)
        rows("visitsByYear", visitsByYear) { entry, item in
            item(.integer(entry.visits.year))
            item(.text(entry.visits.from.description))
            item(.text(entry.visits.to.description))
            item(.integer(entry.visits.count))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// A number or a string in a row of the summary's JSON.
private enum RowItem {
    case integer(Int)
    case text(String)
}

extension [UInt8] {
    /// Appends `"name":`, after a comma unless it is the first field of its object.
    fileprivate mutating func appendJSON(name: StaticString, first: Bool = false) {
        if !first { append(UInt8(ascii: ",")) }
        append(UInt8(ascii: "\""))
        append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        append(contentsOf: Array("\":".utf8))
    }

    /// Appends an integer in decimal.
    fileprivate mutating func appendJSON(_ value: some BinaryInteger) {
        append(contentsOf: String(value).utf8)
    }

    /// Appends a JSON string, escaped as `JSONEncoder` escapes it.
    fileprivate mutating func appendJSON(_ text: String) {
        append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): append(contentsOf: [UInt8(ascii: "\\"), byte])
            case 0x08: append(contentsOf: Array("\\b".utf8))
            case 0x0C: append(contentsOf: Array("\\f".utf8))
            case 0x0A: append(contentsOf: Array("\\n".utf8))
            case 0x0D: append(contentsOf: Array("\\r".utf8))
            case 0x09: append(contentsOf: Array("\\t".utf8))
            case 0..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                append(contentsOf: Array("\\u00".utf8) + [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }
}

extension AggregatorState {
    /// The summary of the state as it stands, without the keys file's count and checksum.
    var summary: StateSummary {
        summary(of: statistics.parts)
    }

    /// The summary of the state with the statistics' parts (their visit dates go in the file's own section).
    func summary(of parts: Statistics.Parts) -> StateSummary {
        StateSummary(sequence: position.sequence, duplicateEvents: duplicateEvents, rejected: rejected, live: live,
                     replayed: replayed, duplicateSequences: duplicateSequences, totalEvents: parts.totalEvents,
                     producers: position.producers,
                     eventsByKind: Dictionary(uniqueKeysWithValues: parts.eventsByKind.map { ($0.key.rawValue, $0.value) }),
                     visitsByYear: parts.visitDays.map { StateSummary.YearEntry(YearCount(year: $0.year, from: $0.direction.from, to: $0.direction.to, count: $0.count)) },
                     eventCells: parts.cells.map(StateSummary.KindEntry.init), facts: parts.facts.map(StateSummary.FactEntry.init),
                     factsNotKept: parts.factsNotKept == 0 ? nil : parts.factsNotKept, lacksDetail: parts.lacksDetail ? true : nil)
    }

    /// A state from a summary (its keys still to be read) and the visit dates of a version-3 file
    /// (nil for older files: their years with visits read as visits during the year).
    init(summary: StateSummary, visitDays: [VisitDaysKey: VisitDays]? = nil) throws(StateError) {
        self.init()
        var eventsByKind: [EventKind: Int] = [:]
        for (name, count) in summary.eventsByKind {
            guard let kind = EventKind(rawValue: name) else { throw StateError("unknown kind '\(name)'") }
            eventsByKind[kind] = count
        }
        try StateSummary.check(summary, eventsByKind: eventsByKind, visitDays: visitDays)
        if let visitDays {
            let visits = summary.visitsByYear.map { entry -> (year: Int, direction: Direction, count: Int, days: VisitDays) in
                let direction = Direction(from: entry.visits.from, to: entry.visits.to)
                return (entry.visits.year, direction, entry.visits.count, visitDays[VisitDaysKey(year: entry.visits.year, direction: direction)] ?? VisitDays())
            }
            statistics = Statistics(parts: Statistics.Parts(totalEvents: summary.totalEvents, eventsByKind: eventsByKind,
                                                            cells: (summary.eventCells ?? []).map(\.count), visitDays: visits,
                                                            facts: (summary.facts ?? []).map(\.fact), factsNotKept: summary.factsNotKept ?? 0,
                                                            lacksDetail: summary.lacksDetail ?? false))
        } else {
            statistics = Statistics(totalEvents: summary.totalEvents, eventsByKind: eventsByKind, visitsByYear: summary.visitsByYear.map(\.visits))
        }
        position = StreamPosition(sequence: summary.sequence, producers: summary.producers)
        duplicateEvents = summary.duplicateEvents
        rejected = summary.rejected
        live = summary.live
        replayed = summary.replayed
        duplicateSequences = summary.duplicateSequences
    }
}

/// A year and direction: what a version-3 state file's visit dates are keyed by.
struct VisitDaysKey: Hashable {
    var year: Int
    var direction: Direction
}

extension StateSummary {
    /// Checks that the counts of a summary hold together, so that a damaged or hand-made state file
    /// is refused with a reason instead of crashing on an overflow or giving wrong reports: no
    /// negative count, years EDTF can write, the visits per year adding up to the visits, the other
    /// kinds' cells (version 3) to their kinds, the kinds to the total, and every year with dates
    /// having its visits.
    static func check(_ summary: StateSummary, eventsByKind: [EventKind: Int], visitDays: [VisitDaysKey: VisitDays]?) throws(StateError) {
        func sum(_ counts: [Int], _ what: String) throws(StateError) -> Int {
            var total = 0
            for count in counts {
                guard count >= 0 else { throw StateError("a negative count in \(what)") }
                let (added, overflow) = total.addingReportingOverflow(count)
                guard !overflow else { throw StateError("the counts in \(what) overflow") }
                total = added
            }
            return total
        }
        func year(_ year: Int, _ what: String) throws(StateError) {
            guard (-9999...9999).contains(year) else { throw StateError("the year \(year) in \(what) is out of range") }
        }
        guard try sum(Array(eventsByKind.values), "eventsByKind") == summary.totalEvents else {
            throw StateError("eventsByKind does not add up to totalEvents \(summary.totalEvents)")
        }
        for entry in summary.visitsByYear { try year(entry.visits.year, "visitsByYear") }
        guard try sum(summary.visitsByYear.map(\.visits.count), "visitsByYear") == eventsByKind[.visit] ?? 0 else {
            throw StateError("visitsByYear does not add up to the visits in eventsByKind")
        }
        guard let visitDays else { return }
        guard let cells = summary.eventCells, summary.facts != nil else {
            throw StateError("a version-3 summary without eventCells or facts")
        }
        var perKind: [EventKind: [Int]] = [:]
        for entry in cells {
            guard entry.count.kind != .visit else { throw StateError("visits in eventCells (they belong in visitsByYear)") }
            try year(entry.count.year, "eventCells")
            perKind[entry.count.kind, default: []].append(entry.count.count)
        }
        for kind in EventKind.allCases where kind != .visit {
            guard try sum(perKind[kind] ?? [], "eventCells") == eventsByKind[kind] ?? 0 else {
                throw StateError("eventCells do not add up to the \(kind.rawValue) events in eventsByKind")
            }
        }
        let years = Set(summary.visitsByYear.map { VisitDaysKey(year: $0.visits.year, direction: Direction(from: $0.visits.from, to: $0.visits.to)) })
        for key in visitDays.keys where !years.contains(key) {
            throw StateError("visit dates for \(key.year) \(key.direction) without its visits in visitsByYear")
        }
        if let notKept = summary.factsNotKept, notKept < 0 { throw StateError("a negative factsNotKept") }
    }
}
