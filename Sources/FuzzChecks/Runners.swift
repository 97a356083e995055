import Foundation

/// The plain build of a fuzz target, a regression runner: runs `check` over every file named, or
/// every file directly inside a folder named, printing one line per file. Exits 0 when every
/// invariant held, 1 when one broke, 2 on a usage error.
///
/// `check` is made once the arguments name something, so that a usage error comes before the setup
/// a check needs (the article reader's gazetteer).
public func runRegressions<Check: FuzzCheck>(_ arguments: [String], with check: @autoclosure () -> Check) -> Never {
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
    let check = check()
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
        let broken = check.violations(in: Array(data))
        print(broken.isEmpty ? "ok" : "FAIL: " + broken.joined(separator: "; "))
        if !broken.isEmpty { failures += 1 }
    }
    exit(failures == 0 ? 0 : 1)
}

#if FUZZING
/// One input under libFuzzer (the body of `LLVMFuzzerTestOneInput`): a broken invariant stops the
/// process, which libFuzzer reports as a crash, saving the input.
public func checkFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int, with check: some FuzzCheck) -> CInt {
    let broken = check.violations(in: Array(UnsafeBufferPointer(start: data, count: size)))
    if !broken.isEmpty { fatalError("invariant broken: " + broken.joined(separator: "; ")) }
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ body: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// Hands the process over to libFuzzer's driver (`LLVMFuzzerRunDriver`), which reads its options
/// from the arguments and calls `body` with each input.
///
/// SwiftPM links executables with `--defsym main=<Module>_main`, and `-parse-as-library` leaves no
/// such symbol, so each fuzz target defines `<Module>_main` itself and calls this.
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ body: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv, body)
}
#endif
