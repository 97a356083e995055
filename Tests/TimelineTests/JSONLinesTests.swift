import Testing
@testable import Timeline

@Suite("The JSON Lines form of events")
struct JSONLinesTests {
    @Test("An event survives encoding and decoding unchanged, id included")
    func roundTrip() throws {
        let event = TimelineEvent(kind: .visit, date: Fixtures.date("1956-07-16/1956-07-18"), from: Fixtures.code("KP"),
                                  to: Fixtures.code("MN"), guest: "Premier \"Kim\" Il Sung", host: "Chairman\tTsedenbal",
                                  place: "Ulaanbaatar", description: "line\nbreak \u{1}",
                                  source: Provenance(document: "seed.txt", section: "Visits", line: 31, row: 2))
        let line = EventJSON.encode(event)
        #expect(!line.contains("\n"))
        let decoded = try EventJSON.decode(line, fallbackSource: Provenance(document: "other"))
        #expect(decoded == event)
    }

    @Test("The contract's fields are present, with null for absent values")
    func contractFields() {
        let line = EventJSON.encode(TimelineEvent(kind: .aid, date: Fixtures.date("1952"), from: Fixtures.code("MN"),
                                                  to: Fixtures.code("KP"), source: Provenance(document: "d")))
        for key in ["\"id\":", "\"kind\":\"aid\"", "\"date\":\"1952\"", "\"from\":\"MN\"", "\"to\":\"KP\"", "\"guest\":null",
                    "\"host\":null", "\"place\":null", "\"source\":{\"document\":\"d\""] {
            #expect(line.contains(key), "missing \(key) in \(line)")
        }
    }

    @Test("An input record without an id gets the id its facts derive")
    func derivedID() throws {
        let decoded = try EventJSON.decode(#"{"kind":"visit","date":"1985","from":"KP","to":"MN","guest":"G"}"#,
                                           fallbackSource: Provenance(document: "f.jsonl", line: 4))
        #expect(decoded.id == Fixtures.visit("1985", "KP", "MN", guest: "G").id)
        #expect(decoded.source == Provenance(document: "f.jsonl", line: 4))
        #expect(decoded.cameo == "042")
    }

    @Test("A bad record names the key at fault", arguments: [
        (#"{"kind":"parade","date":"1985","from":"KP","to":"MN"}"#, "kind"),
        (#"{"kind":"visit","date":"1985-13","from":"KP","to":"MN"}"#, "date"),
        (#"{"kind":"visit","date":"1985","from":"North Korea","to":"MN"}"#, "from"),
        (#"{"kind":"visit","date":"1985","from":"KP"}"#, "to"),
        (#"{"kind":"visit","date":1985,"from":"KP","to":"MN"}"#, "date"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","guset":"x"}"#, "guset"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","id":"has space"}"#, "id"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","source":{"document":"d","line":-1}}"#, "source.line"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","cameo":"x42"}"#, "cameo"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","guest":"\#(String(repeating: "x", count: 501))"}"#, "guest"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","source":{"document":"d","section":7}}"#, "source.section"),
        (#"{"kind":"visit","date":"99999","from":"KP","to":"MN"}"#, "date"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","source":{"document":"d","row":true}}"#, "source.row"),
        (#"{"kind":"visit","date":"1985","from":"KP","to":"MN","source":{"document":"d","line":1.5}}"#, "source.line"),
    ])
    func badRecordNamesKey(line: String, key: String) {
        do {
            _ = try EventJSON.decode(line, fallbackSource: Provenance(document: "f"))
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.key == key)
        }
    }

    @Test("A document keeps its good lines, reports each bad line by number and counts repeats once")
    func readDocument() {
        let text = """
        # a comment
        {"kind":"visit","date":"1985","from":"KP","to":"MN","guest":"A"}
        not json

        {"kind":"visit","date":"1986","from":"MN","to":"KP","guest":"B"}
        [1, 2]
        {"kind":"visit","date":"1985","from":"KP","to":"MN","guest":"A"}
        """
        let reading = EventJSON.read(text, document: "f.jsonl")
        #expect(reading.events.map(\.guest) == ["A", "B"])
        #expect(reading.errors.map(\.line) == [3, 6])
        #expect(reading.errors.allSatisfy { $0.file == "f.jsonl" })
        #expect(reading.diagnostics.contains { $0.severity == .note && $0.line == 7 })
    }
}

@Suite("The fast path for the encoder's own layout")
struct EventJSONFastPathTests {
    static let events: [TimelineEvent] = SyntheticEvents.events(count: 300, seed: 4) + [
        TimelineEvent(kind: .visit, date: EDTFDate(edtf: "1956-07-16/1956-07-18")!, from: CountryCode("KP")!, to: CountryCode("MN")!,
                      guest: "Premier \"Kim\" Il Sung\\", host: "Chairman\tTsedenbal", place: "Ulaanbaatar — Улаанбаатар",
                      description: "line\nbreak \u{1} \r end", source: Provenance(document: "seed.txt", section: "Visits", line: 31, row: 2)),
        TimelineEvent(kind: .ambassadorTerm, date: EDTFDate(edtf: "2017/..")!, from: CountryCode("KP")!, to: CountryCode("MN")!,
                      guest: "O Sung Ho", source: Provenance(document: "d")),
        TimelineEvent(kind: .aid, date: EDTFDate(edtf: "096X/097X")!, from: CountryCode("MN")!, to: CountryCode("KP")!,
                      source: Provenance(document: "d", line: 0)),
    ]

    @Test("Every encoded event takes the fast path and decodes to the event the general decoder gives")
    func agreesWithTheGeneralDecoder() throws {
        for event in Self.events {
            let line = EventJSON.encode(event)
            var text = line
            let fast = try #require(text.withUTF8 { EventJSONFastPath.decode($0) }, "no fast path for \(line)")
            #expect(fast == event)
        }
    }

    @Test("The summary of a record is the decoded event's, on the fast path and off it")
    func summaryOfARecord() throws {
        let offLayout = #"{ "id":"given-1","kind":"aid","date":"1985","from":"KP","to":"MN","guest":"\u00e9"}"#
        var lines = Self.events.map(EventJSON.encode)
        lines.append(offLayout)
        for line in lines {
            let summary = try Array(line.utf8).withUnsafeBytes { try EventJSON.summary(of: $0) }
            #expect(summary == EventSummary(try EventJSON.decode(line, fallbackSource: Provenance(document: "f"))))
        }
        #expect(throws: EventDecodingError.self) { try Array("{\"kind\":\"visit\"}".utf8).withUnsafeBytes { try EventJSON.summary(of: $0) } }
    }

    @Test("Anything off the exact layout falls back to the general decoder, which gives the same answer or the same error", arguments: [
        #"{"kind":"visit","date":"1985","from":"KP","to":"MN"}"#,
        #"{ "id":"abc","kind":"visit","date":"1985","from":"KP","to":"MN","guest":null,"host":null,"place":null,"description":null,"cameo":null,"source":{"document":"d","section":null,"line":null,"row":null}}"#,
        #"{"id":"abc","kind":"visit","date":"1985","from":"kp","to":"MN","guest":null,"host":null,"place":null,"description":null,"cameo":null,"source":{"document":"d","section":null,"line":null,"row":null}}"#,
        #"{"id":"abc","kind":"visit","date":"1985-02-30","from":"KP","to":"MN","guest":null,"host":null,"place":null,"description":null,"cameo":null,"source":{"document":"d","section":null,"line":null,"row":null}}"#,
        #"{"id":"abc","kind":"visit","date":"1985","from":"KP","to":"MN","guest":"\u00e9","host":null,"place":null,"description":null,"cameo":null,"source":{"document":"d","section":null,"line":null,"row":null}}"#,
        #"{"id":"abc","kind":"visit","date":"1985","from":"KP","to":"MN","guest":null,"host":null,"place":null,"description":null,"cameo":"x1","source":{"document":"d","section":null,"line":null,"row":null}}"#,
        #"{"id":"abc","kind":"visit","date":"1985","from":"KP","to":"MN","guest":null,"host":null,"place":null,"description":null,"cameo":null,"source":{"document":"","section":null,"line":null,"row":null}}"#,
        #"{"id":"abc","kind":"visit","date":"1985","from":"KP","to":"MN","guest":null,"host":null,"place":null,"description":null,"cameo":null,"source":{"document":"d","section":null,"line":007,"row":null}}"#,
        #"{"id":"abc","kind":"visit","date":"1985","from":"KP","to":"MN","guest":null,"host":null,"place":null,"description":null,"cameo":null,"source":{"document":"d","section":null,"line":null,"row":null}} "#,
    ])
    func fallsBack(line: String) {
        var text = line
        let fast = text.withUTF8 { EventJSONFastPath.decode($0) }
        let general = try? EventJSON.decode(line, fallbackSource: Provenance(document: "f"))
        if let fast { #expect(fast == general) }
    }
}
