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

    // MARK: - FOLLOW

    /// What `answerHeldFollows` sent: each answer with its request id and envelope.
    final class Sent {
        var answers: [(BrokerAnswer, UInt64?, [[UInt8]])] = []
    }

    @Test("A FOLLOW with records after its start is answered at once, as a CHUNK of them, counted as followed")
    func followAnsweredAtOnce() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 30)
        var broker = state(folder, log: log)
        let held = broker.follow(ReplayQuery(after: 10, maxCount: 5), waitMilliseconds: 1_000, envelope: [[1]], id: 3, now: .now)
        let answer = try #require(held)
        guard case .chunk(let last, let scanned, let records) = answer else {
            Issue.record("answered \(answer)")
            return
        }
        var sequences: [UInt64] = []
        try records.withUnsafeBytes { bytes in
            try EventLog.forEachRecord(in: bytes, verify: true) { _, header, _, _ in sequences.append(try WireHeader.decode(header).sequence) }
        }
        #expect(last == 30 && scanned == 15 && sequences == [11, 12, 13, 14, 15])
        #expect(broker.heldFollows.isEmpty)
        #expect(broker.counters.followRequests == 1 && broker.counters.recordsFollowed == 5 && broker.counters.recordsReplayed == 0)
    }

    @Test("A FOLLOW at the head is held: answered with the records once they are written, keeping its id and envelope")
    func followHeldUntilRecords() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 20)
        var broker = state(folder, log: log)
        let start = ContinuousClock.now
        let held = broker.follow(ReplayQuery(after: 20, maxCount: 100), waitMilliseconds: 5_000, envelope: [[7, 7]], id: 41, now: start)
        #expect(held == nil)
        #expect(broker.statistics.followersWaiting == 1)
        let sent = Sent()
        let next = try broker.answerHeldFollows(now: start + .milliseconds(10)) { sent.answers.append(($0, $1, $2)) }
        #expect(sent.answers.isEmpty && next == start + .seconds(5))
        for index in 20..<23 { try segments.append(log, index) }
        try log.flush()
        let after = try broker.answerHeldFollows(now: start + .milliseconds(20)) { sent.answers.append(($0, $1, $2)) }
        #expect(after == nil)
        try #require(sent.answers.count == 1)
        let (answer, id, envelope) = sent.answers[0]
        #expect(id == 41 && envelope == [[7, 7]])
        guard case .chunk(let last, let scanned, _) = answer else {
            Issue.record("answered \(answer)")
            return
        }
        #expect(last == 23 && scanned == 23 && broker.heldFollows.isEmpty)
    }

    @Test("A held FOLLOW whose wait ends with nothing new gets an empty chunk at its start; its wait is capped")
    func followWaitEnds() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 20)
        var broker = state(folder, log: log)
        let start = ContinuousClock.now
        let held = broker.follow(ReplayQuery(after: 20, maxCount: 100), waitMilliseconds: .max, envelope: [], id: 1, now: start)
        #expect(held == nil)
        #expect(broker.heldFollows.first?.deadline == start + BrokerState.longestFollowWait)
        let sent = Sent()
        _ = try broker.answerHeldFollows(now: start + BrokerState.longestFollowWait) { sent.answers.append(($0, $1, $2)) }
        #expect(sent.answers.map(\.0) == [.chunk(last: 20, scannedThrough: 20, records: [])])
    }

    @Test("FOLLOWs beyond the broker's limit, or asking for no wait, are answered at once instead of held")
    func followLimit() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 5)
        var broker = state(folder, log: log)
        let query = ReplayQuery(after: 5, maxCount: 10)
        let empty = BrokerAnswer.chunk(last: 5, scannedThrough: 5, records: [])
        let noWait = broker.follow(query, waitMilliseconds: 0, envelope: [], id: 1, now: .now)
        #expect(noWait == empty)
        for id in 0..<UInt64(BrokerState.maxHeldFollows) {
            let held = broker.follow(query, waitMilliseconds: 100, envelope: [], id: id, now: .now)
            #expect(held == nil)
        }
        let beyond = broker.follow(query, waitMilliseconds: 100, envelope: [], id: 9, now: .now)
        #expect(beyond == empty)
        #expect(broker.heldFollows.count == BrokerState.maxHeldFollows)
    }
}
