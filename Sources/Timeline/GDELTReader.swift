/// Reads GDELT event exports: tab-separated rows, one CAMEO-coded event each, in the layouts of the
/// GDELT Event Codebook. Three layouts exist, told apart by their number of columns:
///
/// - 61: GDELT 2.0 (`YYYYMMDDHHMMSS.export.CSV`, every 15 minutes), with ADM2 codes in the
///   geographic blocks;
/// - 58: GDELT 1.0 daily files (`YYYYMMDD.export.CSV`, from April 2013): no ADM2 codes;
/// - 57: GDELT 1.0 historical files (1979 to March 2013): no ADM2 codes and no SOURCEURL.
///
/// CAMEO 042 (make a visit: Actor1 is the guest) and 043 (host a visit: Actor2 is the guest) become
/// one visit from the guest's country to the host's. Codes with a kind of their own here become
/// that kind (054 relations established, 057 agreement signed, 070–074 aid); every other code
/// becomes `other` with its code kept. An actor's country is its CAMEO country code, or failing
/// that (the code empty, and the actor no organisation, people or faith) the FIPS 10-4 code of where
/// GDELT placed the actor, both resolved through the gazetteer.
///
/// GDELT reports one event many times (one row per article cluster), so rows of the same kind, code,
/// day and direction are one event: it keeps the first row's names (a visit's guest and host; other
/// kinds name none) and place, and lists every row's GLOBALEVENTID and distinct SOURCEURL in its
/// description. Its id is derived from kind, date,
/// direction and code alone (`EventID.derive(kind:date:from:to:cameo:)`), so the same day read from
/// another export file is the same event.
///
/// A row with the wrong number of columns, a bad date or event code, or without two distinct known
/// countries becomes an error naming its line; the good rows are kept.
public struct GDELTReader: Sendable {
    public let gazetteer: Gazetteer

    public init(gazetteer: Gazetteer) {
        self.gazetteer = gazetteer
    }

    /// The column layout of one GDELT version.
    public enum Layout: Int, Sendable, CaseIterable {
        case v2 = 61
        case v1Daily = 58
        case v1Historical = 57

        public var columnCount: Int { rawValue }

        var name: String {
            switch self {
            case .v2: return "GDELT 2.0"
            case .v1Daily: return "GDELT 1.0 daily"
            case .v1Historical: return "GDELT 1.0 historical"
            }
        }

        // Columns 0 to 34 are the same in every version; the three geographic blocks after them
        // have 8 columns in 2.0 (with ADM2Code) and 7 in 1.0.
        static let globalEventID = 0, sqlDate = 1
        static let actor1Name = 6, actor1Country = 7, actor2Name = 16, actor2Country = 17
        /// KnownGroupCode, EthnicCode, Religion1Code and Type1Code follow an actor's CountryCode.
        static let knownGroupOffset = 1, ethnicOffset = 2, religionOffset = 3, type1Offset = 5
        static let eventCode = 26
        private var geoBlock: Int { self == .v2 ? 8 : 7 }
        /// `<block>Geo_CountryCode`: the third column of a geographic block (Type, FullName, CountryCode…).
        var actor1GeoCountry: Int { 35 + 2 }
        var actor2GeoCountry: Int { 35 + geoBlock + 2 }
        var actionGeoName: Int { 35 + 2 * geoBlock + 1 }
        var sourceURL: Int? { self == .v1Historical ? nil : columnCount - 1 }
    }

    /// Whether a line looks like a row of a GDELT export (or its header): 57, 58 or 61 tab-separated
    /// columns, the first a number (or `GLOBALEVENTID`) and the second a YYYYMMDD date (or `SQLDATE`).
    public static func looksLikeExport(line: some StringProtocol) -> Bool {
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard Layout(rawValue: columns.count) != nil else { return false }
        if columns[0].uppercased() == "GLOBALEVENTID" { return true }
        return !columns[0].isEmpty && columns[0].allSatisfy(\.isASCIIDigit)
            && columns[1].count == 8 && columns[1].allSatisfy(\.isASCIIDigit)
    }

    /// One event being gathered from the rows that report it.
    private struct Gathered {
        var event: TimelineEvent
        var line: Int
        var eventIDs: [String]
        /// Distinct, in the order first seen.
        var urls: [String]
        var seenURLs: Set<String>
    }

    private struct Key: Hashable {
        var kind: EventKind
        var cameo: String
        var date: EDTFDate
        var from: CountryCode
        var to: CountryCode
    }

    public func read(_ text: String, document: String) -> SourceReading {
        var reading = SourceReading(document: document)
        var layout: Layout?
        var gathered: [Gathered] = []
        var indexOfKey: [Key: Int] = [:]
        var lineNumber = 0
        for line in Lines.split(text) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard let rowLayout = Layout(rawValue: columns.count) else {
                let expected = layout.map { "\($0.columnCount) (\($0.name))" } ?? "57, 58 or 61 (GDELT 1.0 or 2.0)"
                reading.diagnostics.append(Diagnostic(.error, file: document, line: lineNumber,
                                                      "the row has \(columns.count) tab-separated columns; a GDELT event export has \(expected)"))
                continue
            }
            if let layout, layout != rowLayout {
                reading.diagnostics.append(Diagnostic(.error, file: document, line: lineNumber,
                                                      "the row has \(columns.count) columns (\(rowLayout.name)) but the rows before it have \(layout.columnCount) (\(layout.name))"))
                continue
            }
            layout = rowLayout
            if columns[0].uppercased() == "GLOBALEVENTID" { continue }
            let row: Row
            do {
                row = try self.row(columns, layout: rowLayout)
            } catch {
                reading.diagnostics.append(Diagnostic(.error, file: document, line: lineNumber, error.reason))
                continue
            }
            let key = Key(kind: row.kind, cameo: row.cameo, date: row.date, from: row.from, to: row.to)
            if let index = indexOfKey[key] {
                gathered[index].eventIDs.append(row.globalEventID)
                if let url = row.url, gathered[index].seenURLs.insert(url).inserted { gathered[index].urls.append(url) }
                reading.diagnostics.append(Diagnostic(.note, file: document, line: lineNumber,
                                                      "repeats the event of line \(gathered[index].line) (GDELT event \(row.globalEventID)); counted once"))
                continue
            }
            let event = TimelineEvent(
                id: EventID.derive(kind: row.kind, date: row.date, from: row.from, to: row.to, cameo: row.cameo),
                kind: row.kind, date: row.date, from: row.from, to: row.to, guest: row.guest, host: row.host,
                place: row.place, description: nil, cameo: row.cameo,
                source: Provenance(document: document, section: rowLayout.name, line: lineNumber))
            indexOfKey[key] = gathered.count
            let urls = row.url.map { [$0] } ?? []
            gathered.append(Gathered(event: event, line: lineNumber, eventIDs: [row.globalEventID], urls: urls, seenURLs: Set(urls)))
        }
        reading.events = gathered.map { item in
            var event = item.event
            event.description = GDELTReader.describe(eventIDs: item.eventIDs, urls: item.urls)
            return event
        }
        return reading
    }

    // MARK: - One row

    private struct Row {
        var globalEventID: String
        var date: EDTFDate
        var kind: EventKind
        var cameo: String
        var from: CountryCode
        var to: CountryCode
        var guest: String?
        var host: String?
        var place: String?
        var url: String?
    }

    private struct RowError: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// A column's text without surrounding spaces; nil when that leaves nothing.
    private static func field(_ columns: [Substring], _ index: Int) -> String? {
        let value = columns[index].trimmed("")
        return value.isEmpty ? nil : value
    }

    private func row(_ columns: [Substring], layout: Layout) throws(RowError) -> Row {
        func text(_ index: Int) -> String? { GDELTReader.field(columns, index) }
        let id = columns[Layout.globalEventID]
        guard !id.isEmpty, id.count <= 20, id.allSatisfy(\.isASCIIDigit) else {
            throw RowError("GLOBALEVENTID '\(id)' is not a number")
        }
        let dateText = columns[Layout.sqlDate]
        guard let date = GDELTReader.date(dateText) else {
            throw RowError("SQLDATE '\(dateText)' is not a date written YYYYMMDD")
        }
        let code = String(columns[Layout.eventCode])
        guard GDELTReader.isCAMEOEventCode(code) else {
            throw RowError("EventCode '\(code)' is not a CAMEO event code (3 or 4 digits, root 01 to 20)")
        }
        let actor1 = try country(actor: 1, columns, countryColumn: Layout.actor1Country, geoColumn: layout.actor1GeoCountry)
        let actor2 = try country(actor: 2, columns, countryColumn: Layout.actor2Country, geoColumn: layout.actor2GeoCountry)
        guard actor1 != actor2 else {
            throw RowError("Actor1 and Actor2 are both \(actor1); an event between two countries needs two")
        }
        let name1 = text(Layout.actor1Name), name2 = text(Layout.actor2Name)
        let (kind, cameo) = GDELTReader.kind(of: code)
        // 043 is the host's report of a visit: Actor2 is the guest.
        let hosted = code.hasPrefix("043")
        return Row(globalEventID: String(id), date: date, kind: kind, cameo: cameo,
                   from: hosted ? actor2 : actor1, to: hosted ? actor1 : actor2,
                   guest: kind == .visit ? (hosted ? name2 : name1) : nil,
                   host: kind == .visit ? (hosted ? name1 : name2) : nil,
                   place: text(layout.actionGeoName).map(place), url: layout.sourceURL.flatMap(text))
    }

    /// An actor's country: its CAMEO country code when it has one, else the FIPS code of where GDELT
    /// placed it. The place stands for the actor only when the actor is not a group: an
    /// organisation (the UN at its seat), a people or a faith is not the country it was seen in.
    private func country(actor: Int, _ columns: [Substring], countryColumn: Int, geoColumn: Int) throws(RowError) -> CountryCode {
        func text(_ index: Int) -> String? { GDELTReader.field(columns, index) }
        if let cameo = text(countryColumn) {
            guard let code = gazetteer.country(cameo: cameo) else {
                throw RowError("Actor\(actor)CountryCode '\(cameo)' is not a country the gazetteer knows")
            }
            return code
        }
        let groups = [("KnownGroupCode", Layout.knownGroupOffset), ("EthnicCode", Layout.ethnicOffset), ("Religion1Code", Layout.religionOffset)]
        for (name, offset) in groups {
            if let group = text(countryColumn + offset) {
                throw RowError("Actor\(actor) is a group (Actor\(actor)\(name) '\(group)') with no country")
            }
        }
        if let type = text(countryColumn + Layout.type1Offset), GDELTReader.nonStateTypes.contains(type) {
            throw RowError("Actor\(actor) is a group (Actor\(actor)Type1Code '\(type)') with no country")
        }
        if let fips = text(geoColumn) {
            guard let code = gazetteer.country(fips: fips) else {
                throw RowError("Actor\(actor)Geo_CountryCode '\(fips)' is not a FIPS 10-4 country code the gazetteer knows")
            }
            return code
        }
        throw RowError("Actor\(actor) has no country (Actor\(actor)CountryCode and Actor\(actor)Geo_CountryCode are empty)")
    }

    /// CAMEO actor types that are no state's: international and non-governmental organisations,
    /// movements, multinational companies.
    static let nonStateTypes: Set<String> = ["IGO", "NGO", "NGM", "MNC"]

    /// `Pyongyang, P'yongyang-si, North Korea` -> `Pyongyang` when the gazetteer lists the first
    /// part as a place; any other text (a country, a place it does not list) is kept whole.
    private func place(_ fullName: String) -> String {
        let first = fullName.split(separator: ",", maxSplits: 1).first.map { String($0).trimmed("") } ?? fullName
        return gazetteer.country(ofListedPlace: first) != nil ? first : fullName
    }

    // MARK: - Fields

    /// `YYYYMMDD`, a day that exists.
    static func date(_ text: Substring) -> EDTFDate? {
        guard text.count == 8, text.allSatisfy(\.isASCIIDigit),
              let year = Int(text.prefix(4)), let month = Int(text.dropFirst(4).prefix(2)), let day = Int(text.suffix(2)),
              let date = PartialDate(year: year, month: month, day: day) else { return nil }
        return .single(date)
    }

    /// A CAMEO event code as GDELT writes it: 3 or 4 digits whose first two are a root from 01 to 20.
    static func isCAMEOEventCode(_ code: String) -> Bool {
        guard (3...4).contains(code.utf8.count), code.allSatisfy(\.isASCIIDigit), let root = Int(code.prefix(2)) else { return false }
        return (1...20).contains(root)
    }

    /// The kind a CAMEO code becomes, and the code the event keeps (a visit is always 042, whichever
    /// side reported it).
    static func kind(of code: String) -> (EventKind, String) {
        switch code.prefix(3) {
        case "042", "043": return (.visit, "042")
        case "054": return (.relationsEstablished, code)
        case "057": return (.agreementSigned, code)
        case "070", "071", "072", "073", "074": return (.aid, code)
        default: return (.other, code)
        }
    }

    /// The rows behind an event, within the 4,000 characters a description may hold: `GDELT events
    /// 1, 2, 3; sources: https://a https://b`, ending with `(and N more)` where they do not fit.
    static func describe(eventIDs: [String], urls: [String]) -> String {
        let limit = 3_900
        var text = eventIDs.count == 1 ? "GDELT event " : "GDELT events "
        var left = eventIDs.count
        for (index, id) in eventIDs.enumerated() {
            guard text.count + id.count + 2 < limit / 4 else { break }
            text += (index == 0 ? "" : ", ") + id
            left -= 1
        }
        if left > 0 { text += " (and \(left) more)" }
        guard !urls.isEmpty else { return text }
        text += urls.count == 1 ? "; source: " : "; sources: "
        var first = true
        left = urls.count
        for url in urls {
            guard text.count + url.count + 1 < limit else { break }
            text += (first ? "" : " ") + url
            first = false
            left -= 1
        }
        if left > 0 { text += " (and \(left) more)" }
        return text
    }
}
