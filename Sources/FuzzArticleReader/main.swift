// Fuzzes the readers of prose sources with the checks of `ArticleChecks` (Sources/FuzzChecks).
//
// Built by Scripts/fuzz with `-sanitize=fuzzer -DFUZZING -parse-as-library`, it is a libFuzzer target.
// Built plainly, it is a regression runner: `FuzzArticleReader FILE_OR_FOLDER...` runs the same checks
// over every file named (or every file in the folders named), prints one line per file, and exits 0
// when every invariant held.
//
// The gazetteer is Config/gazetteer.json under $TIMELINE_HOME, or in the first folder holding one
// found walking up from the executable, then from the working directory.
import Foundation
import FuzzChecks
import Timeline

enum Setup {
    /// Loaded once, before the first input.
    static let checks = ArticleChecks(reader: ArticleReader(gazetteer: gazetteer))

    static var gazetteer: Gazetteer {
        guard let path = gazetteerPath() else {
            fatalError("Config/gazetteer.json not found above the executable or the working directory; set TIMELINE_HOME")
        }
        do {
            return try Gazetteer(json: try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            fatalError("cannot load \(path): \(error)")
        }
    }

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
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    checkFuzzInput(data, size, with: Setup.checks)
}

@_cdecl("FuzzArticleReader_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    _ = Setup.checks  // a missing gazetteer stops the run before fuzzing, not as a crash on an input
    return runFuzzer(argc, argv, fuzzOne)
}
#else
// The call is written as a declaration because the `-parse-as-library` fuzz build parses this inactive
// branch too, and rejects top-level statements even there.
let _: Never = runRegressions(Array(CommandLine.arguments.dropFirst()), with: Setup.checks)
#endif
