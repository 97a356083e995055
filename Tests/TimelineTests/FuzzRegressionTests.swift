import Foundation
import Testing
import Timeline

/// Replays the fuzz corpora (Tests/FuzzCorpus/<Target>/seeds and /regressions) through the calls the
/// fuzz targets make, asserting the same invariants, so that an input libFuzzer once broke the
/// parsers with stays a failing test until the parser is fixed. Keep the checks in step with
/// Sources/FuzzWireDecoder/main.swift and Sources/FuzzArticleReader/main.swift.
///
/// Each input first runs in a child process (an exit test), so an input that crashes a parser fails
/// its own test case instead of ending the test run; only then are its invariants checked in process.
@Suite("Fuzz corpus regressions")
struct FuzzRegressionTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus")

    /// Paths relative to Tests/FuzzCorpus of every seed and regression of a target, sorted.
    static func inputs(_ target: String) -> [String] {
        ["seeds", "regressions"].flatMap { folder -> [String] in
            let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.appendingPathComponent("\(target)/\(folder)").path)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(target)/\(folder)/\($0)" }
        }
    }

    static func bytes(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: corpus.appendingPathComponent(path).path) ?? Data())
    }

    @Test("The fuzz corpora are there, with seeds for both targets")
    func corporaExist() {
        #expect(Self.inputs("FuzzWireDecoder").contains { $0.contains("/seeds/valid-") })
        #expect(Self.inputs("FuzzArticleReader").contains { $0.contains("/seeds/") })
    }

    @Test("The valid wire seeds decode into a message whose topic is the topic frame",
          arguments: inputs("FuzzWireDecoder").filter { $0.contains("/seeds/valid-") })
    func validSeedsDecode(_ path: String) throws {
        let frames = WireCorpus.frames(of: Self.bytes(path))
        let message = try WireMessage.decode(frames)
        #expect(message.event.topic == String(decoding: frames[0], as: UTF8.self))
    }

    @Test("Every wire fuzz corpus input decodes or is rejected with an error, and what decodes round-trips",
          arguments: inputs("FuzzWireDecoder"))
    func wireInput(_ path: String) async {
        let bytes = Self.bytes(path)
        let exit = await #expect(processExitsWith: .success, "the decoders crash on \(path)") { [bytes = bytes as [UInt8]] in
            _ = WireCorpus.violations(in: bytes)
        }
        guard exit?.exitStatus == .exitCode(0) else { return }
        for violation in WireCorpus.violations(in: bytes) {
            Issue.record("\(path): \(violation)")
        }
    }

    @Test("Every article fuzz corpus input reads into events on its own lines, with distinct ids and dates that survive EDTF",
          arguments: inputs("FuzzArticleReader"))
    func articleInput(_ path: String) async {
        let bytes = Self.bytes(path)
        let exit = await #expect(processExitsWith: .success, "the article reader crashes on \(path)") { [bytes = bytes as [UInt8]] in
            _ = ArticleCorpus.violations(in: bytes)
        }
        guard exit?.exitStatus == .exitCode(0) else { return }
        for violation in ArticleCorpus.violations(in: bytes) {
            Issue.record("\(path): \(violation)")
        }
    }
}

/// The checks of Sources/FuzzWireDecoder/main.swift.
enum WireCorpus {
    /// Byte 0 is the topic's length, byte 1 the header's; the rest after those frames is the body.
    static func frames(of input: [UInt8]) -> [[UInt8]] {
        guard input.count >= 2 else { return [[], [], input] }
        var rest = input[2...]
        func take(_ count: Int) -> [UInt8] {
            let frame = rest.prefix(count)
            rest = rest.dropFirst(frame.count)
            return Array(frame)
        }
        let topic = take(Int(input[0]))
        let header = take(Int(input[1]))
        return [topic, header, Array(rest)]
    }

    static func violations(in input: [UInt8]) -> [String] {
        var broken: [String] = []
        let message = frames(of: input)
        if let decoded = try? WireMessage.decode(message) {
            let topic = String(decoding: message[0], as: UTF8.self)
            if decoded.event.topic != topic { broken.append("the event's topic '\(decoded.event.topic)' is not the topic frame '\(topic)'") }
            broken += CorpusChecks.dateViolations(decoded.event.date, from: "the message's date")
            let again = WireMessage(header: decoded.header, event: decoded.event).frames()
            do {
                let redecoded = try WireMessage.decode(again)
                if redecoded.header != decoded.header { broken.append("the header changed in a round trip") }
                if redecoded.event != decoded.event { broken.append("the event changed in a round trip: \(decoded.event) became \(redecoded.event)") }
            } catch {
                broken.append("a decoded message, encoded again, does not decode: \(error)")
            }
        }
        if let body = String(validating: message[2], as: UTF8.self),
           let event = try? EventJSON.decode(body, fallbackSource: Provenance(document: "fuzz")) {
            broken += eventViolations(event, from: "the body")
        }
        if let text = String(validating: input, as: UTF8.self) {
            let reading = EventJSON.read(text, document: "fuzz.jsonl")
            broken += CorpusChecks.readingViolations(reading, lineCount: CorpusChecks.lineCount(input))
            for event in reading.events { broken += eventViolations(event, from: "a JSON Lines record") }
            if let lfText = CorpusChecks.withoutCarriageReturns(input) {
                let lfReading = EventJSON.read(lfText, document: "fuzz.jsonl")
                if lfReading.events != reading.events || lfReading.diagnostics != reading.diagnostics {
                    broken.append("JSON Lines with CRLF line ends read as \(reading.events.count) events and \(reading.diagnostics.count) diagnostics, with LF as \(lfReading.events.count) and \(lfReading.diagnostics.count)")
                }
            }
        }
        return broken
    }

    static func eventViolations(_ event: TimelineEvent, from origin: String) -> [String] {
        var broken = CorpusChecks.dateViolations(event.date, from: "\(origin)'s date")
        do {
            let again = try EventJSON.decode(EventJSON.encode(event), fallbackSource: Provenance(document: "elsewhere"))
            if again != event { broken.append("\(origin) changed in a round trip: \(event) became \(again)") }
        } catch {
            broken.append("\(origin) decoded, but its encoding does not decode: \(error)")
        }
        return broken
    }
}

/// The checks of Sources/FuzzArticleReader/main.swift.
enum ArticleCorpus {
    static let reader = ArticleReader(gazetteer: Fixtures.gazetteer)

    static func violations(in input: [UInt8]) -> [String] {
        let text = String(decoding: input, as: UTF8.self)
        let reading = reader.read(text, document: "fuzz.txt")
        var broken = CorpusChecks.readingViolations(reading, lineCount: CorpusChecks.lineCount(input))
        for event in reading.events {
            broken += CorpusChecks.dateViolations(event.date, from: "an event's date")
            if let line = event.source.line, !(1...CorpusChecks.lineCount(input)).contains(line) {
                broken.append("an event comes from line \(line) of a \(CorpusChecks.lineCount(input))-line article")
            }
        }
        if let lfText = CorpusChecks.withoutCarriageReturns(input) {
            let lfReading = reader.read(lfText, document: "fuzz.txt")
            if lfReading.events != reading.events || lfReading.diagnostics != reading.diagnostics {
                broken.append("the article with CRLF line ends reads as \(reading.events.count) events and \(reading.diagnostics.count) diagnostics, with LF as \(lfReading.events.count) and \(lfReading.diagnostics.count)")
            }
        }
        for line in text.split(separator: "\n", maxSplits: 64) where line.utf8.count <= 80 {
            if let date = try? DateText.parse(String(line)) {
                broken += CorpusChecks.dateViolations(date, from: "the date text '\(line)'")
            }
        }
        return broken
    }
}

/// Invariants both targets check.
enum CorpusChecks {
    static func lineCount(_ input: [UInt8]) -> Int {
        input.count(where: { $0 == UInt8(ascii: "\n") }) + 1
    }

    /// Diagnostics point at lines of the document, and no two events share an id.
    static func readingViolations(_ reading: SourceReading, lineCount: Int) -> [String] {
        var broken: [String] = []
        for diagnostic in reading.diagnostics where !(diagnostic.line.map { (1...lineCount).contains($0) } ?? false) {
            broken.append("a diagnostic is on line \(diagnostic.line.map(String.init) ?? "nil") of a \(lineCount)-line document: \(diagnostic)")
        }
        if Set(reading.events.map(\.id)).count != reading.events.count {
            broken.append("two events have the same id")
        }
        return broken
    }

    /// `EDTFDate(edtf: date.description) == date`.
    static func dateViolations(_ date: EDTFDate, from origin: String) -> [String] {
        let text = date.description
        guard let again = EDTFDate(edtf: text) else { return ["\(origin) (\(date)) is written '\(text)', which does not parse as EDTF"] }
        return again == date ? [] : ["\(origin) (\(date)) is written '\(text)', which parses as \(again)"]
    }

    /// The input with every CR that ends a line removed, as text; nil when it has no CRLF.
    static func withoutCarriageReturns(_ input: [UInt8]) -> String? {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        for (index, byte) in input.enumerated() where !(byte == 0x0D && index + 1 < input.count && input[index + 1] == 0x0A) {
            output.append(byte)
        }
        return output.count == input.count ? nil : String(decoding: output, as: UTF8.self)
    }
}
