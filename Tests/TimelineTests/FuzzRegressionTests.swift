import Foundation
import FuzzChecks
import Testing
import Timeline

/// Replays the fuzz corpora (Tests/FuzzCorpus/<Target>/seeds and /regressions) through the checks the
/// fuzz targets run (Sources/FuzzChecks), so that an input libFuzzer once broke the parsers with
/// stays a failing test until the parser is fixed.
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

    /// The article checks with the shipped gazetteer.
    static let articleChecks = ArticleChecks(reader: ArticleReader(gazetteer: Fixtures.gazetteer))

    static func bytes(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: corpus.appendingPathComponent(path).path) ?? Data())
    }

    @Test("The fuzz corpora are there, with seeds for every target")
    func corporaExist() {
        #expect(Self.inputs("FuzzWireDecoder").contains { $0.contains("/seeds/valid-") })
        #expect(Self.inputs("FuzzArticleReader").contains { $0.contains("/seeds/") })
        #expect(Self.inputs("FuzzControlProtocol").contains { $0.contains("/seeds/") })
    }

    @Test("The valid wire seeds decode into a message whose topic is the topic frame",
          arguments: inputs("FuzzWireDecoder").filter { $0.contains("/seeds/valid-") })
    func validSeedsDecode(_ path: String) throws {
        let frames = WireChecks.frames(of: Self.bytes(path))
        let message = try WireMessage.decode(frames)
        #expect(message.event.topic == String(decoding: frames[0], as: UTF8.self))
    }

    @Test("Every wire fuzz corpus input decodes or is rejected with an error, and what decodes round-trips",
          arguments: inputs("FuzzWireDecoder"))
    func wireInput(_ path: String) async {
        let bytes = Self.bytes(path)
        let exit = await #expect(processExitsWith: .success, "the decoders crash on \(path)") { [bytes = bytes as [UInt8]] in
            _ = WireChecks().violations(in: bytes)
        }
        Self.recordViolations(path, bytes, exit, WireChecks())
    }

    @Test("Every article fuzz corpus input reads into events on its own lines, with distinct ids and dates that survive EDTF",
          arguments: inputs("FuzzArticleReader"))
    func articleInput(_ path: String) async {
        let bytes = Self.bytes(path)
        let exit = await #expect(processExitsWith: .success, "the article reader crashes on \(path)") { [bytes = bytes as [UInt8]] in
            _ = FuzzRegressionTests.articleChecks.violations(in: bytes)
        }
        Self.recordViolations(path, bytes, exit, Self.articleChecks)
    }

    @Test("The peer protocol seeds decode: requests as peer commands, replies as peer answers",
          arguments: inputs("FuzzControlProtocol").filter { $0.contains("/seeds/peer-") })
    func peerSeedsDecode(_ path: String) throws {
        let frames = ControlChecks.frames(of: Self.bytes(path))
        if path.contains("/seeds/peer-request-") {
            #expect(try PeerCommand.decode(frames).id == 5)
        } else {
            #expect(try PeerAnswer.decode(frames).id == 5)
        }
    }

    @Test("Every control protocol fuzz corpus input decodes or is refused with a reason, and what decodes round-trips",
          arguments: inputs("FuzzControlProtocol"))
    func controlInput(_ path: String) async {
        let bytes = Self.bytes(path)
        let exit = await #expect(processExitsWith: .success, "the control codecs crash on \(path)") { [bytes = bytes as [UInt8]] in
            _ = ControlChecks().violations(in: bytes)
        }
        Self.recordViolations(path, bytes, exit, ControlChecks())
    }

    /// After an input ran without crashing in a child process (`exit`), checks its invariants here
    /// and records each one that broke.
    static func recordViolations(_ path: String, _ bytes: [UInt8], _ exit: ExitTest.Result?, _ check: some FuzzCheck) {
        guard exit?.exitStatus == .exitCode(0) else { return }
        for violation in check.violations(in: bytes) {
            Issue.record("\(path): \(violation)")
        }
    }
}
