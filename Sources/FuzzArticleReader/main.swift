// Fuzzes the readers of prose sources: `ArticleReader.read` over a whole article and `DateText.parse`
// over each short line, checking what they produce, not only that they return.
//
// Built by Scripts/fuzz with `-sanitize=fuzzer -DFUZZING -parse-as-library`, it is a libFuzzer target.
// Built plainly, it is a regression runner: `FuzzArticleReader FILE_OR_FOLDER...` runs the same checks
// over every file named (or every file in the folders named), prints one line per file, and exits 0
// when every invariant held.
//
// The gazetteer is Config/gazetteer.json under $TIMELINE_HOME, or in the first folder holding one
// found walking up from the executable, then from the working directory.
import Foundation
import Timeline

enum Setup {
    /// Loaded once, at the first input.
    static let gazetteer: Gazetteer = {
        guard let path = gazetteerPath() else {
            fatalError("Config/gazetteer.json not found above the executable or the working directory; set TIMELINE_HOME")
        }
        do {
            return try Gazetteer(json: try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            fatalError("cannot load \(path): \(error)")
        }
    }()

    static func gazetteerPath() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let home = environment["TIMELINE_HOME"], !home.isEmpty { return home + "/Config/gazetteer.json" }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let workingFolder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for start in [executable, workingFolder] {
            var folder = start.standardizedFileURL
            while true {
                let candidate = folder.appendingPathComponent("Config/gazetteer.json").path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        return nil
    }

    static let reader = ArticleReader(gazetteer: gazetteer)

    /// Lines longer than this are not tried as dates: dates in tables are short, and long lines only
    /// slow the fuzzer down.
    static let longestDateLine = 80
}

/// Runs the readers over one input (as UTF-8, invalid bytes replaced) and returns the invariants that
/// broke, empty when all held. Diagnostics about bad input are fine; inconsistent results are not.
func violations(in input: [UInt8]) -> [String] {
    var broken: [String] = []
    let text = String(decoding: input, as: UTF8.self)
    let lineCount = input.count(where: { $0 == UInt8(ascii: "\n") }) + 1

    let reading = Setup.reader.read(text, document: "fuzz.txt")
    for diagnostic in reading.diagnostics where !(diagnostic.line.map { (1...lineCount).contains($0) } ?? false) {
        broken.append("a diagnostic is on line \(diagnostic.line.map(String.init) ?? "nil") of a \(lineCount)-line article: \(diagnostic)")
    }
    if Set(reading.events.map(\.id)).count != reading.events.count {
        broken.append("the article gave two events with the same id")
    }
    for event in reading.events {
        broken += dateViolations(event.date, from: "an event's date")
        if let line = event.source.line, !(1...lineCount).contains(line) {
            broken.append("an event comes from line \(line) of a \(lineCount)-line article")
        }
    }

    // Line ends: the same article with CRLF line ends reads the same.
    if let lfText = withoutCarriageReturns(input) {
        let lfReading = Setup.reader.read(lfText, document: "fuzz.txt")
        if lfReading.events != reading.events || lfReading.diagnostics != reading.diagnostics {
            broken.append("the article with CRLF line ends reads as \(reading.events.count) events and \(reading.diagnostics.count) diagnostics, with LF as \(lfReading.events.count) and \(lfReading.diagnostics.count)")
        }
    }

    for line in text.split(separator: "\n", maxSplits: 64) where line.utf8.count <= Setup.longestDateLine {
        if let date = try? DateText.parse(String(line)) {
            broken += dateViolations(date, from: "the date text '\(line)'")
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

/// `EDTFDate(edtf: date.description) == date`.
func dateViolations(_ date: EDTFDate, from origin: String) -> [String] {
    let text = date.description
    guard let again = EDTFDate(edtf: text) else { return ["\(origin) reads as \(date), written '\(text)', which does not parse as EDTF"] }
    return again == date ? [] : ["\(origin) reads as \(date), written '\(text)', which parses as \(again)"]
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

@_cdecl("FuzzArticleReader_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = Setup.reader  // a missing gazetteer stops the run before fuzzing, not as a crash on an input
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
    _ = Setup.reader
    var failures = 0
    for path in files {
        // The path goes out first, so that a crash inside the readers names its input.
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
