import Foundation
import Testing
import Timeline
import TimelinePipeline

/// One row of a GDELT event export, made here column by column in the codebook's order (not copied
/// from a real file), in any of the three layouts.
struct GDELTRow {
    enum Version: CaseIterable { case v2, v1Daily, v1Historical }

    struct Actor {
        var name: String
        var country: String
        var geo: String
    }

    var id: String
    var date = "20240105"
    var code = "042"
    var actor1 = Actor(name: "MONGOLIA", country: "MNG", geo: "MG")
    var actor2 = Actor(name: "NORTH KOREA", country: "PRK", geo: "KN")
    var place = "Pyongyang, P'yongyang-si, North Korea"
    var placeCountry = "KN"
    var url = "https://news.example/a"

    func line(_ version: Version = .v2) -> String {
        var columns = [id, date, String(date.prefix(6)), String(date.prefix(4)), String(date.prefix(4)) + ".0137"]
        for actor in [actor1, actor2] {
            // Code, Name, CountryCode, KnownGroup, Ethnic, Religion1, Religion2, Type1, Type2, Type3.
            columns += [actor.country + "GOV", actor.name, actor.country, "", "", "", "", "GOV", "", ""]
        }
        // IsRootEvent, EventCode, EventBaseCode, EventRootCode, QuadClass, Goldstein, NumMentions,
        // NumSources, NumArticles, AvgTone.
        columns += ["1", code, String(code.prefix(3)), String(code.prefix(2)), "1", "1.9", "6", "1", "6", "-0.8"]
        for (type, name, country) in [("1", actor1.name, actor1.geo), ("1", actor2.name, actor2.geo), ("4", place, placeCountry)] {
            // Type, FullName, CountryCode, ADM1Code, [ADM2Code in 2.0], Lat, Long, FeatureID.
            columns += [type, name, country, country]
            if version == .v2 { columns.append("") }
            columns += ["39.0", "125.7", "-1"]
        }
        columns.append(version == .v2 ? date + "120000" : date)
        if version != .v1Historical { columns.append(url) }
        return columns.joined(separator: "\t")
    }
}

@Suite("Reading GDELT event exports")
struct GDELTReaderTests {
    let reader = GDELTReader(gazetteer: Fixtures.gazetteer)

    func read(_ rows: [String]) -> SourceReading {
        reader.read(rows.joined(separator: "\n") + "\n", document: "events.export.CSV")
    }

    @Test("The three layouts have the codebook's 61, 58 and 57 columns")
    func columnCounts() {
        #expect(GDELTRow(id: "1").line(.v2).split(separator: "\t", omittingEmptySubsequences: false).count == 61)
        #expect(GDELTRow(id: "1").line(.v1Daily).split(separator: "\t", omittingEmptySubsequences: false).count == 58)
        #expect(GDELTRow(id: "1").line(.v1Historical).split(separator: "\t", omittingEmptySubsequences: false).count == 57)
    }

    @Test("042 (make a visit): Actor1 is the guest, the place is the gazetteer's, the row is the provenance")
    func makeAVisit() throws {
        let reading = read([GDELTRow(id: "1001").line()])
        #expect(reading.diagnostics.isEmpty, "\(reading.diagnostics)")
        let event = try #require(reading.events.first)
        #expect(reading.events.count == 1)
        #expect(event.kind == .visit)
        #expect(event.date == Fixtures.date("2024-01-05"))
        #expect((event.from, event.to) == (Fixtures.code("MN"), Fixtures.code("KP")))
        #expect(event.guest == "MONGOLIA")
        #expect(event.host == "NORTH KOREA")
        #expect(event.place == "Pyongyang")
        #expect(event.cameo == "042")
        #expect(event.description == "GDELT event 1001; source: https://news.example/a")
        #expect(event.source == Provenance(document: "events.export.CSV", section: "GDELT 2.0", line: 1))
        #expect(event.id == EventID.derive(kind: .visit, date: event.date, from: event.from, to: event.to, cameo: "042"))
    }

    @Test("043 (host a visit): Actor2 is the guest, in both directions")
    func hostAVisit() throws {
        // North Korea hosts Mongolia's delegation: Mongolia to North Korea.
        var hostedByNorthKorea = GDELTRow(id: "2001", code: "043")
        (hostedByNorthKorea.actor1, hostedByNorthKorea.actor2) = (hostedByNorthKorea.actor2, hostedByNorthKorea.actor1)
        // Mongolia hosts North Korea's: North Korea to Mongolia, in Ulaanbaatar.
        var hostedByMongolia = GDELTRow(id: "2002", code: "043", place: "Ulaanbaatar, Ulaanbaatar, Mongolia", placeCountry: "MG")
        hostedByMongolia.date = "20240106"
        let reading = read([hostedByNorthKorea.line(), hostedByMongolia.line()])
        #expect(reading.diagnostics.isEmpty, "\(reading.diagnostics)")
        #expect(reading.events.count == 2)
        let first = try #require(reading.events.first), second = try #require(reading.events.last)
        #expect((first.from, first.to, first.guest, first.host) == (Fixtures.code("MN"), Fixtures.code("KP"), "MONGOLIA", "NORTH KOREA"))
        #expect((second.from, second.to, second.guest, second.host) == (Fixtures.code("KP"), Fixtures.code("MN"), "NORTH KOREA", "MONGOLIA"))
        #expect(second.place == "Ulaanbaatar")
        #expect(reading.events.allSatisfy { $0.kind == .visit && $0.cameo == "042" })
    }

    @Test("Rows of the same day and direction are one visit keeping every GLOBALEVENTID and distinct SOURCEURL; another day or direction is another")
    func duplicatesMerged() throws {
        var hosted = GDELTRow(id: "3002", code: "043", url: "https://news.example/b")
        (hosted.actor1, hosted.actor2) = (hosted.actor2, hosted.actor1)
        var nextDay = GDELTRow(id: "3004")
        nextDay.date = "20240106"
        var otherWay = GDELTRow(id: "3005", place: "Ulaanbaatar, Mongolia", placeCountry: "MG")
        (otherWay.actor1, otherWay.actor2) = (otherWay.actor2, otherWay.actor1)
        let reading = read([GDELTRow(id: "3001").line(), hosted.line(), GDELTRow(id: "3003").line(), nextDay.line(), otherWay.line()])
        #expect(reading.errors.isEmpty, "\(reading.errors)")
        #expect(reading.events.map(\.source.line) == [1, 4, 5])
        let merged = try #require(reading.events.first)
        #expect(merged.description == "GDELT events 3001, 3002, 3003; sources: https://news.example/a https://news.example/b")
        #expect(merged.guest == "MONGOLIA")
        let notes = reading.diagnostics.filter { $0.severity == .note }
        #expect(notes.map(\.line) == [2, 3])
        #expect(notes.first?.message == "repeats the event of line 1 (GDELT event 3002); counted once")
        #expect(Set(reading.events.map(\.id)).count == 3)
    }

    @Test("The same visit read from another export file, with other names and place, has the same id")
    func idFromContent() {
        var other = GDELTRow(id: "9", place: "North Korea", placeCountry: "KN", url: "https://elsewhere.example/")
        other.actor1.name = "PRESIDENT"
        let first = read([GDELTRow(id: "1").line()]).events
        let second = reader.read(other.line(.v1Daily), document: "other.export.CSV").events
        #expect(first.count == 1 && second.count == 1)
        #expect(first.first?.id == second.first?.id)
        #expect(second.first?.place == "North Korea")
    }

    @Test("GDELT 1.0 daily (58 columns) and historical (57) files read as 2.0 does", arguments: [GDELTRow.Version.v1Daily, .v1Historical])
    func version1Layouts(_ version: GDELTRow.Version) throws {
        var agreement = GDELTRow(id: "12", code: "057", place: "Mongolia", placeCountry: "MG")
        agreement.date = "19870312"
        let text = [GDELTRow(id: "11").line(version), agreement.line(version)].joined(separator: "\n")
        let reading = reader.read(text, document: "1987.csv")
        let expected = read([GDELTRow(id: "11").line(.v2), agreement.line(.v2)])
        #expect(reading.diagnostics.isEmpty, "\(reading.diagnostics)")
        #expect(reading.events.map(\.id) == expected.events.map(\.id))
        #expect(reading.events.map(\.place) == ["Pyongyang", "Mongolia"])
        #expect(reading.events.map(\.kind) == [.visit, .agreementSigned])
        #expect(reading.events.first?.source.section == (version == .v1Daily ? "GDELT 1.0 daily" : "GDELT 1.0 historical"))
        #expect(reading.events.first?.description == (version == .v1Daily ? "GDELT event 11; source: https://news.example/a" : "GDELT event 11"))
    }

    @Test("Without CAMEO country codes, the actors' FIPS 10-4 geographic codes give the countries")
    func countriesFromFIPS() throws {
        var row = GDELTRow(id: "21")
        row.actor1 = .init(name: "PRESIDENT", country: "", geo: "MG")
        row.actor2 = .init(name: "GOVERNMENT", country: "", geo: "KN")
        let event = try #require(read([row.line()]).events.first)
        #expect((event.from, event.to) == (Fixtures.code("MN"), Fixtures.code("KP")))
    }

    @Test("An organisation, people or faith without a country is no country, wherever GDELT placed it")
    func groupsAreNoCountry() throws {
        func row(_ id: String, _ columns: [Int: String]) -> String {
            var row = GDELTRow(id: id)
            row.actor1 = .init(name: "UNITED NATIONS", country: "", geo: "US")
            var cells = row.line().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            for (index, value) in columns { cells[index] = value }
            return cells.joined(separator: "\t")
        }
        // Actor1's KnownGroupCode, EthnicCode, Religion1Code and Type1Code are columns 8, 9, 10 and 12.
        let reading = read([row("71", [8: "UNO"]), row("72", [9: "KUR"]), row("73", [10: "CHR"]), row("74", [12: "IGO"]), row("75", [12: "GOV"])])
        #expect(reading.errors.map(\.message) == [
            "Actor1 is a group (Actor1KnownGroupCode 'UNO') with no country",
            "Actor1 is a group (Actor1EthnicCode 'KUR') with no country",
            "Actor1 is a group (Actor1Religion1Code 'CHR') with no country",
            "Actor1 is a group (Actor1Type1Code 'IGO') with no country",
        ])
        // A government of no stated country is taken to be that of where it was placed.
        #expect(reading.events.map(\.source.line) == [5])
        let event = try #require(reading.events.first)
        #expect((event.from, event.to) == (Fixtures.code("US"), Fixtures.code("KP")))
    }

    @Test("CAMEO codes become the project's kinds where one fits, otherwise other with the code kept",
          arguments: [("054", EventKind.relationsEstablished, "054"), ("057", .agreementSigned, "057"), ("071", .aid, "071"),
                      ("0874", .other, "0874"), ("161", .other, "161"), ("036", .other, "036"), ("044", .other, "044")])
    func kinds(_ code: String, _ kind: EventKind, _ cameo: String) throws {
        let event = try #require(read([GDELTRow(id: "31", code: code).line()]).events.first)
        #expect(event.kind == kind)
        #expect(event.cameo == cameo)
        #expect((event.from, event.to) == (Fixtures.code("MN"), Fixtures.code("KP")))
        #expect(event.guest == nil && event.host == nil)
    }

    @Test("Two kinds or two codes the same day and direction stay two events")
    func codesKeptApart() {
        let reading = read([GDELTRow(id: "41", code: "0874").line(), GDELTRow(id: "42", code: "0871").line(), GDELTRow(id: "43").line()])
        #expect(reading.events.map(\.cameo) == ["0874", "0871", "042"])
        #expect(Set(reading.events.map(\.id)).count == 3)
    }

    @Test("Malformed rows are errors naming the line and the reason, and the good rows are kept")
    func malformedRows() throws {
        var oneCountry = GDELTRow(id: "53")
        oneCountry.actor2 = oneCountry.actor1
        var noCountry = GDELTRow(id: "54")
        noCountry.actor2 = .init(name: "", country: "", geo: "")
        var region = GDELTRow(id: "55")
        region.actor2 = .init(name: "EUROPE", country: "EUR", geo: "")
        var badDate = GDELTRow(id: "56")
        badDate.date = "20230229"
        let short = GDELTRow(id: "52").line().split(separator: "\t", omittingEmptySubsequences: false).dropLast().joined(separator: "\t")
        let rows = [
            GDELTRow(id: "51").line(), short, oneCountry.line(), noCountry.line(), region.line(), badDate.line(),
            GDELTRow(id: "57", code: "X42").line(), GDELTRow(id: "58", code: "250").line(), GDELTRow(id: "59").line(.v1Daily),
            GDELTRow(id: "abc").line(),
        ]
        let reading = read(rows)
        #expect(reading.events.count == 1)
        #expect(reading.events.first?.description == "GDELT event 51; source: https://news.example/a")
        let errors = reading.errors.map { "\($0.line!): \($0.message)" }
        #expect(errors == [
            "2: the row has 60 tab-separated columns; a GDELT event export has 61 (GDELT 2.0)",
            "3: Actor1 and Actor2 are both MN; an event between two countries needs two",
            "4: Actor2 has no country (Actor2CountryCode and Actor2Geo_CountryCode are empty)",
            "5: Actor2CountryCode 'EUR' is not a country the gazetteer knows",
            "6: SQLDATE '20230229' is not a date written YYYYMMDD",
            "7: EventCode 'X42' is not a CAMEO event code (3 or 4 digits, root 01 to 20)",
            "8: EventCode '250' is not a CAMEO event code (3 or 4 digits, root 01 to 20)",
            "9: the row has 58 columns (GDELT 1.0 daily) but the rows before it have 61 (GDELT 2.0)",
            "10: GLOBALEVENTID 'abc' is not a number",
        ])
        #expect(reading.errors.allSatisfy { $0.file == "events.export.CSV" })
    }

    @Test("A file of only bad rows yields no event and an error for each")
    func allBad() {
        let reading = read(["1\t20240105\tjunk", "2\t20240105\tjunk"])
        #expect(reading.events.isEmpty)
        #expect(reading.errors.map(\.line) == [1, 2])
    }

    @Test("A header row, blank lines and CRLF line ends are taken in stride")
    func headerAndLineEnds() {
        var header = GDELTRow(id: "GLOBALEVENTID").line().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        header[1] = "SQLDATE"
        let text = header.joined(separator: "\t") + "\r\n\r\n" + GDELTRow(id: "61").line() + "\r\n"
        let reading = reader.read(text, document: "with-header.tsv")
        #expect(reading.diagnostics.isEmpty, "\(reading.diagnostics)")
        #expect(reading.events.map(\.source.line) == [3])
        #expect(reading.events.first?.description == "GDELT event 61; source: https://news.example/a")
    }

    @Test("A long run of reports stays within the 4,000 characters a description may hold, saying how many more there are")
    func boundedDescription() throws {
        let rows = (0..<400).map { GDELTRow(id: String(900_000_000 + $0), url: "https://news.example/story/\($0)").line() }
        let event = try #require(read(rows).events.first)
        let description = try #require(event.description)
        #expect(description.count <= 4_000)
        #expect(description.hasPrefix("GDELT events 900000000, 900000001,"))
        #expect(description.contains(" more); sources: https://news.example/story/0 https://news.example/story/1 "))
        #expect(description.hasSuffix(" more)"))
        // The event goes through the JSON Lines contract and back.
        #expect(try EventJSON.decode(EventJSON.encode(event), fallbackSource: Provenance(document: "x")) == event)
    }
}

@Suite("Telling a GDELT export by its content")
struct GDELTDetectionTests {
    @Test("GDELT content is GDELT whatever the file's name", arguments: ["feed.dat", "events.txt", "noname", "x.json.bak"])
    func contentWins(_ name: String) {
        #expect(SourceFormat.detect(path: name, text: GDELTRow(id: "1").line() + "\n") == .gdelt)
        #expect(SourceFormat.detect(path: name, text: "\n" + GDELTRow(id: "1").line(.v1Historical) + "\r\n") == .gdelt)
    }

    @Test("A torn first row does not hide the GDELT rows after it")
    func tornFirstRow() {
        let torn = String(GDELTRow(id: "1").line().prefix(40))
        #expect(SourceFormat.detect(path: "drop.dat", text: torn + "\n" + GDELTRow(id: "2").line() + "\n") == .gdelt)
    }

    @Test("GDELT's .export.CSV and .csv names are GDELT even when the content is not")
    func nameFallback() {
        #expect(SourceFormat.detect(path: "20240105.export.CSV", text: "junk\n") == .gdelt)
        #expect(SourceFormat.detect(path: "1985.csv", text: "a\tb\n") == .gdelt)
    }

    @Test("Articles and JSON Lines are told as before")
    func othersUnchanged() {
        #expect(SourceFormat.detect(path: "a.txt", text: "= Mongolia–North Korea relations =\n") == .article)
        #expect(SourceFormat.detect(path: "a.txt", text: "# comment\n{\"kind\":\"visit\"}\n") == .jsonl)
        #expect(SourceFormat.detect(path: "a.jsonl", text: GDELTRow(id: "1").line()) == .jsonl)
        // Wikitext opening with a template or a table is no JSON.
        #expect(SourceFormat.detect(path: "a.txt", text: "{{Short description|Relations}}\n== Visits ==\n") == .wikitext)
        #expect(SourceFormat.detect(path: "a.txt", text: "{| class=\"wikitable\"\n! Guest\n|}\n") == .wikitext)
        #expect(SourceFormat.detect(path: "a.txt", text: "{ \"kind\": \"visit\" }\n") == .jsonl)
        // Tab-separated with too few columns is not GDELT.
        #expect(SourceFormat.detect(path: "a.tsv", text: "1\t20240105\tx\n") == .article)
    }
}
