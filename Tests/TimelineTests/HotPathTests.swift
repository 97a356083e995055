import Foundation
import Testing
@testable import Timeline

/// The byte-level code on the producer's, broker's and aggregator's hot paths must give exactly what
/// the general code gives.
@Suite("Hot-path encoding, scanning and normalising")
struct HotPathTests {
    static let events = EventJSONFastPathTests.events

    @Test("The byte encoder writes standard JSON: Foundation's parser reads back the same event")
    func encoderWritesStandardJSON() throws {
        for event in Self.events {
            var bytes: [UInt8] = [0xFF, 0xFF]
            EventJSON.encode(event, into: &bytes)
            #expect(bytes.first == UInt8(ascii: "{"), "the buffer was not cleared first")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            let decoded = try EventJSON.decode(object, fallbackSource: Provenance(document: "unused"))
            #expect(decoded == event)
        }
    }

    @Test("Control characters are written as the escapes JSON allows, in lower-case hex")
    func escapes() {
        var out: [UInt8] = []
        EventJSON.appendString("a\"b\\c\nd\re\tf\u{1}g\u{1F}h é", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\"b\\c\nd\re\tf\u0001g\u001fh é""#)
    }

    @Test("Integers are written in decimal, with a sign when negative and null when absent")
    func integers() {
        for value in [0, 7, 10, 31, 1_000_000, Int.max, -5, Int.min] {
            var out: [UInt8] = []
            EventJSON.appendInteger(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == String(value))
        }
        var out: [UInt8] = []
        EventJSON.appendInteger(nil, to: &out)
        #expect(out == Array("null".utf8))
    }

    @Test("A summary holds the key, kind, year and direction of the event the body decodes to")
    func summaryMatchesTheDecodedEvent() throws {
        for event in Self.events {
            let frames = WireMessage(header: WireHeader(producer: "p"), event: event).frames()
            let summary = try frames[0].withUnsafeBytes { topic in
                try frames[2].withUnsafeBytes { body in try WireMessage.summarise(topic: topic, header: WireHeader(), body: body) }
            }
            #expect(summary == EventSummary(event))
        }
    }

    @Test("Validation, summary and decoding agree on rejecting a body on the wrong topic or off the layout")
    func wrongTopicIsRejectedEverywhere() throws {
        let event = Self.events[0]
        let body = Array(EventJSON.encode(event).utf8)
        for topic in ["visit.MN.K", "visit.XX.YY", "", "visits.MN.KP.", "aid.\(event.from).\(event.to)"].map({ Array($0.utf8) }) {
            #expect(throws: WireError.self) { try WireMessage.decodeEvent(topic: topic, header: WireHeader(), body: body) }
            #expect(throws: WireError.self) {
                try topic.withUnsafeBytes { topic in try body.withUnsafeBytes { try WireMessage.validate(topic: topic, header: WireHeader(), body: $0) } }
            }
            #expect(throws: WireError.self) {
                try topic.withUnsafeBytes { topic in try body.withUnsafeBytes { try WireMessage.summarise(topic: topic, header: WireHeader(), body: $0) } }
            }
        }
        // A topic only canonically equivalent to the event's (a Kelvin sign for the K of KP) is
        // another topic to a subscriber filtering bytes: refused on every path.
        let toKP = TimelineEvent(kind: .visit, date: EDTFDate(edtf: "1956")!, from: CountryCode("MN")!, to: CountryCode("KP")!,
                                 source: Provenance(document: "d"))
        let kelvin = Array("visit.MN.\u{212A}P".utf8), kpBody = Array(EventJSON.encode(toKP).utf8)
        #expect(throws: WireError.self) { try WireMessage.decodeEvent(topic: kelvin, header: WireHeader(), body: kpBody) }
        #expect(throws: WireError.self) {
            try kelvin.withUnsafeBytes { topic in try kpBody.withUnsafeBytes { try WireMessage.validate(topic: topic, header: WireHeader(), body: $0) } }
        }
        let spaced = Array(" ".utf8) + kpBody  // off the fast path's layout: the general decoder must refuse it too
        #expect(throws: WireError.self) {
            try kelvin.withUnsafeBytes { topic in try spaced.withUnsafeBytes { try WireMessage.validate(topic: topic, header: WireHeader(), body: $0) } }
        }
        let topic = Array(event.topic.utf8)
        for bad in [Array(body.dropLast()), Array("{}".utf8), [0xC3, 0x28]] {
            #expect(throws: WireError.self) {
                try topic.withUnsafeBytes { topic in try bad.withUnsafeBytes { try WireMessage.validate(topic: topic, header: WireHeader(), body: $0) } }
            }
        }
    }

    @Test("The ASCII path of normalise gives what the Unicode path gives")
    func normaliseAgreesWithTheCharacterPath() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(" \t\n\r\u{0B}\u{0C}\u{1C}\u{1F}aZq.-_!09".unicodeScalars)
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...12, using: &generator)
            var text = ""
            for _ in 0..<length { text.unicodeScalars.append(alphabet.randomElement(using: &generator)!) }
            let reference = text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(EventID.normalise(text) == reference, "for \(text.debugDescription)")
        }
        #expect(EventID.normalise("  Kim  Il\u{A0}Sung ") == "kim il sung")
    }

    @Test("The UTF-8 check accepts and rejects exactly what the standard library does")
    func utf8ValidationAgreesWithTheStandardLibrary() {
        var generator = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                    0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...6, using: &generator)).map { _ in interesting.randomElement(using: &generator)! }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(bytes.withUnsafeBufferPointer { UTF8Validation.isValid($0) } == expected, "for \(bytes)")
        }
    }

    @Test("Dates read from bytes are the dates read from text, and the same texts are refused")
    func datesFromBytes() {
        func fromBytes(_ text: String) -> EDTFDate? {
            Array(text.utf8).withUnsafeBufferPointer { EDTFDate(edtfBytes: $0) }
        }
        let fixed = ["1956", "1956-07", "1956-07-16", "197X", "-0044", "-0044-03-15", "2017/..", "../1999", "../..", "..",
                     "1956-07-16/1956-07-18", "1956-07-18/1956-07-16", "096X/097X", "1956-02-29", "1956-02-30", "1957-02-29",
                     "2000-13", "0000", "-197X", "19X6", "1956/", "/1956", "1956//1957", "", "-", "1956-7-16", " 1956",
                     "1956/\u{301}..", "1956/..\u{301}", "１９５６", "1956\r\n", "9999-12-31", "10000", "-9999"]
        for text in fixed {
            #expect(fromBytes(text) == EDTFDate(edtf: text), "for \(text.debugDescription)")
        }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789-/X.1290\u{301}é".unicodeScalars)
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<Int.random(in: 0...12, using: &generator) { text.unicodeScalars.append(alphabet.randomElement(using: &generator)!) }
            #expect(fromBytes(text) == EDTFDate(edtf: text), "for \(text.debugDescription)")
        }
        // Shapes that parse, so that the random texts are not all refusals.
        for _ in 0..<2_000 {
            let year = Int.random(in: 0...2100, using: &generator), month = Int.random(in: 0...13, using: &generator)
            let day = Int.random(in: 0...32, using: &generator)
            let text = "\(year < 1000 ? "0" : "")\(year)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
            #expect(fromBytes(text) == EDTFDate(edtf: text), "for \(text.debugDescription)")
            #expect(fromBytes(text + "/" + text) == EDTFDate(edtf: text + "/" + text), "for \(text.debugDescription)")
        }
    }

    @Test("The eight-byte check finds the first byte the string scanner must look at, or none")
    func specialBytesOfAWord() {
        func isSpecial(_ byte: UInt8) -> Bool { byte == 0x22 || byte == 0x5C || byte < 0x20 || byte >= 0x80 }
        var generator = SystemRandomNumberGenerator()
        let interesting: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x41, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xC3, 0xFF]
        for round in 0..<50_000 {
            // Mostly plain bytes, so that words with no special byte or one late special byte are common.
            let bytes = (0..<8).map { _ in
                round % 3 == 0 || Int.random(in: 0..<6, using: &generator) == 0
                    ? interesting.randomElement(using: &generator)! : UInt8.random(in: 0x23...0x5B, using: &generator)
            }
            let word = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            let mask = EventJSONFastPath.Reader.specialBytes(word)
            if let first = bytes.firstIndex(where: isSpecial) {
                #expect(mask != 0 && mask.trailingZeroBitCount >> 3 == first, "for \(bytes)")
            } else {
                #expect(mask == 0, "for \(bytes)")
            }
        }
    }

    @Test("Strings with escapes and multi-byte text anywhere take the fast path and decode to the event")
    func specialCharactersAtEveryOffset() throws {
        for special in ["\"", "\\", "\n", "\u{1}", "é", "Улаан", "\u{1F600}", "\t"] {
            for offset in 0..<20 {
                let guest = String(repeating: "g", count: offset) + special + String(repeating: "h", count: 19 - offset)
                let event = TimelineEvent(kind: .visit, date: EDTFDate(edtf: "1956")!, from: CountryCode("MN")!, to: CountryCode("KP")!,
                                          guest: guest, place: special + String(repeating: "p", count: offset),
                                          source: Provenance(document: String(repeating: "d", count: offset) + special))
                var line = EventJSON.encode(event)
                let fast = try #require(line.withUTF8 { EventJSONFastPath.decode($0) }, "no fast path for \(line)")
                #expect(fast == event)
            }
        }
    }

    @Test("Every kind takes the fast path, and its summary is refused under any other kind's topic")
    func everyKindAndItsTopic() throws {
        for kind in EventKind.allCases {
            let event = TimelineEvent(kind: kind, date: EDTFDate(edtf: "1956")!, from: CountryCode("MN")!, to: CountryCode("KP")!,
                                      source: Provenance(document: "d"))
            let body = Array(EventJSON.encode(event).utf8)
            #expect(body.withUnsafeBufferPointer { EventJSONFastPath.scan($0)?.kind } == kind)
            for other in EventKind.allCases {
                for (from, to) in [("MN", "KP"), ("KP", "MN"), ("MN", "KN"), ("NN", "KP")] {
                    let topic = Array("\(other.rawValue).\(from).\(to)".utf8)
                    let summary = try? topic.withUnsafeBytes { topic in
                        try body.withUnsafeBytes { try WireMessage.summarise(topic: topic, header: WireHeader(), body: $0) }
                    }
                    #expect((summary != nil) == (other == kind && from == "MN" && to == "KP"), "\(kind) under \(other).\(from).\(to)")
                }
            }
        }
    }

    @Test("Country codes built from bytes are the codes built from text")
    func countryCodesFromBytes() {
        #expect(CountryCode(uppercaseASCII: 0x4D, 0x4E) == CountryCode("MN"))
        #expect(CountryCode(uppercaseASCII: 0x5A, 0x5A) == CountryCode("ZZ"))
        #expect(CountryCode(uppercaseASCII: 0x6D, 0x4E) == nil)
        #expect(CountryCode(uppercaseASCII: 0x40, 0x4E) == nil)
    }

    @Test("Each kind's index is its position among all kinds, and each code's index gives the code back")
    func indices() {
        for (position, kind) in EventKind.allCases.enumerated() { #expect(kind.index == position) }
        for index in [0, 1, 25, 26, 337, 675] { #expect(CountryCode(index: index).index == index) }
        #expect(CountryCode("MN")!.index == 12 * 26 + 13)
    }

    @Test("Derived ids are the SHA-256 of the normalised fields joined by U+001F, whatever the text")
    func derivedIDsFollowTheDefinition() {
        func reference(_ event: TimelineEvent) -> String {
            func normalised(_ text: String?) -> String {
                (text ?? "").lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
            }
            let fields = [event.kind.rawValue, event.date.description, event.from.rawValue, event.to.rawValue,
                          normalised(event.guest), normalised(event.host), normalised(event.place)]
            return EventID.hex(EventID.digest(fields.joined(separator: "\u{1F}")).prefix(16))
        }
        for event in Self.events { #expect(event.id == reference(event)) }
        let unusual = TimelineEvent(kind: .visit, date: EDTFDate(edtf: "1956")!, from: CountryCode("MN")!, to: CountryCode("KP")!,
                                    guest: "  ÉLÈVE\u{A0}Tsedenbal\n", host: nil, place: "Pyongyang \t ", source: Provenance(document: "d"))
        #expect(unusual.id == reference(unusual))
    }
}
