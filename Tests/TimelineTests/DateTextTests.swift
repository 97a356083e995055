import Testing
import Timeline

@Suite("Reading dates written in prose")
struct DateTextTests {
    @Test("Every date style in the seed article and its ambassador lists becomes the exact EDTF", arguments: [
        ("1956", "1956"),
        ("16-18 July 1956", "1956-07-16/1956-07-18"),
        ("14 July 1971", "1971-07-14"),
        ("21 December 1974", "1974-12-21"),
        ("October 15, 1948", "1948-10-15"),
        ("July 2007", "2007-07"),
        ("2013–2017", "2013/2017"),
        ("2017–", "2017/.."),
        ("1960–1970s", "1960/197X"),
    ])
    func seedStyles(text: String, edtf: String) throws {
        #expect(try DateText.parse(text).description == edtf)
    }

    @Test("Other Wikipedia date styles parse to the precision they give", arguments: [
        ("16–18 July 1956", "1956-07-16/1956-07-18"),
        ("July 16–18, 1956", "1956-07-16/1956-07-18"),
        ("July 16-18, 1956", "1956-07-16/1956-07-18"),
        ("30 June – 2 July 1956", "1956-06-30/1956-07-02"),
        ("June 30 – July 2, 1956", "1956-06-30/1956-07-02"),
        ("30 December 1956 – 2 January 1957", "1956-12-30/1957-01-02"),
        ("December 30, 1956 – January 2, 1957", "1956-12-30/1957-01-02"),
        ("March–April 1960", "1960-03/1960-04"),
        ("1950–52", "1950/1952"),
        ("1998–03", "1998/2003"),
        ("2017–present", "2017/.."),
        ("since 2017", "2017/.."),
        ("1970s", "197X"),
        ("Sept 5, 2001", "2001-09-05"),
        ("5th September 2001", "2001-09-05"),
        ("1974-12-21", "1974-12-21"),
        ("2007-07", "2007-07"),
        ("1956[3]", "1956"),
        ("12 May 1999 to 14 May 1999", "1999-05-12/1999-05-14"),
        ("7–7 May 1999", "1999-05-07"),
    ])
    func otherStyles(text: String, edtf: String) throws {
        #expect(try DateText.parse(text).description == edtf)
    }

    @Test("Text that is not a date, or a day that does not exist, is rejected with a reason", arguments: [
        "", "July", "31 February 1956", "c. 1956", "18–16 July 1956", "1956 1957", "mid-1980s", "2001–2002–2003", "32 May 1999",
    ])
    func rejects(text: String) {
        #expect(throws: DateTextError.self) { try DateText.parse(text) }
    }

    @Test("A rejection names the text and the reason")
    func rejectionIsExplained() {
        do {
            _ = try DateText.parse("31 February 1956")
            Issue.record("31 February 1956 was accepted")
        } catch {
            #expect(error.text == "31 February 1956")
            #expect(error.description.contains("no such day"))
        }
    }
}

@Suite("EDTF dates")
struct EDTFDateTests {
    @Test("A date's text appended as bytes is its description's UTF-8, at every precision, padding and open end")
    func appendedTextIsTheDescription() {
        var dates: [EDTFDate] = []
        for year in [-9999, -950, -5, 0, 7, 99, 999, 1000, 1956, 2026, 9999] {
            let day = PartialDate(year: year, month: 2, day: 9)!, month = PartialDate(year: year, month: 12)!, whole = PartialDate(year: year)!
            dates += [.single(whole), .single(month), .single(day), .interval(start: whole, end: nil), .interval(start: nil, end: day),
                      .interval(start: month, end: PartialDate(year: 9999)!)]
        }
        for decade in [0, 10, 90, 100, 1970, 9990] { dates.append(.single(PartialDate(decade: decade)!)) }
        dates.append(.interval(start: nil, end: nil))
        for date in dates {
            var bytes: [UInt8] = [0x7B]
            date.appendText(to: &bytes)
            #expect(bytes == [0x7B] + Array(date.description.utf8), "\(date)")
        }
    }

    @Test("EDTF strings round-trip", arguments: ["1956", "2007-07", "1974-12-21", "1956-07-16/1956-07-18", "2017/..", "../1999", "197X", "196X/197X", "-0044"])
    func roundTrip(text: String) throws {
        let date = try #require(EDTFDate(edtf: text))
        #expect(date.description == text)
    }

    @Test("Malformed EDTF is rejected", arguments: ["", "56", "1956-13", "1956-02-30", "1956-7-1", "2017/2016", "../..", "1956/", "abcd", "1956-07-16T10:00"])
    func rejects(text: String) {
        #expect(EDTFDate(edtf: text) == nil)
    }

    @Test("Precision and first year are those of the start, or of the end for an open start")
    func precisionAndYear() throws {
        #expect(try #require(EDTFDate(edtf: "2007-07")).precision == .month)
        #expect(try #require(EDTFDate(edtf: "1956-07-16/1956-07-18")).precision == .day)
        #expect(try #require(EDTFDate(edtf: "../1999")).year == 1999)
        #expect(try #require(EDTFDate(edtf: "197X")).year == 1970)
        #expect(try #require(EDTFDate(edtf: "197X")).precision == .decade)
    }

    @Test("Dates order by when they start")
    func ordering() {
        let dates = ["1974-12-21", "1956", "1956-07-16/1956-07-18", "2017/..", "1948-10-15"].map { EDTFDate(edtf: $0)! }
        #expect(dates.sorted().map(\.description) == ["1948-10-15", "1956", "1956-07-16/1956-07-18", "1974-12-21", "2017/.."])
    }
}
