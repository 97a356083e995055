import Timeline

/// What the pipeline reads off the wire and from JSON Lines files: `WireMessage.decode`,
/// `EventJSON.decode` and `EventJSON.read`, checking that whatever decodes also round-trips.
///
/// Input layout (the seeds in Tests/FuzzCorpus/FuzzWireDecoder/seeds use it): byte 0 is the length
/// of the topic frame, byte 1 the length of the header frame, then come the topic bytes, the header
/// bytes, and everything left is the body. A length running past the end of the input is cut short
/// there.
public struct WireChecks: FuzzCheck {
    public init() {}

    /// Cuts one input into the three frames of a message (see the layout above).
    public static func frames(of input: [UInt8]) -> [[UInt8]] {
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

    public func violations(in input: [UInt8]) -> [String] {
        let message = Self.frames(of: input)
        var broken = messageViolations(message)

        // The body alone, as one JSON Lines record.
        if let body = String(validating: message[2], as: UTF8.self),
           let event = try? EventJSON.decode(body, fallbackSource: Provenance(document: "fuzz")) {
            broken += Invariants.eventViolations(event, from: "the body")
        }

        // The whole input as a JSON Lines document.
        if let text = String(validating: input, as: UTF8.self) {
            let reading = EventJSON.read(text, document: "fuzz.jsonl")
            broken += Invariants.readingViolations(reading, lineCount: Invariants.lineCount(input), document: "JSON Lines document")
            for event in reading.events {
                broken += Invariants.eventViolations(event, from: "a JSON Lines record")
            }
            broken += Invariants.lineEndViolations(input, reading, document: "JSON Lines document") {
                EventJSON.read($0, document: "fuzz.jsonl")
            }
        }
        return broken
    }

    /// A message that decodes has the topic of its event, and encodes to frames that decode to the
    /// same header and event.
    private func messageViolations(_ message: [[UInt8]]) -> [String] {
        guard let decoded = try? WireMessage.decode(message) else { return [] }
        var broken: [String] = []
        let topic = String(decoding: message[0], as: UTF8.self)
        if decoded.event.topic != topic {
            broken.append("the event's topic '\(decoded.event.topic)' is not the topic frame '\(topic)'")
        }
        broken += Invariants.dateViolations(decoded.event.date, from: "the message's date")
        let again = WireMessage(header: decoded.header, event: decoded.event).frames()
        do {
            let redecoded = try WireMessage.decode(again)
            if redecoded.header != decoded.header {
                broken.append("the header changed in a round trip: \(decoded.header) became \(redecoded.header)")
            }
            if redecoded.event != decoded.event {
                broken.append("the event changed in a round trip: \(decoded.event) became \(redecoded.event)")
            }
        } catch {
            broken.append("a decoded message, encoded again, does not decode: \(error); body \(String(decoding: again[2], as: UTF8.self))")
        }
        return broken
    }
}
