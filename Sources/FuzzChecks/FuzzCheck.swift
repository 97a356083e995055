import Timeline

/// The invariants a fuzz target checks over one input. Rejecting bad input (an error, a diagnostic)
/// is fine; producing something inconsistent is not.
///
/// The fuzz executables run a check under libFuzzer or over files named on the command line, and
/// FuzzRegressionTests replays the corpora in Tests/FuzzCorpus through the same checks.
public protocol FuzzCheck: Sendable {
    /// The invariants that broke on `input`, each as a sentence; empty when all held.
    func violations(in input: [UInt8]) -> [String]
}

/// Invariants both targets check on what they read.
enum Invariants {
    /// The lines of a document: one more than its line feeds.
    static func lineCount(_ input: [UInt8]) -> Int {
        input.count(where: { $0 == UInt8(ascii: "\n") }) + 1
    }

    /// Diagnostics point at lines of the document, and no two events share an id.
    static func readingViolations(_ reading: SourceReading, lineCount: Int, document: String) -> [String] {
        var broken: [String] = []
        for diagnostic in reading.diagnostics where !(diagnostic.line.map { (1...lineCount).contains($0) } ?? false) {
            broken.append("a diagnostic is on line \(diagnostic.line.map(String.init) ?? "nil") of a \(lineCount)-line \(document): \(diagnostic)")
        }
        if Set(reading.events.map(\.id)).count != reading.events.count {
            broken.append("the \(document) gave two events with the same id")
        }
        return broken
    }

    /// The same document with LF line ends reads as it does with CRLF ones.
    static func lineEndViolations(_ input: [UInt8], _ reading: SourceReading, document: String,
                                  read: (String) -> SourceReading) -> [String] {
        guard let lfText = withoutCarriageReturns(input) else { return [] }
        let lfReading = read(lfText)
        guard lfReading.events != reading.events || lfReading.diagnostics != reading.diagnostics else { return [] }
        return ["the \(document) with CRLF line ends reads as \(reading.events.count) events and \(reading.diagnostics.count) diagnostics, with LF as \(lfReading.events.count) and \(lfReading.diagnostics.count)"]
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

    /// A decoded event encodes to a record that decodes to the same event, and its date survives
    /// being written as EDTF.
    static func eventViolations(_ event: TimelineEvent, from origin: String) -> [String] {
        var broken = dateViolations(event.date, from: "\(origin)'s date")
        let line = EventJSON.encode(event)
        do {
            let again = try EventJSON.decode(line, fallbackSource: Provenance(document: "elsewhere"))
            if again != event { broken.append("\(origin) changed in a round trip: \(event) became \(again)") }
        } catch {
            broken.append("\(origin) decoded, but its encoding does not decode: \(error); record \(line)")
        }
        return broken
    }

    /// `EDTFDate(edtf: date.description) == date`.
    static func dateViolations(_ date: EDTFDate, from origin: String) -> [String] {
        let text = date.description
        guard let again = EDTFDate(edtf: text) else { return ["\(origin) (\(date)) is written '\(text)', which does not parse as EDTF"] }
        return again == date ? [] : ["\(origin) (\(date)) is written '\(text)', which parses as \(again)"]
    }
}
