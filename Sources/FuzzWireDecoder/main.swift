// Fuzzes what the pipeline reads off the wire and from JSON Lines files: `WireMessage.decode`,
// `EventJSON.decode` and `EventJSON.read`, checking that whatever decodes also round-trips.
//
// Built by Scripts/fuzz with `-sanitize=fuzzer -DFUZZING -parse-as-library`, it is a libFuzzer target.
// Built plainly, it is a regression runner: `FuzzWireDecoder FILE_OR_FOLDER...` runs the same checks
// over every file named (or every file in the folders named), prints one line per file, and exits 0
// when every invariant held.
//
// Input layout (the seeds in Tests/FuzzCorpus/FuzzWireDecoder/seeds use it): byte 0 is the length of
// the topic frame, byte 1 the length of the header frame, then come the topic bytes, the header bytes,
// and everything left is the body. A length running past the end of the input is cut short there.
import Foundation
import Timeline

/// Cuts one fuzz input into the three frames of a message (see the layout above).
func frames(of input: [UInt8]) -> [[UInt8]] {
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

/// Runs every decoder over one input and returns the invariants that broke (empty when all held).
/// Rejecting an input with an error is fine; decoding it into something that does not round-trip is not.
func violations(in input: [UInt8]) -> [String] {
    var broken: [String] = []
    let message = frames(of: input)

    // 1. The whole message.
    if let decoded = try? WireMessage.decode(message) {
        let topic = String(decoding: message[0], as: UTF8.self)
        if decoded.event.topic != topic {
            broken.append("the event's topic '\(decoded.event.topic)' is not the topic frame '\(topic)'")
        }
        broken += dateViolations(decoded.event.date)
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
    }

    // 2. The body alone, as one JSON Lines record.
    if let body = String(validating: message[2], as: UTF8.self),
       let event = try? EventJSON.decode(body, fallbackSource: Provenance(document: "fuzz")) {
        broken += eventViolations(event, from: "the body")
    }

    // 3. The whole input as a JSON Lines document.
    if let text = String(validating: input, as: UTF8.self) {
        let reading = EventJSON.read(text, document: "fuzz.jsonl")
        let lineCount = input.count(where: { $0 == UInt8(ascii: "\n") }) + 1
        for diagnostic in reading.diagnostics where !(diagnostic.line.map { (1...lineCount).contains($0) } ?? false) {
            broken.append("a JSON Lines diagnostic is on line \(diagnostic.line.map(String.init) ?? "nil") of a \(lineCount)-line document: \(diagnostic)")
        }
        if Set(reading.events.map(\.id)).count != reading.events.count {
            broken.append("JSON Lines reading kept two events with the same id")
        }
        for event in reading.events {
            broken += eventViolations(event, from: "a JSON Lines record")
        }
        // 4. Line ends: the same document with CRLF line ends reads the same.
        if let lfText = withoutCarriageReturns(input) {
            let lfReading = EventJSON.read(lfText, document: "fuzz.jsonl")
            if lfReading.events != reading.events || lfReading.diagnostics != reading.diagnostics {
                broken.append("JSON Lines with CRLF line ends read as \(reading.events.count) events and \(reading.diagnostics.count) diagnostics, with LF as \(lfReading.events.count) and \(lfReading.diagnostics.count)")
            }
        }
    }
    return broken
}

/// The input with every CR that ends a line removed, as text; nil when it has no CRLF.
func withoutCarriageReturns(_ input: [UInt8]) -> String? {
    var output: [UInt8] = []
    output.reserveCapacity(input.count)
    for (index, byte) in input.enumerated() where !(byte == 0x0D && index + 1 < input.count && input[index + 1] == 0x0A) {
        output.append(byte)
    }
    return output.count == input.count ? nil : String(decoding: output, as: UTF8.self)
}

/// A decoded event must encode to a record that decodes to the same event, and its date must survive
/// being written as EDTF.
func eventViolations(_ event: TimelineEvent, from origin: String) -> [String] {
    var broken = dateViolations(event.date)
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
func dateViolations(_ date: EDTFDate) -> [String] {
    let text = date.description
    guard let again = EDTFDate(edtf: text) else { return ["the date \(date) writes as '\(text)', which does not parse as EDTF"] }
    return again == date ? [] : ["the date \(date) writes as '\(text)', which parses as \(again)"]
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let broken = violations(in: Array(UnsafeBufferPointer(start: data, count: size)))
    if !broken.isEmpty { fatalError("invariant broken: " + broken.joined(separator: "; ")) }
    return 0
}

// SwiftPM links executables with `--defsym main=<Module>_main`, and `-parse-as-library` leaves no
// such symbol, so the entry point is defined here and hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ body: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("FuzzWireDecoder_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv, fuzzOne)
}
#else
// The call is written as a declaration because the `-parse-as-library` fuzz build parses this inactive
// branch too, and rejects top-level statements even there.
let _: Never = runRegressions(Array(CommandLine.arguments.dropFirst()))

/// Runs `violations(in:)` over every file named, or every file directly inside a folder named, one line
/// per file; exits 0 when every invariant held, 1 when one broke, 2 on a usage error.
func runRegressions(_ arguments: [String]) -> Never {
    let files = arguments.flatMap { path -> [String] in
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
    }
    if files.isEmpty {
        print("usage: \(CommandLine.arguments[0]) FILE_OR_FOLDER...")
        exit(2)
    }
    var failures = 0
    for path in files {
        // The path goes out first, so that a crash inside the decoders names its input.
        print(path, terminator: ": ")
        fflush(nil)
        guard let data = FileManager.default.contents(atPath: path) else {
            print("unreadable")
            failures += 1
            continue
        }
        let broken = violations(in: Array(data))
        print(broken.isEmpty ? "ok" : "FAIL: " + broken.joined(separator: "; "))
        if !broken.isEmpty { failures += 1 }
    }
    exit(failures == 0 ? 0 : 1)
}
#endif
