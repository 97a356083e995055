import Foundation
import Logging
import Synchronization
import Testing
@testable import TimelinePipeline

/// A clock the test moves, and what the reporter wrote.
private final class Bench: Sendable {
    private let now = Mutex(100.0)
    private let written = Mutex<[String]>([])

    var clock: @Sendable () -> Double { { self.now.withLock { $0 } } }
    var write: @Sendable (String) -> Void { { text in self.written.withLock { $0.append(text) } } }
    var output: [String] { written.withLock { $0 } }

    func advance(to seconds: Double) { now.withLock { $0 = 100 + seconds } }
}

@Suite("Progress reporting")
struct ProgressReporterTests {
    private func reporter(_ bench: Bench, total: UInt64 = 200_000, display: ProgressDisplay = .terminal, columns: Int = 100) -> ProgressReporter {
        ProgressReporter(title: "producing", unit: "events", total: total, display: display, clock: bench.clock, columns: { columns },
                         write: bench.write)
    }

    @Test("The bar fills in proportion, within its width, brackets included")
    func bar() {
        #expect(ProgressFormat.bar(fraction: 0, width: 12) == "[----------]")
        #expect(ProgressFormat.bar(fraction: 0.52, width: 12) == "[#####-----]")
        #expect(ProgressFormat.bar(fraction: 1, width: 12) == "[##########]")
        #expect(ProgressFormat.bar(fraction: 1.7, width: 7) == "[#####]", "past the end stays full")
    }

    @Test("Durations read as seconds, minutes and seconds, or hours and minutes; unknown as --")
    func durations() {
        #expect(ProgressFormat.duration(0) == "0s")
        #expect(ProgressFormat.duration(0.4) == "1s")
        #expect(ProgressFormat.duration(42) == "42s")
        #expect(ProgressFormat.duration(65) == "1m05s")
        #expect(ProgressFormat.duration(3_725) == "1h02m")
        #expect(ProgressFormat.duration(.infinity) == "--")
        #expect(ProgressFormat.remaining(done: 100, total: 300, rate: 50) == 4)
        #expect(ProgressFormat.remaining(done: 100, total: 300, rate: 0) == .infinity)
        #expect(ProgressFormat.remaining(done: 300, total: 300, rate: 0) == 0)
    }

    @Test("Rates read per second, in thousands or in millions")
    func rates() {
        #expect(ProgressFormat.rate(850.4) == "850/s")
        #expect(ProgressFormat.rate(51_234) == "51.2k/s")
        #expect(ProgressFormat.rate(1_234_567) == "1.23M/s")
    }

    @Test("A line holds the bar, percent, counts, rate and time left, and never reaches the last column")
    func line() {
        let line = ProgressFormat.line(title: "producing", done: 104_000, total: 200_000, unit: "events", rate: 51_200, tail: "eta 2s", columns: 80)
        #expect(line.hasPrefix("producing ["))
        #expect(line.hasSuffix("]  52% 104000/200000 events 51.2k/s eta 2s"))
        #expect(line.count == 79)
        let narrow = ProgressFormat.line(title: "producing", done: 1, total: 2, unit: "events", rate: 1, tail: "eta 1s", columns: 30)
        #expect(!narrow.contains("["), "no room for a bar: none")
        #expect(narrow.count <= 29)
    }

    @Test("Nothing is drawn in the first second; then at most every tenth of a second, in place")
    func throttling() {
        let bench = Bench()
        var progress = reporter(bench)
        progress.update(done: 1_000)
        bench.advance(to: 0.9)
        progress.update(done: 50_000)
        #expect(bench.output.isEmpty)
        bench.advance(to: 1.0)
        progress.update(done: 60_000)
        bench.advance(to: 1.05)
        progress.update(done: 61_000)
        #expect(bench.output.count == 1)
        bench.advance(to: 1.15)
        progress.update(done: 70_000)
        #expect(bench.output.count == 2)
        for text in bench.output {
            #expect(text.hasPrefix("\r") && text.hasSuffix("\u{1B}[K") && !text.contains("\n"))
        }
        #expect(bench.output[0].contains(" 30% 60000/200000 events 59.0k/s eta 3s"), "rate counted from the first update: \(bench.output[0])")
    }

    @Test("Finishing leaves the final state on its own line, with the time taken")
    func finish() throws {
        let bench = Bench()
        var progress = reporter(bench)
        progress.update(done: 0)
        bench.advance(to: 2)
        progress.update(done: 100_000)
        bench.advance(to: 4)
        progress.update(done: 200_000)
        progress.finish()
        let last = try #require(bench.output.last)
        #expect(last.hasPrefix("\r") && last.hasSuffix("\u{1B}[K\n"))
        #expect(last.contains("100% 200000/200000 events 50.0k/s in 4s"))
    }

    @Test("Files read of all, with the events so far after the count, on the bar and in the log line")
    func detail() throws {
        let bench = Bench()
        var progress = ProgressReporter(title: "reading", unit: "files", total: 40, display: .terminal, clock: bench.clock, columns: { 100 },
                                        write: bench.write)
        progress.update(done: 0, detail: "0 events")
        bench.advance(to: 2)
        progress.update(done: 10, detail: "1234 events")
        bench.advance(to: 3)
        progress.update(done: 20)
        let last = try #require(bench.output.last)
        #expect(last.contains("50% 20/40 files (1234 events) 7/s eta 3s"), "a detail stays until the next one")

        let lines = Mutex<[[UInt8]]>([])
        let logger = Logger(label: "timeline.test") { label in
            JSONLogHandler(label: label, output: LogLineOutput { line in lines.withLock { $0.append(line) } }, metadataProvider: nil)
        }
        var logged = ProgressReporter(title: "reading", unit: "files", total: 40, display: .log(logger, interval: .seconds(5)), clock: bench.clock)
        logged.update(done: 0)
        bench.advance(to: 9)
        logged.update(done: 30, detail: "5000 events")
        let entry = try #require(try lines.withLock { $0 }.first.map { try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] })
        let metadata = try #require(entry?["metadata"] as? [String: String])
        #expect(metadata["progress.detail"] == "5000 events" && metadata["progress.unit"] == "files" && metadata["progress.done"] == "30")
    }

    @Test("Work finished within the delay shows nothing, not even at the end")
    func smallWork() {
        let bench = Bench()
        var progress = reporter(bench, total: 500)
        progress.update(done: 0)
        bench.advance(to: 0.5)
        progress.update(done: 500)
        progress.finish()
        #expect(bench.output.isEmpty && !progress.shown)
    }

    @Test("Off shows nothing, however long the work")
    func off() {
        let bench = Bench()
        var progress = reporter(bench, display: .off)
        progress.update(done: 0)
        bench.advance(to: 60)
        progress.update(done: 100)
        progress.finish()
        #expect(bench.output.isEmpty)
    }

    @Test("Without a terminal, a log line every interval with done, total, rate and time left; a last one at the end")
    func logLines() throws {
        let bench = Bench()
        let lines = Mutex<[[UInt8]]>([])
        let logger = Logger(label: "timeline.test") { label in
            JSONLogHandler(label: label, output: LogLineOutput { line in lines.withLock { $0.append(line) } }, metadataProvider: nil)
        }
        var progress = reporter(bench, display: .log(logger, interval: .seconds(5)))
        progress.update(done: 0)
        for second in 1...12 {
            bench.advance(to: Double(second))
            progress.update(done: UInt64(second) * 10_000)
        }
        progress.finish()
        let entries = try lines.withLock { $0 }.map { try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any]) }
        #expect(entries.map { $0["msg"] as? String } == ["Progress", "Progress", "Progress finished"])
        #expect(bench.output.isEmpty, "nothing drawn")
        let first = try #require(entries.first?["metadata"] as? [String: String])
        #expect(first == ["progress.task": "producing", "progress.done": "50000", "progress.total": "200000", "progress.unit": "events",
                          "progress.ratePerSecond": "10000", "progress.eta": "15s"])
        let last = try #require(entries.last?["metadata"] as? [String: String])
        #expect(last["progress.done"] == "120000" && last["progress.seconds"] == "12s")
    }

    @Test("TIMELINE_PROGRESS=0 or disabling turns progress off whatever standard error is")
    func switchedOff() {
        #expect(ProgressDisplay.standardError(logger: Logger(label: "x"), environment: ["TIMELINE_PROGRESS": "0"]).isOff)
        #expect(ProgressDisplay.standardError(enabled: false, logger: Logger(label: "x"), environment: [:]).isOff)
    }
}
