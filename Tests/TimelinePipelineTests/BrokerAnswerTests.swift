import Foundation
import Logging
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("The broker's answers to replays")
struct BrokerAnswerTests {
    let segments = EventLogSegmentTests()

    func state(_ folder: TemporaryFolder, log: EventLog) -> BrokerState {
        BrokerState(log: log, settings: BrokerSettings(frontend: "", backend: "", replay: "", dataDirectory: folder.path), logger: Logger(label: "test"))
    }

    @Test("A replay from any start, the largest included, with any start time, is answered without stopping the broker")
    func extremeStarts() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 300)
        var broker = state(folder, log: log)
        for after: UInt64 in [0, 1, 299, 300, 301, .max - 1, .max] {
            for since: Int64? in [nil, .min, 0, .max] {
                let query = ReplayQuery(after: after, maxCount: 10, since: since)
                for command in [BrokerCommand.replay(query), .chunk(query)] {
                    switch broker.answer(command) {
                    case .batch(let last, _, let frames): #expect(last == 300 && frames.count % 3 == 0)
                    case .chunk(let last, _, _): #expect(last == 300)
                    default: Issue.record("\(command) was answered \(broker.answer(command))")
                    }
                }
            }
        }
    }

    @Test("REPLAY and CHUNK from before the oldest record retention kept are answered TRIMMED; from the record before it, with records")
    func trimmed() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 1_000)
        _ = log.deleteOldSegments(maxBytes: 1, maxAge: nil, now: 0)
        let first = log.firstSequence
        var broker = state(folder, log: log)
        for command in [BrokerCommand.replay(ReplayQuery(after: 0, maxCount: 5)), .chunk(ReplayQuery(after: first - 2, maxCount: 5))] {
            #expect(broker.answer(command) == .trimmed(first: first, last: 1_000))
        }
        guard case .batch(_, let scanned, let frames) = broker.answer(.replay(ReplayQuery(after: first - 1, maxCount: 5))) else {
            Issue.record("no batch")
            return
        }
        #expect(scanned == first + 4 && frames.count == 15)
    }

    @Test("CONSUMED is kept only for the consumers retention waits for, and never past the last sequence")
    func consumedNames() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 100)
        var settings = BrokerSettings(frontend: "", backend: "", replay: "", dataDirectory: folder.path)
        settings.retention = RetentionSettings(bytes: 1 << 20, keepUnread: true, consumers: ["aggregator"])
        var broker = BrokerState(log: log, settings: settings, logger: Logger(label: "test"))
        #expect(broker.answer(.consumed(consumer: "aggregator", sequence: 5_000)) == .head(last: 100))
        #expect(broker.answer(.consumed(consumer: "someone", sequence: 50)) == .head(last: 100))
        #expect(broker.consumerPositions == ["aggregator": 100])
        #expect(broker.consumersKeepFrom == 101)
    }
}
