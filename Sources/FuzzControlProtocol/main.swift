// Fuzzes the control protocol's codecs, the broker's and the aggregator's requests and replies, with
// the checks of `ControlChecks` (Sources/FuzzChecks, where the input layout is described too).
//
// Built by Scripts/fuzz with `-sanitize=fuzzer -DFUZZING -parse-as-library`, it is a libFuzzer target.
// Built plainly, it is a regression runner: `FuzzControlProtocol FILE_OR_FOLDER...` runs the same checks
// over every file named (or every file in the folders named), prints one line per file, and exits 0
// when every invariant held.
import FuzzChecks

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    checkFuzzInput(data, size, with: ControlChecks())
}

@_cdecl("FuzzControlProtocol_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv, fuzzOne)
}
#else
// The call is written as a declaration because the `-parse-as-library` fuzz build parses this inactive
// branch too, and rejects top-level statements even there.
let _: Never = runRegressions(Array(CommandLine.arguments.dropFirst()), with: ControlChecks())
#endif
