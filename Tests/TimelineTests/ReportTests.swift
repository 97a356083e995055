import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Timeline

/// Visits in both directions across four decades, plus two events of other kinds.
///
/// Per decade: 1950s KP->MN 2, MN->KP 1; 1960s KP->MN 2; 1980s MN->KP 1; 2010s MN->KP 1.
private let sampleEvents: [TimelineEvent] = {
    func code(_ text: String) -> CountryCode { CountryCode(text)! }
    func event(_ kind: EventKind, _ date: String, _ from: String, _ to: String, _ guest: String) -> TimelineEvent {
        TimelineEvent(kind: kind, date: EDTFDate(edtf: date)!, from: code(from), to: code(to), guest: guest,
                      source: Provenance(document: "report-tests"))
    }
    return [
        event(.visit, "1956", "MN", "KP", "a"),
        event(.visit, "1956-07-16/1956-07-18", "KP", "MN", "b"),
        event(.visit, "1959", "KP", "MN", "c"),
        event(.visit, "1961", "KP", "MN", "d"),
        event(.visit, "1962-03", "KP", "MN", "e"),
        event(.visit, "1988", "MN", "KP", "f"),
        event(.visit, "2017/..", "MN", "KP", "g"),
        event(.aid, "1952", "MN", "KP", "h"),
        event(.relationsEstablished, "1948-10-15", "KP", "MN", "i"),
    ]
}()

private let sample = Report(title: "Mongolia–North Korea relations", statistics: Statistics(events: sampleEvents),
                            generatedAt: "2025-05-01T12:00:00Z", position: ["sequence": 1234, "epoch": 2])

private let names: [CountryCode: String] = [CountryCode("MN")!: "Mongolia", CountryCode("KP")!: "North Korea"]

private let empty = Report(title: "Timeline statistics", statistics: Statistics())

@Suite("Reports")
struct ReportTests {
    // MARK: JSON

    @Test("JSON parses back with the exact totals, decade, direction, year and kind counts")
    func jsonRoundTrip() throws {
        let data = Data(sample.render(.json).utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["totalEvents"] as? Int == 9)
        #expect(object["totalVisits"] as? Int == 7)
        #expect(object["title"] as? String == "Mongolia–North Korea relations")
        #expect(object["generatedAt"] as? String == "2025-05-01T12:00:00Z")
        #expect(object["position"] as? [String: Int] == ["sequence": 1234, "epoch": 2])

        let decades = try #require(object["visitsByDecade"] as? [[String: Any]])
        let decadeRows = decades.map { "\($0["decade"] as? Int ?? -1) \($0["from"] as? String ?? "?") \($0["to"] as? String ?? "?") \($0["count"] as? Int ?? -1)" }
        #expect(decadeRows == ["1950 KP MN 2", "1950 MN KP 1", "1960 KP MN 2", "1980 MN KP 1", "2010 MN KP 1"])
        #expect(decades.allSatisfy { Set($0.keys) == ["decade", "from", "to", "count"] })

        let years = try #require(object["visitsByYear"] as? [[String: Any]])
        let yearRows = years.map { "\($0["year"] as? Int ?? -1) \($0["from"] as? String ?? "?") \($0["to"] as? String ?? "?") \($0["count"] as? Int ?? -1)" }
        #expect(yearRows == ["1956 KP MN 1", "1956 MN KP 1", "1959 KP MN 1", "1961 KP MN 1", "1962 KP MN 1", "1988 MN KP 1", "2017 MN KP 1"])

        let directions = try #require(object["visitsByDirection"] as? [[String: Any]])
        let directionRows = directions.map { "\($0["from"] as? String ?? "?") \($0["to"] as? String ?? "?") \($0["count"] as? Int ?? -1)" }
        #expect(directionRows == ["KP MN 4", "MN KP 3"])

        #expect(object["eventsByKind"] as? [String: Int] == ["aid": 1, "relations_established": 1, "visit": 7])
    }

    @Test("JSON is laid out exactly: sorted keys at every level, two-space indent, trailing newline")
    func jsonLayout() {
        let one = TimelineEvent(kind: .visit, date: EDTFDate(edtf: "1956")!, from: CountryCode("MN")!, to: CountryCode("KP")!,
                                source: Provenance(document: "t"))
        let report = Report(title: "A \"quoted\" title", statistics: Statistics(events: [one]), position: ["sequence": 1])
        #expect(report.render(.json) == """
        {
          "eventsByKind": {
            "visit": 1
          },
          "position": {
            "sequence": 1
          },
          "title": "A \\"quoted\\" title",
          "totalEvents": 1,
          "totalVisits": 1,
          "visitsByDecade": [
            {
              "count": 1,
              "decade": 1950,
              "from": "MN",
              "to": "KP"
            }
          ],
          "visitsByDirection": [
            {
              "count": 1,
              "from": "MN",
              "to": "KP"
            }
          ],
          "visitsByYear": [
            {
              "count": 1,
              "from": "MN",
              "to": "KP",
              "year": 1956
            }
          ]
        }

        """)
    }

    @Test("JSON written in pieces is the rendered JSON without its final newline", arguments: [16, 1 << 16])
    func jsonInPieces(pieceSize: Int) {
        let many = Report(title: "Many rows", statistics: Statistics(events: SyntheticEvents.events(count: 3_000, seed: 2)),
                          generatedAt: "2025-05-01T12:00:00Z", position: ["sequence": 3_000])
        for report in [sample, empty, many] {
            var pieces: [String] = []
            report.writeJSON(pieceSize: pieceSize) { pieces.append($0) }
            #expect(pieces.joined() + "\n" == report.render(.json))
            if pieceSize == 16, report.statistics.totalVisits > 0 { #expect(pieces.count > 3) }
        }
    }

    @Test("JSON of empty statistics has zero totals, empty arrays, and no generatedAt when none was given")
    func jsonEmpty() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(empty.render(.json).utf8)) as? [String: Any])
        #expect(object["totalVisits"] as? Int == 0)
        #expect(object["totalEvents"] as? Int == 0)
        #expect((object["visitsByDecade"] as? [Any])?.isEmpty == true)
        #expect((object["visitsByYear"] as? [Any])?.isEmpty == true)
        #expect((object["visitsByDirection"] as? [Any])?.isEmpty == true)
        #expect((object["eventsByKind"] as? [String: Any])?.isEmpty == true)
        #expect(object["generatedAt"] == nil)
        #expect((object["position"] as? [String: Any])?.isEmpty == true)
    }

    // MARK: CSV

    @Test("CSV is the fixed header then one CRLF-terminated record per count")
    func csvRows() {
        #expect(sample.render(.csv) == [
            "section,key,from,to,count",
            "total_events,,,,9",
            "total_visits,,,,7",
            "direction,,KP,MN,4",
            "direction,,MN,KP,3",
            "decade,1950,KP,MN,2",
            "decade,1950,MN,KP,1",
            "decade,1960,KP,MN,2",
            "decade,1980,MN,KP,1",
            "decade,2010,MN,KP,1",
            "year,1956,KP,MN,1",
            "year,1956,MN,KP,1",
            "year,1959,KP,MN,1",
            "year,1961,KP,MN,1",
            "year,1962,KP,MN,1",
            "year,1988,MN,KP,1",
            "year,2017,MN,KP,1",
            "kind,aid,,,1",
            "kind,relations_established,,,1",
            "kind,visit,,,7",
        ].map { $0 + "\r\n" }.joined())
    }

    @Test("CSV of empty statistics is the header and two zero totals")
    func csvEmpty() {
        #expect(empty.render(.csv) == "section,key,from,to,count\r\ntotal_events,,,,0\r\ntotal_visits,,,,0\r\n")
    }

    @Test("CSV fields with a comma, quote or line break are quoted with quotes doubled", arguments: [
        ("plain", "plain"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""), ("two\nlines", "\"two\nlines\""),
        ("cr\r", "\"cr\r\""), ("", ""),
    ])
    func csvQuoting(field: String, written: String) {
        #expect(Report.csvField(field) == written)
    }

    // MARK: Markdown

    @Test("Markdown has a pipe-table row for each decade with the count per direction and the total")
    func markdownDecades() {
        let markdown = sample.render(.markdown)
        #expect(markdown.hasPrefix("# Mongolia–North Korea relations\n"))
        let table = """
        ## Visits by decade

        | Decade | KP -> MN | MN -> KP | Total |
        | --- | ---: | ---: | ---: |
        | 1950s | 2 | 1 | 3 |
        | 1960s | 2 | 0 | 2 |
        | 1980s | 0 | 1 | 1 |
        | 2010s | 0 | 1 | 1 |

        """
        #expect(markdown.contains(table))
        #expect(markdown.contains("| Events | 9 |\n| Visits | 7 |"))
        #expect(markdown.contains("| aid | 1 |\n| relations_established | 1 |\n| visit | 7 |"))
        #expect(markdown.contains("| 1962 | 1 | 0 | 1 |"))
    }

    @Test("Markdown escapes pipes and markup in text so a title cannot break a table or a page")
    func markdownEscaping() {
        let report = Report(title: "a | b <script>", statistics: Statistics(events: sampleEvents),
                            countryNames: [CountryCode("MN")!: "Mon|golia"])
        let markdown = report.render(.markdown)
        #expect(markdown.hasPrefix("# a \\| b &lt;script>\n"))
        #expect(markdown.contains("| Mon\\|golia -> KP | 3 |"))
    }

    // MARK: Text

    @Test("Text aligns each table: labels on the left, numbers on the right, columns two spaces apart")
    func textAlignment() throws {
        let lines = sample.render(.text).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let decadeTable = [
            "Visits by decade",
            "----------------",
            "Decade  KP -> MN  MN -> KP  Total",
            "------  --------  --------  -----",
            "1950s          2         1      3",
            "1960s          2         0      2",
            "1980s          0         1      1",
            "2010s          0         1      1",
        ]
        let start = try #require(lines.firstIndex(of: "Visits by decade"))
        #expect(Array(lines[start..<min(start + decadeTable.count, lines.count)]) == decadeTable)
        #expect(lines.starts(with: ["Mongolia–North Korea relations", "==============================",
                                    "Generated at: 2025-05-01T12:00:00Z", "Position: epoch 2, sequence 1234"]))
        #expect(lines.contains("Events       9"))
        #expect(lines.contains("relations_established       1"))
        #expect(lines.last == "", "the text ends with a newline")
    }

    @Test("Country names replace codes in the human-readable formats but not in CSV or JSON")
    func countryNames() {
        var report = sample
        report.title = "Relations"
        report.countryNames = names
        let text = report.render(.text)
        #expect(text.contains("North Korea -> Mongolia       4\nMongolia -> North Korea       3\n"))
        #expect(report.render(.markdown).contains("| Decade | North Korea -> Mongolia | Mongolia -> North Korea | Total |"))
        #expect(report.render(.html).contains("<title>1950s North Korea -&gt; Mongolia: 2</title>"))
        #expect(!report.render(.csv).contains("Mongolia"))
        #expect(!report.render(.json).contains("Mongolia"))
    }

    // MARK: HTML

    @Test("The HTML page has one SVG chart, well-formed XML, with one bar per decade and direction that has visits")
    func htmlChartBars() throws {
        let html = sample.render(.html)
        #expect(html.components(separatedBy: "<svg").count == 2)
        let svg = try #require(Self.svg(in: html))
        let collector = SVGCollector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        #expect(parser.parse(), "SVG is not well-formed: \(String(describing: parser.parserError))")

        let bars = collector.elements.filter { $0.name == "rect" && $0.attributes["class"] == "bar" }
        let described = bars.map { "\($0.attributes["data-decade"] ?? "?") \($0.attributes["data-from"] ?? "?") \($0.attributes["data-to"] ?? "?") \($0.attributes["data-count"] ?? "?")" }
        #expect(described == ["1950 KP MN 2", "1950 MN KP 1", "1960 KP MN 2", "1980 MN KP 1", "2010 MN KP 1"])
        #expect(collector.titles == ["1950s KP -> MN: 2", "1950s MN -> KP: 1", "1960s KP -> MN: 2", "1980s MN -> KP: 1", "2010s MN -> KP: 1"])

        // Each direction has its own fill, and bars of a direction share it.
        var fills: [String: Set<String>] = [:]
        for bar in bars { fills["\(bar.attributes["data-from"] ?? "")\(bar.attributes["data-to"] ?? "")", default: []].insert(bar.attributes["fill"] ?? "") }
        #expect(fills.values.allSatisfy { $0.count == 1 })
        #expect(Set(fills.values.flatMap { $0 }).count == 2)

        // Heights are proportional to counts: a 2 is twice a 1.
        let heights = bars.compactMap { $0.attributes["height"].flatMap(Double.init) }
        #expect(heights == [200, 100, 200, 100, 100])
    }

    @Test("The chart has a legend naming each direction, whole-number ticks from zero to the axis top, and every decade in its span")
    func htmlChartAxisAndLegend() throws {
        let svg = try #require(Self.svg(in: sample.render(.html)))
        let collector = SVGCollector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        #expect(parser.parse())
        #expect(collector.texts(ofClass: "legend") == ["KP -> MN", "MN -> KP"])
        #expect(collector.texts(ofClass: "tick") == ["0", "1", "2"])
        // Decades without visits between the first and the last keep their place on the axis.
        #expect(collector.texts(ofClass: "decade") == ["1950s", "1960s", "1970s", "1980s", "1990s", "2000s", "2010s"])
        #expect(collector.texts(ofClass: "axis-title") == ["Visits"])
        #expect(collector.elements.filter { $0.attributes["class"] == "swatch" }.count == 2)
        #expect(!svg.contains("NaN") && !svg.contains("inf"))
    }

    @Test("Tick steps are 1, 2 or 5 times a power of ten, covering the largest count in at most five steps", arguments: [
        (1, 1), (5, 1), (6, 2), (10, 2), (11, 5), (25, 5), (26, 10), (120, 50), (5000, 1000),
    ])
    func tickSteps(maximum: Int, step: Int) {
        #expect(DecadeChart.tickStep(forMaximum: maximum) == step)
    }

    @Test("The HTML page carries the title, totals and every table")
    func htmlContent() {
        let html = sample.render(.html)
        #expect(html.hasPrefix("<!DOCTYPE html>\n"))
        #expect(html.contains("<title>Mongolia–North Korea relations</title>"))
        #expect(html.contains("<h1>Mongolia–North Korea relations</h1>"))
        #expect(html.contains("<tr><td>Events</td><td class=\"num\">9</td></tr>"))
        #expect(html.contains("<tr><td>Visits</td><td class=\"num\">7</td></tr>"))
        #expect(html.contains("<tr><td>1950s</td><td class=\"num\">2</td><td class=\"num\">1</td><td class=\"num\">3</td></tr>"))
        #expect(html.contains("<tr><td>KP -&gt; MN</td><td class=\"num\">4</td></tr>"))
        #expect(html.contains("<tr><td>relations_established</td><td class=\"num\">1</td></tr>"))
        #expect(html.contains("<tr><td>2017</td><td class=\"num\">0</td><td class=\"num\">1</td><td class=\"num\">1</td></tr>"))
        #expect(html.contains("Position: epoch 2, sequence 1234"))
        #expect(html.hasSuffix("</html>\n"))
    }

    @Test("HTML escapes &, <, >, quotes and apostrophes in every piece of caller text")
    func htmlEscaping() {
        let report = Report(title: "<script>alert('x') & \"y\"</script>", statistics: Statistics(events: sampleEvents),
                            generatedAt: "<b>now</b>", position: ["<i>": 1],
                            countryNames: [CountryCode("MN")!: "Mongolia <&>"])
        let html = report.render(.html)
        #expect(!html.contains("<script"))
        #expect(!html.contains("<b>") && !html.contains("<i>"))
        #expect(html.contains("<h1>&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;</h1>"))
        #expect(html.contains("Mongolia &lt;&amp;&gt; -&gt; KP"))
        let svg = Self.svg(in: html) ?? ""
        #expect(XMLParser(data: Data(svg.utf8)).parse(), "escaped names keep the SVG well-formed")
    }

    @Test("The HTML page is self-contained: no links, scripts, external sources or URLs")
    func htmlSelfContained() {
        var report = sample
        report.countryNames = names
        let html = report.render(.html).lowercased()
        for forbidden in ["http", "src=", "href", "url(", "@import", "<link", "<script", "<img", "<iframe"] {
            #expect(!html.contains(forbidden), "found \(forbidden)")
        }
        #expect(html.contains("<style>"))
    }

    // MARK: Empty statistics and determinism

    @Test("Empty statistics render in every format without NaN or infinities", arguments: ReportFormat.allCases)
    func emptyRenders(format: ReportFormat) {
        let output = empty.render(format)
        #expect(output.utf8.last == UInt8(ascii: "\n"))
        #expect(!output.contains("NaN") && !output.contains("nan") && !output.contains("inf"))
        switch format {
        case .text, .markdown:
            #expect(output.contains("No visits recorded."))
            #expect(output.contains("No events recorded."))
        case .html:
            #expect(output.contains("No visits recorded."))
            #expect(!output.contains("<svg"))
        case .csv, .json:
            #expect(!output.contains("No visits"))
        }
    }

    @Test("The same counts give the same bytes in every format, whatever order the events came in", arguments: ReportFormat.allCases)
    func deterministic(format: ReportFormat) {
        var reversed = sample
        reversed.statistics = Statistics(events: sampleEvents.reversed())
        var merged = sample
        merged.statistics = Statistics(events: sampleEvents.suffix(4))
        merged.statistics.merge(Statistics(events: sampleEvents.prefix(5)))
        #expect(reversed.render(format) == sample.render(format))
        #expect(merged.render(format) == sample.render(format))
    }

    @Test("Every format has a distinct file extension")
    func fileExtensions() {
        #expect(ReportFormat.allCases.map(\.fileExtension) == ["txt", "md", "csv", "json", "html"])
    }

    // MARK: Helpers

    static func svg(in html: String) -> String? {
        guard let start = html.range(of: "<svg"), let end = html.range(of: "</svg>", range: start.upperBound..<html.endIndex) else { return nil }
        return String(html[start.lowerBound..<end.upperBound])
    }
}

/// Records the elements of an XML document with their attributes, and the text inside each.
private final class SVGCollector: NSObject, XMLParserDelegate {
    struct Element {
        var name: String
        var attributes: [String: String]
        var text = ""
    }

    var elements: [Element] = []
    private var open: [Int] = []
    /// The text of each `<title>`, in document order.
    var titles: [String] { elements.filter { $0.name == "title" }.map(\.text) }

    func texts(ofClass name: String) -> [String] {
        elements.filter { $0.name == "text" && $0.attributes["class"] == name }.map(\.text)
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        elements.append(Element(name: elementName, attributes: attributeDict))
        open.append(elements.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        open.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let innermost = open.last { elements[innermost].text += string }
    }
}
