import Foundation
import Testing
import Timeline

@Suite("Reading articles")
struct ArticleReaderTests {
    let reader = ArticleReader(gazetteer: Fixtures.gazetteer)

    func seed() throws -> SourceReading {
        let text = try String(contentsOfFile: Fixtures.seedPath, encoding: .utf8)
        return reader.read(text, document: "seed.txt")
    }

    @Test("The seed's two visit tables hold 14 rows and 13 distinct visits")
    func seedVisits() throws {
        let reading = try seed()
        let visits = reading.events.filter { $0.kind == .visit }
        #expect(visits.count == 13)
        let rows = Set(visits.compactMap(\.source.line)).count
            + reading.diagnostics.filter { $0.message.contains("repeats the event") }.count
        #expect(rows == 14)
        #expect(reading.errors.isEmpty, "\(reading.errors)")
    }

    @Test("The repeated 1985 row is reported once as a repeat and counted once")
    func seedDuplicate() throws {
        let reading = try seed()
        let repeats = reading.diagnostics.filter { $0.message.contains("repeats the event") }
        #expect(repeats.count == 1)
        #expect(repeats.first?.severity == .note)
        let kimYongNam1985 = reading.events.filter { $0.guest == "Chairman Kim Yong-nam" && $0.date.description == "1985" }
        #expect(kimYongNam1985.count == 1)
    }

    @Test("Directions come from the place of visit: 8 visits Mongolia to North Korea, 5 the other way")
    func seedDirections() throws {
        let counts = Aggregation.visitsPerDirection(try seed().events)
        #expect(counts[Direction(from: Fixtures.code("MN"), to: Fixtures.code("KP"))] == 8)
        #expect(counts[Direction(from: Fixtures.code("KP"), to: Fixtures.code("MN"))] == 5)
    }

    @Test("Each seed visit keeps its exact date, host, description and provenance")
    func seedVisitDetails() throws {
        let reading = try seed()
        let kimIlSung1956 = try #require(reading.events.first { $0.date.description == "1956-07-16/1956-07-18" })
        #expect(kimIlSung1956.guest == "Premier Kim Il Sung")
        #expect(kimIlSung1956.host == "Chairman Yumjaagiin Tsedenbal")
        #expect(kimIlSung1956.place == "Ulaanbaatar")
        #expect(kimIlSung1956.from.rawValue == "KP" && kimIlSung1956.to.rawValue == "MN")
        #expect(kimIlSung1956.cameo == "042")
        #expect(kimIlSung1956.source.section == "Inter-nation visits / Heads of State and Government")
        #expect(kimIlSung1956.source.row == 2)
        let jeong = try #require(reading.events.first { $0.date.description == "1971-07-14" })
        #expect(jeong.description?.hasPrefix("Visit during the celebrations") == true)
        let ho = try #require(reading.events.first { $0.guest == "Foreign Minister Ho Dam" })
        #expect(ho.description == nil)
        let line = try String(contentsOfFile: Fixtures.seedPath, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)[try #require(ho.source.line) - 1]
        #expect(line.contains("Foreign Minister Ho Dam"))
    }

    @Test("Ambassador lists become terms, sender to receiver, open-ended where the source is")
    func seedAmbassadors() throws {
        let terms = try seed().events.filter { $0.kind == .ambassadorTerm }
        #expect(terms.count == 9)
        let hong = try #require(terms.first { $0.guest == "Hong Gyu" })
        #expect(hong.date.description == "2013/2017")
        #expect(hong.from.rawValue == "KP" && hong.to.rawValue == "MN")
        let o = try #require(terms.first { $0.guest == "O Sung Ho" })
        #expect(o.date.description == "2017/..")
        let sambuu = try #require(terms.first { $0.guest == "Jamsran Sambuu" })
        #expect(sambuu.from.rawValue == "MN" && sambuu.to.rawValue == "KP")
    }

    static let otherArticle = """
    = France–Japan relations =

    Some prose that the reader leaves alone.

    == State visits ==
    | Date | Notes | Place | Host | Guest | Delegation size |
    | 10–12 March 1994 | State visit | Tokyo | Emperor Akihito | President François Mitterrand | 40 |
    | June 30 – July 2, 1996 | | [[Paris]] | President Jacques Chirac | Emperor Akihito | |
    | October 1999 | Working visit | Kyoto | Prime Minister Keizo Obuchi | Prime Minister Lionel Jospin | 12 |
    | April 5, 2003[2] | | Osaka, Japan | Mayor | Minister Dominique de Villepin | |
    | 2005 | | Atlantis | Nobody | Somebody | |
    | 31 February 2006 | | Paris | Somebody | Nobody | |
    | 2007 | | Berlin | Chancellor | President | |
    | 1994-03-10/1994-03-12 | State visit | Tokyo | Emperor Akihito | President François Mitterrand | 40 |
    | 2010 | too | many | cells | in | this | row |

    == Envoys ==
    === Japanese ambassadors to France ===
    * Ambassador One (1990–95)
    * Ambassador Two (since 2019)
    * Ambassador Three
    """

    @Test("Another pair of countries, columns in another order with an extra column, and other date styles")
    func otherArticleReads() {
        let reading = reader.read(Self.otherArticle, document: "france-japan.txt")
        let visits = reading.events.filter { $0.kind == .visit }
        #expect(visits.map(\.date.description) == ["1994-03-10/1994-03-12", "1996-06-30/1996-07-02", "1999-10", "2003-04-05"])
        #expect(visits.map(\.to.rawValue) == ["JP", "FR", "JP", "JP"])
        #expect(visits.map(\.from.rawValue) == ["FR", "JP", "FR", "FR"])
        #expect(visits[0].guest == "President François Mitterrand")
        #expect(visits[0].description == "State visit")
        #expect(visits[1].place == "Paris")
        let terms = reading.events.filter { $0.kind == .ambassadorTerm }
        #expect(terms.map(\.date.description) == ["1990/1995", "2019/.."])
        #expect(terms.allSatisfy { $0.from.rawValue == "JP" && $0.to.rawValue == "FR" })
    }

    @Test("Rows that cannot be resolved become diagnostics naming the line and the reason")
    func otherArticleDiagnostics() {
        let reading = reader.read(Self.otherArticle, document: "france-japan.txt")
        let errors = reading.errors
        func error(at line: Int) -> Diagnostic? { errors.first { $0.line == line } }
        #expect(error(at: 11)?.message.contains("'Atlantis' is not in the gazetteer") == true)
        #expect(error(at: 12)?.message.contains("no such day") == true)
        #expect(error(at: 13)?.message.contains("neither FR nor JP") == true)
        #expect(error(at: 15)?.message.contains("7 cells") == true)
        #expect(error(at: 21)?.message.contains("no term") == true)
        #expect(errors.count == 5)
        #expect(errors.allSatisfy { $0.file == "france-japan.txt" })
        #expect(reading.diagnostics.contains { $0.severity == .note && $0.line == 14 })
    }

    @Test("An article whose title names no known pair reports it and reads no table")
    func unknownTitle() {
        let reading = reader.read("= Atlantis–Lemuria relations =\n| Guest | Place | Date |\n| A | Paris | 1990 |\n", document: "x.txt")
        #expect(reading.events.isEmpty)
        #expect(reading.errors.count == 2)
        #expect(reading.errors[0].line == 1)
    }

    @Test("A table without guest, place or date columns is reported, not guessed")
    func nonVisitTable() {
        let reading = reader.read("= Mongolia–North Korea relations =\n| Year | Trade |\n| 1990 | 5 |\n", document: "x.txt")
        #expect(reading.events.isEmpty)
        #expect(reading.diagnostics.first?.severity == .warning)
        #expect(reading.diagnostics.first?.line == 2)
    }

    @Test("A hyphenated title with a hyphenated country name resolves", arguments: [
        ("Guinea-Bissau–Portugal relations", "GW", "PT"),
        ("Mongolia-North Korea relations", "MN", "KP"),
        ("Mongolia–DPRK relations", "MN", "KP"),
        ("Mongolian–North Korean relations", "MN", "KP"),
    ])
    func titles(title: String, a: String, b: String) throws {
        let pair = try #require(reader.countryPair(fromTitle: title))
        #expect(pair.0.rawValue == a && pair.1.rawValue == b)
    }
}
