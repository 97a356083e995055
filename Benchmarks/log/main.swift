// The event log's start-up and seek, measured on a log of many events against the same
// measurements on a small log in the same run: start-up and the first record of a replay from the
// middle should not grow with the log. Prints one JSON object.
//
//   swift build -c release --product LogBenchmark && .build/release/LogBenchmark --events 10000000 --folder /tmp/x
import Foundation
import Logging
import Timeline
import TimelinePipeline

struct Options {
    var events = 10_000_000
    var reference = 100_000
    var folder = NSTemporaryDirectory() + "timeline-log-bench-\(getpid())"
    var keep = false

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            switch argument {
            case "--events": events = Int(rest.popFirst() ?? "") ?? events
            case "--reference": reference = Int(rest.popFirst() ?? "") ?? reference
            case "--folder": folder = rest.popFirst() ?? folder
            case "--keep": keep = true
            default:
                FileHandle.standardError.write(Data("LogBenchmark: unknown argument \(argument)\n".utf8))
                exit(64)
            }
        }
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

let logger: Logger = {
    var logger = Logger(label: "log-bench")
    logger.logLevel = .warning
    return logger
}()

/// Writes `count` events in batches of 1,000, as a busy broker would, and closes the log cleanly.
func fill(_ folder: String, count: Int) throws -> Double {
    try? FileManager.default.removeItem(atPath: folder)
    let bodies = (0..<1_000).map { Array(EventJSON.encode(SyntheticEvents.event($0, seed: 1)).utf8) }
    let topics = (0..<1_000).map { Array(SyntheticEvents.event($0, seed: 1).topic.utf8) }
    let log = try EventLog(folder: folder, logger: logger)
    let took = try seconds {
        for index in 0..<count {
            var header = WireHeader(producerSequence: UInt64(index + 1), producer: "bench").encoded()
            try log.append(topic: topics[index % 1_000], header: &header, body: bodies[index % 1_000], producer: "bench",
                           producerSequence: UInt64(index + 1))
            if index % 1_000 == 999 { try log.flush() }
        }
        try log.close()
    }
    return took
}

struct Figures: Encodable {
    var events: Int
    var segments: Int
    var logBytes: Int64
    var writeSeconds: Double
    /// Opening after a clean close (median of 5), and after a crash (the last segment read whole).
    var cleanOpenSeconds: Double
    var crashOpenSeconds: Double
    /// What start-up cost before segments: reading every record once, checksums included.
    var readWholeLogSeconds: Double
    /// The first record of a replay from sequences around the middle, each from a freshly opened log (median and worst).
    var seekMilliseconds: Double
    var seekWorstMilliseconds: Double
    /// Opening after a crash with the last segment nearly full: the worst case of start-up.
    var crashOpenFullSegmentSeconds: Double
}

func measure(_ folder: String, events: Int) throws -> Figures {
    let writeSeconds = try fill(folder, count: events)
    var clean: [Double] = []
    var segments = 0, bytes: Int64 = 0
    for _ in 0..<5 {
        var log: EventLog?
        clean.append(try seconds { log = try EventLog(folder: folder, logger: logger) })
        segments = log!.segmentCount
        bytes = log!.recordBytes
        try log!.close()
    }
    // A crash: the marker of a clean close is gone, the last segment is read record by record.
    var crash: [Double] = []
    for _ in 0..<3 {
        var log: EventLog?
        crash.append(try seconds { log = try EventLog(folder: folder, logger: logger) })
        try log!.sync()
        log = nil
    }
    var seeks: [Double] = []
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<9 {
        let log = try EventLog(folder: folder, logger: logger)
        let after = UInt64(events / 2) + UInt64.random(in: 0..<UInt64(max(1, events / 10)), using: &generator)
        var read = 0
        seeks.append(try seconds { read = try log.readChunk(after: after, maxCount: 1).count } * 1_000)
        precondition(read == 1, "the replay found its record")
        try log.close()
    }
    let log = try EventLog(folder: folder, logger: logger)
    var total = 0
    let whole = try seconds {
        var after: UInt64 = 0
        while after < log.lastSequence {
            let chunk = try log.readChunk(after: after, maxCount: 20_000, maxBytes: 8 << 20)
            total += chunk.count
            after = chunk.scannedThrough
        }
    }
    precondition(total == events, "the whole log reads back")
    // Fill the last segment to within 1 MiB of full, then open it as after a crash.
    let body = Array(EventJSON.encode(SyntheticEvents.event(0, seed: 2)).utf8)
    var sequence = log.producerPositions["bench"] ?? 0
    while log.fileSize + Int64(log.pendingBytes) < log.segmentBytes - (1 << 20) {
        sequence += 1
        var header = WireHeader(producerSequence: sequence, producer: "bench").encoded()
        try log.append(topic: Array("visit".utf8), header: &header, body: body, producer: "bench", producerSequence: sequence)
        if sequence % 1_000 == 0 { try log.flush() }
    }
    try log.sync()
    var full: EventLog?
    let crashFull = try seconds { full = try EventLog(folder: folder, logger: logger) }
    precondition(full!.lastSequence == log.lastSequence, "the full segment reads back")
    return Figures(events: events, segments: segments, logBytes: bytes, writeSeconds: writeSeconds, cleanOpenSeconds: median(clean),
                   crashOpenSeconds: median(crash), readWholeLogSeconds: whole, seekMilliseconds: median(seeks), seekWorstMilliseconds: seeks.max()!,
                   crashOpenFullSegmentSeconds: crashFull)
}

let options = Options(CommandLine.arguments)
do {
    let small = try measure(options.folder + "/reference", events: options.reference)
    if !options.keep { try? FileManager.default.removeItem(atPath: options.folder + "/reference") }
    let large = try measure(options.folder + "/large", events: options.events)
    if !options.keep { try? FileManager.default.removeItem(atPath: options.folder) }
    struct Result: Encodable {
        var reference: Figures
        var large: Figures
        var cleanOpenRatio: Double
        var seekRatio: Double
    }
    let result = Result(reference: small, large: large, cleanOpenRatio: large.cleanOpenSeconds / small.cleanOpenSeconds,
                        seekRatio: large.seekMilliseconds / small.seekMilliseconds)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(result), as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("LogBenchmark: \(error)\n".utf8))
    exit(1)
}
