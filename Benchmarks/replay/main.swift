// The aggregator's work per replayed event, without sockets: header decode, body summary, and the
// state's apply under a lock, each timed alone and all together over the same in-memory records
// (synthetic events, as `timeline produce --synthetic` sends them). Prints one JSON object.
//
//   swift build -c release --product ReplayBenchmark && .build/release/ReplayBenchmark --events 200000 --runs 5
import Foundation
import Synchronization
import Timeline
import TimelinePipeline

var events = 200_000
var runs = 5
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--events": events = Int(arguments.popFirst() ?? "") ?? events
    case "--runs": runs = Int(arguments.popFirst() ?? "") ?? runs
    default:
        FileHandle.standardError.write(Data("ReplayBenchmark: unknown argument \(argument)\n".utf8))
        exit(64)
    }
}
guard events >= 1, runs >= 1 else {
    FileHandle.standardError.write(Data("ReplayBenchmark: --events and --runs take a whole number of at least 1\n".utf8))
    exit(64)
}

/// Where one record's frames lie in `chunk`, which holds them back to back as a replay chunk does.
struct Record {
    var topic: Range<Int>
    var header: Range<Int>
    var body: Range<Int>
}

func makeRecords(_ events: Int, _ chunk: inout [UInt8]) -> [Record] {
    (0..<events).map { index in
    let event = SyntheticEvents.event(index, seed: 1)
    let header = WireHeader(sequence: UInt64(index + 1), producerSequence: UInt64(index + 1), producer: "bench-producer").encoded()
    var body: [UInt8] = []
    EventJSON.encode(event, into: &body)
    func add(_ bytes: [UInt8]) -> Range<Int> {
        chunk.append(contentsOf: bytes)
        return (chunk.count - bytes.count)..<chunk.count
    }
    return Record(topic: add(Array(event.topic.utf8)), header: add(header), body: add(body))
    }
}
var chunk: [UInt8] = []
let records = makeRecords(events, &chunk)

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

var sink = 0
var timings: [String: [Double]] = [:]
try chunk.withUnsafeBytes { chunk in
for _ in 0..<runs {
    var cache = ProducerIDCache()
    timings["header", default: []].append(try seconds {
        for record in records {
            sink &+= Int(try WireHeader.decode(UnsafeRawBufferPointer(rebasing: chunk[record.header]), cache: &cache).sequence)
        }
    })
    let header = WireHeader(sequence: 1, producerSequence: 1, producer: "bench-producer")
    var summaries: [EventSummary] = []
    summaries.reserveCapacity(events)
    timings["summarise", default: []].append(try seconds {
        for record in records {
            summaries.append(try WireMessage.summarise(topic: UnsafeRawBufferPointer(rebasing: chunk[record.topic]), header: header,
                                                       body: UnsafeRawBufferPointer(rebasing: chunk[record.body])))
        }
    })
    var state = AggregatorState()
    timings["apply", default: []].append(try seconds {
        for summary in summaries { try state.apply(summary) }
    })
    var statistics = Statistics()
    timings["statistics", default: []].append(seconds {
        for summary in summaries { statistics.add(summary) }
    })
    sink &+= statistics.totalVisits
    let shared = Mutex(AggregatorState())
    timings["all", default: []].append(try seconds {
        var cache = ProducerIDCache()
        for record in records {
            let header = try WireHeader.decode(UnsafeRawBufferPointer(rebasing: chunk[record.header]), cache: &cache)
            let summary = try WireMessage.summarise(topic: UnsafeRawBufferPointer(rebasing: chunk[record.topic]), header: header,
                                                    body: UnsafeRawBufferPointer(rebasing: chunk[record.body]))
            try shared.withLock { state throws in
                try state.apply(summary)
                state.position.sequence = header.sequence
            }
        }
    })
    sink &+= shared.withLock { $0.statistics.totalEvents }
}
}
var result: [String: Double] = ["events": Double(events)]
for (name, values) in timings { result["\(name)NanosecondsPerEvent"] = (median(values) * 1e9 / Double(events) * 10).rounded() / 10 }
result["allEventsPerSecond"] = (Double(events) / median(timings["all"]!)).rounded()
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
if sink == 42 { print("") }
