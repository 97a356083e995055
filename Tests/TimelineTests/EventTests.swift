import Testing
import Timeline

@Suite("Events and their ids")
struct EventTests {
    @Test("The same facts give the same id, whatever the description and provenance")
    func idIsContentDerived() {
        let a = TimelineEvent(kind: .visit, date: Fixtures.date("1985"), from: Fixtures.code("KP"), to: Fixtures.code("MN"),
                              guest: "Chairman Kim Yong-nam", host: "Chairman Jambyn Batmönkh", place: "Ulaanbaatar",
                              description: "first", source: Provenance(document: "a.txt", line: 3))
        let b = TimelineEvent(kind: .visit, date: Fixtures.date("1985"), from: Fixtures.code("KP"), to: Fixtures.code("MN"),
                              guest: "chairman  Kim Yong-nam ", host: "Chairman Jambyn Batmönkh", place: "ULAANBAATAR",
                              description: "second", source: Provenance(document: "b.jsonl", line: 9))
        #expect(a.id == b.id)
        #expect(a.id.count == 32)
    }

    @Test("Different facts give different ids")
    func differentFactsDifferentIDs() {
        let base = Fixtures.visit("1985", "KP", "MN")
        #expect(base.id != Fixtures.visit("1986", "KP", "MN").id)
        #expect(base.id != Fixtures.visit("1985", "MN", "KP").id)
        #expect(base.id != Fixtures.visit("1985", "KP", "MN", guest: "Someone else").id)
        #expect(base.id != Fixtures.visit("1985", "KP", "MN", place: "Erdenet").id)
    }

    @Test("The topic is kind, then guest country, then host country")
    func topic() {
        #expect(Fixtures.visit("1956", "MN", "KP").topic == "visit.MN.KP")
    }

    @Test("Source-given ids are limited to a safe alphabet and length", arguments: [
        ("abc-123_x.y:z", true), ("", false), (String(repeating: "a", count: 65), false), ("has space", false), ("é", false),
    ])
    func idAlphabet(id: String, valid: Bool) {
        #expect(EventID.isValid(id) == valid)
    }

    @Test("Country codes take two ASCII letters and fold to upper case")
    func countryCodes() {
        #expect(CountryCode("mn")?.rawValue == "MN")
        #expect(CountryCode("MNG") == nil)
        #expect(CountryCode("M1") == nil)
        #expect(CountryCode("") == nil)
    }
}
