import Foundation
import Testing
import Timeline
import TimelinePipeline

@Suite("Reading MediaWiki wikitext")
struct WikitextReaderTests {
    let reader = WikitextReader(gazetteer: Fixtures.gazetteer)

    /// A page of our own making: both row styles, spans, attributes, templates, refs, a bad row.
    static let page = """
    {{Short description|Bilateral relations}}
    '''[[Mongolia]]–[[North Korea]] relations''' are the relations between the two.<ref>{{cite web|url=https://example.org|title=T}}</ref>

    == Visits ==
    === Heads of state ===
    {| class="wikitable"
    |+ Visits
    ! Guest !! Host !! Place of visit !! Date
    |-
    | [[Yumjaagiin Tsedenbal|Chairman Tsedenbal]] || {{flagicon|PRK}} Premier Kim Il Sung || [[Pyongyang]] || {{dts|1956|7|16}}
    |-
    | Premier Kim Il Sung
    | Chairman Tsedenbal
    | [[Ulan Bator|Ulaanbaatar]]
    | 16&ndash;18 July 1957<ref name="a"/>
    |-
    | style="text-align:left" | '''Chairman''' Batmönkh || Kim Il Sung<ref name="b">A note.</ref> || P'yŏngyang || {{Start date|1986|10|5}}
    |-
    | Somebody || Nobody || [[Atlantis]] || 1990
    |}

    == Later visits ==
    {| class="wikitable"
    ! Date !! Guest !! Place !! Notes
    |-
    | rowspan="2" | {{dts|12 May 1999}}
    | Minister A || Pyongyang || Talks<!-- hidden -->
    |-
    | Minister B || Wonsan<br />Hamhung || Treaty&nbsp;signed{{citation needed|date=May 2020}}
    |-
    | colspan=2 | 2003 || Ulaanbaatar || Both
    |}
    """

    func pageReading() -> SourceReading { reader.read(Self.page, document: "page.wiki") }

    @Test("The lead's bold title names the pair, and every good row of both row styles is a visit")
    func visits() {
        let reading = pageReading()
        let visits = reading.events.filter { $0.kind == .visit }
        #expect(visits.map(\.date.description) == ["1956-07-16", "1957-07-16/1957-07-18", "1986-10-05", "1999-05-12", "1999-05-12", "2003"])
        #expect(visits.map { "\($0.from.rawValue)>\($0.to.rawValue)" } == ["MN>KP", "KP>MN", "MN>KP", "MN>KP", "MN>KP", "KP>MN"])
        #expect(visits.map(\.source.line) == [10, 12, 17, 26, 29, 31])
    }

    @Test("Links show their labels, flag icons and refs vanish, bold is dropped, entities are decoded")
    func inlineMarkup() throws {
        let visits = pageReading().events
        #expect(visits[0].guest == "Chairman Tsedenbal")
        #expect(visits[0].host == "Premier Kim Il Sung")
        #expect(visits[0].place == "Pyongyang")
        #expect(visits[1].place == "Ulaanbaatar")
        #expect(visits[2].guest == "Chairman Batmönkh")
        #expect(visits[2].host == "Kim Il Sung")
        #expect(visits[4].description == "Treaty signed")
        #expect(visits[3].description == "Talks")
    }

    @Test("A date spanning two rows belongs to both; a cell spanning two columns fills both")
    func spans() {
        let visits = pageReading().events.filter { $0.source.section == "Later visits" }
        #expect(visits.count == 3)
        #expect(visits[0].guest == "Minister A" && visits[1].guest == "Minister B")
        #expect(visits[0].date == visits[1].date)
        // `colspan=2 | 2003` is both the date and the guest.
        #expect(visits[2].guest == "2003" && visits[2].date.description == "2003")
        // `<br>` separates places; the first the gazetteer knows settles the direction.
        #expect(visits[1].place == "Wonsan, Hamhung")
    }

    @Test("Headings give the section path, rows their number in the table")
    func provenance() {
        let visits = pageReading().events
        #expect(visits[0].source.section == "Visits / Heads of state")
        #expect(visits[0].source.row == 1 && visits[2].source.row == 3)
        #expect(visits[0].source.document == "page.wiki")
    }

    @Test("A row that fails is reported with its file and line; the good rows are kept")
    func badRow() {
        let reading = pageReading()
        #expect(reading.errors.map(\.description) == ["page.wiki:19: error: the place 'Atlantis' is not in the gazetteer"])
    }

    @Test("Templates: dts and Start date in their forms, nowrap, flag as the country's name")
    func templates() {
        let markup = { (text: String) in
            reader.read("'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| \(text) || Pyongyang || 1990\n|}\n",
                        document: "t.wiki").events.first?.guest
        }
        #expect(markup("{{nowrap|Kim Il Sung}}") == "Kim Il Sung")
        #expect(markup("{{flag|Mongolia}} delegation") == "Mongolia delegation")
        #expect(markup("{{flagcountry|MNG}}") == "Mongolia")
        #expect(markup("[http://example.org Tsedenbal]") == "Tsedenbal")
        #expect(markup("A<br>B") == "A B")
        #expect(markup("Kim&#32;Il&#x20;Sung&amp;co") == "Kim Il Sung&co")
        #expect(markup("{{sortname|Kim|Il Sung}}{{efn|a note}}{{sfn|Author|2000|p=1}}") == "Kim Il Sung")
        let dates = { (text: String) in
            reader.read("'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || \(text)\n|}\n",
                        document: "t.wiki").events.first?.date.description
        }
        #expect(dates("{{dts|1987|5|12}}") == "1987-05-12")
        #expect(dates("{{dts|1987|May|12}}") == "1987-05-12")
        #expect(dates("{{dts|12 May 1987}}") == "1987-05-12")
        #expect(dates("{{dts|1987}}") == "1987")
        #expect(dates("{{Start date|1987|5|12|df=y}}") == "1987-05-12")
        #expect(dates("{{start date and age|1987|5}}") == "1987-05")
        #expect(dates("{{dts|1987|5|12}}&ndash;{{dts|1987|5|14}}") == "1987-05-12/1987-05-14")
        #expect(dates("{{nowrap|July 16, 1956}}") == "1956-07-16")
        #expect(dates("12 May 1987 (state visit)") == "1987-05-12")
    }

    @Test("Visit tables with start and end columns instead of a date")
    func startAndEnd() {
        let text = """
        '''Mongolia–North Korea relations'''
        {| class="wikitable"
        ! Start !! End !! Guest !! Title !! Location
        |-
        | June 14, 1992 || June 16, 1992 || A || President || Pyongyang
        |-
        | {{dts|1993|4|20}} || || B || Prime Minister || Ulan Bator
        |}
        """
        let visits = reader.read(text, document: "s.wiki").events
        #expect(visits.map(\.date.description) == ["1992-06-14/1992-06-16", "1993-04-20"])
        #expect(visits.map(\.guest) == ["A", "B"])
        let article = ArticleReader(gazetteer: Fixtures.gazetteer)
            .read("= Mongolia–North Korea relations =\n| Guest | Arrival | Departure | Place |\n| A | 3 May 1990 | 5 May 1990 | Pyongyang |\n",
                  document: "s.txt").events
        #expect(article.map(\.date.description) == ["1990-05-03/1990-05-05"])
    }

    @Test("Leader headers name the guest, and a host leader the host")
    func leaderHeaders() {
        let text = "'''Mongolia–North Korea relations'''\n{|\n! Visiting leader !! Host leader !! City !! Year\n|-\n| A || B || Pyongyang || 1990\n|}\n"
        let visit = reader.read(text, document: "l.wiki").events.first
        #expect(visit?.guest == "A" && visit?.host == "B" && visit?.date.description == "1990")
    }

    @Test("A || inside a template is no cell separator")
    func separators() {
        let text = "'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| {{nowrap|A||B}} || Pyongyang || 1990\n|}\n"
        #expect(reader.read(text, document: "s.wiki").events.first?.guest == "A")
    }

    @Test("A title spanning the header cells does not hide their names; two header rows combine")
    func stackedHeaders() {
        let spanning = "'''Mongolia–North Korea relations'''\n{|\n! colspan=3 | Visits by date\n|-\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}\n"
        #expect(reader.read(spanning, document: "s.wiki").events.first?.guest == "A")
        let stacked = "'''Mongolia–North Korea relations'''\n{|\n! rowspan=2 | Date !! colspan=2 | Visit\n|-\n! Guest !! Place\n|-\n| 1990 || A || Pyongyang\n|}\n"
        let visit = reader.read(stacked, document: "s.wiki").events.first
        #expect(visit?.guest == "A" && visit?.date.description == "1990" && visit?.source.line == 7)
    }

    @Test("A flag icon beside a place the gazetteer lacks tells the country")
    func flagHint() {
        let reading = reader.read("'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| A || {{flagicon|North Korea}} Nowhere-ri || 1990\n|}\n",
                                  document: "f.wiki")
        #expect(reading.events.first?.to.rawValue == "KP")
        #expect(reading.events.first?.place == "Nowhere-ri")
    }

    @Test("Place names with diacritics resolve, as do native spellings")
    func diacritics() {
        for place in ["Hà Nội", "Ha Noi", "HÀ NỘI", "Đà Nẵng", "Da Nang"] {
            #expect(Fixtures.gazetteer.country(ofPlace: place)?.rawValue == "VN", "\(place)")
        }
        #expect(Fixtures.gazetteer.country(ofPlace: "Đa Nang")?.rawValue == "VN")
        #expect(Fixtures.gazetteer.country(ofPlace: "Łodz")?.rawValue == "PL")
        #expect(Fixtures.gazetteer.country(ofPlace: "Улаанбаатар")?.rawValue == "MN")
        #expect(Fixtures.gazetteer.country(ofPlace: "Ulaanbaatar")?.rawValue == "MN")
    }

    @Test("Ambassadors: bullets and a table with start and end columns under an ambassadors heading")
    func ambassadors() {
        let text = """
        '''Mongolia–North Korea relations'''
        == Diplomatic missions ==
        === North Korean ambassadors to Mongolia ===
        * [[Hong Gyu]] (2013&ndash;2017)
        * O Sung Ho (2017–)
        === Mongolian ambassadors to North Korea ===
        {| class="wikitable"
        ! Name !! Term start !! Term end
        |-
        | Jamsran Sambuu || 1950 || 1952
        |-
        | Surengiin Tsoggerel || {{dts|2016|3}} || Incumbent
        |-
        | Nobody || never ||
        |}
        """
        let reading = reader.read(text, document: "a.wiki")
        let terms = reading.events.filter { $0.kind == .ambassadorTerm }
        #expect(terms.map(\.guest) == ["Hong Gyu", "O Sung Ho", "Jamsran Sambuu", "Surengiin Tsoggerel"])
        #expect(terms.map(\.date.description) == ["2013/2017", "2017/..", "1950/1952", "2016-03/.."])
        #expect(terms.map { "\($0.from.rawValue)>\($0.to.rawValue)" } == ["KP>MN", "KP>MN", "MN>KP", "MN>KP"])
        #expect(reading.errors.map(\.line) == [14])
    }

    @Test("A heading naming only the sender of ambassadors sends them to the other country of the pair")
    func senderOnlyHeadings() {
        let text = "'''Mongolia–North Korea relations'''\n== Ambassadors ==\n=== Mongolian ambassadors ===\n* A (1990–1995)\n"
            + "=== List of ambassadors of North Korea ===\n{|\n! Name !! Years\n|-\n| B || 2001–2004\n|}\n"
        let terms = reader.read(text, document: "a.wiki").events
        #expect(terms.map { "\($0.guest ?? "") \($0.from.rawValue)>\($0.to.rawValue) \($0.date)" } == ["A MN>KP 1990/1995", "B KP>MN 2001/2004"])
    }

    @Test("The pair from a lead without bold: an infobox or the lead's words")
    func leadWithoutBold() {
        let infobox = "{{Infobox bilateral relations|Mongolia–North Korea|Mongolia|North Korea}}\nSome prose.\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}\n"
        #expect(reader.read(infobox, document: "i.wiki").events.first?.from.rawValue == "MN")
        let named = "{{Infobox bilateral relations\n| mission1 = [[Embassy of Mongolia, Pyongyang|Embassy]] {{small|(x|y)}}\n| map = x.png\n| country1 = Mongolia\n| country2 = North Korea\n}}\nSome prose.\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}\n"
        #expect(reader.read(named, document: "i.wiki").events.first?.from.rawValue == "MN")
        let prose = "The relations between Mongolia and North Korea are old.\n{|\n! Guest !! Place !! Date\n|-\n| A || Ulaanbaatar || 1990\n|}\n"
        #expect(reader.read(prose, document: "p.wiki").events.first?.from.rawValue == "KP")
        let none = reader.read("Nothing here.\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}\n", document: "n.wiki")
        #expect(none.events.isEmpty)
        #expect(none.errors.first?.line == 1)
    }

    @Test("Unbalanced or hostile markup reads without crashing", arguments: [
        "'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| [[A || {{B || Pyongyang\n",
        "{{{{{{{{{{[[[[[[[[<ref><!--\n{|\n|}\n|}\n{|{|{|",
        "'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| rowspan=999999 colspan=99999 | x || Pyongyang || 1990\n|-\n| y\n",
        "'''Mongolia–North Korea relations'''\n{|\n{|\n| nested\n|}\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n",
        "&#xFFFFFFFF; &#0; &#; &; &ndash <ref name=x <br <!-- ",
        String(repeating: "{{x|", count: 3000) + String(repeating: "[[", count: 3000),
        "'''Mongolia–North Korea relations'''\n== [[Broken ==\n{|\n|+\n! !! Date\n|-\n|||| ||\n|}\n* (1990)\n",
    ])
    func hostile(_ text: String) {
        let reading = reader.read(text, document: "h.wiki")
        let lineCount = text.split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(reading.diagnostics.allSatisfy { ($0.line ?? 0) >= 1 && ($0.line ?? 0) <= lineCount })
    }

    @Test("Large hostile tables and tags read in reasonable time")
    func hostileSizes() {
        let wide = "'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n"
            + String(repeating: "|-\n| rowspan=500 colspan=64 | x" + String(repeating: " || y", count: 100) + "\n", count: 300)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            _ = reader.read(wide, document: "w.wiki")
            _ = reader.read("'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| "
                            + String(repeating: "<math>x", count: 20_000) + " || Pyongyang || 1990\n|}\n", document: "m.wiki")
            _ = reader.read(String(repeating: "{{a|\n", count: 5_000), document: "t.wiki")
        }
        #expect(elapsed < .seconds(20))
    }

    @Test("A multi-line ref or comment inside a row keeps the row whole and its line")
    func multiLineRef() {
        let text = "'''Mongolia–North Korea relations'''\n{|\n! Guest !! Place !! Date\n|-\n| A<ref>one\ntwo</ref> || Pyongyang <!-- a\nb --> || 1990\n|}\n"
        let reading = reader.read(text, document: "m.wiki")
        #expect(reading.events.first?.guest == "A")
        #expect(reading.events.first?.source.line == 5)
        #expect(reading.errors.isEmpty)
    }
}

@Suite("Telling wikitext by its content")
struct WikitextDetectionTests {
    @Test("Wikitext is told by its markup whatever the name; articles, JSON Lines and GDELT as before")
    func detection() throws {
        #expect(SourceFormat.detect(path: "page", text: WikitextReaderTests.page) == .wikitext)
        #expect(SourceFormat.detect(path: "page.txt", text: "'''Mongolia–North Korea relations''' are…\n") == .wikitext)
        #expect(SourceFormat.detect(path: "page.txt", text: "{{Short description|x}}\n== History ==\n") == .wikitext)
        #expect(SourceFormat.detect(path: "x.wiki", text: "= Mongolia–North Korea relations =\n") == .wikitext)
        #expect(SourceFormat.detect(path: "x.mediawiki", text: "anything\n") == .wikitext)
        let seed = try String(contentsOfFile: Fixtures.seedPath, encoding: .utf8)
        #expect(SourceFormat.detect(path: "seed.txt", text: seed) == .article)
        #expect(SourceFormat.detect(path: "seed", text: seed) == .article)
        #expect(SourceFormat.detect(path: "a.txt", text: "= A–B relations =\n| Guest | Place | Date |\n| [[A]] | B | 1990 |\n") == .article)
        #expect(SourceFormat.detect(path: "a.txt", text: "Intro.\n= A–B relations =\n| Guest | Place | Date |\n|---|---|---|\n| A | B | 1990 |\n") == .article)
        #expect(SourceFormat.detect(path: "a.txt", text: "Intro.\n{|\n|-\n| A || B\n|}\n") == .wikitext)
        #expect(SourceFormat.detect(path: "a.txt", text: "{\"kind\":\"visit\"}\n") == .jsonl)
        #expect(SourceFormat.detect(path: "a.txt", text: GDELTRow(id: "1").line() + "\n") == .gdelt)
        #expect(SourceFormat.detect(path: "a.csv", text: "'''x'''\n") == .gdelt)
    }

    @Test("A MediaWiki API response in JSON is told as wikitext, and its page read with its title", arguments: [
        #"{"parse":{"title":"Mongolia–North Korea relations","pageid":1,"wikitext":{"*":"Lead.\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}"}}}"#,
        #"{"parse":{"title":"Mongolia–North Korea relations","wikitext":"Lead.\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}"}}"#,
        #"{"batchcomplete":"","query":{"pages":{"7":{"pageid":7,"title":"Mongolia–North Korea relations","revisions":[{"contentmodel":"wikitext","*":"Lead.\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}"}]}}}}"#,
        #"{"query":{"pages":[{"title":"Mongolia–North Korea relations","revisions":[{"slots":{"main":{"content":"Lead.\n{|\n! Guest !! Place !! Date\n|-\n| A || Pyongyang || 1990\n|}"}}}]}]}}"#,
    ])
    func apiResponse(_ response: String) {
        #expect(SourceFormat.detect(path: "page.json", text: response) == .wikitext)
        let reading = SourceLoader(gazetteer: Fixtures.gazetteer).read(text: response, document: "page.json", format: .wikitext)
        #expect(reading.events.map { "\($0.from.rawValue)>\($0.to.rawValue) \($0.date) line \($0.source.line ?? 0)" } == ["MN>KP 1990 line 5"])
        #expect(reading.errors.isEmpty)
        #expect(SourceFormat.detect(path: "events.json", text: #"{"kind":"visit","date":"1990","from":"MN","to":"KP","description":"a \"query\""}"#) == .jsonl)
    }

    @Test("SourceLoader reads a wikitext file told by its content")
    func loads() throws {
        let loader = SourceLoader(gazetteer: Fixtures.gazetteer)
        let reading = loader.read(text: WikitextReaderTests.page, document: "p", format: SourceFormat.detect(path: "p", text: WikitextReaderTests.page))
        #expect(reading.events.count == 6)
    }
}
