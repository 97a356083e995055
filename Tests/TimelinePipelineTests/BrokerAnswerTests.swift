import Foundation
import Logging
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("The broker's answers to replays")
struct BrokerAnswerTests {
    let segments = EventLogSegmentTests()

    func state(_ folder: TemporaryFolder, log: EventLog) -> BrokerState {
        BrokerState(log: log, settings: BrokerSettings(frontend: "", backend: "tcp://127.0.0.1:0", replay: "", dataDirectory: folder.path), logger: Logger(label: "test"))
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

    /// What the broker sent besides its direct answers: each answer with its request id and envelope.
    final class Sent {
        var answers: [(BrokerAnswer, UInt64?, [[UInt8]])] = []
        func record(_ answer: BrokerAnswer, _ id: UInt64?, _ envelope: [[UInt8]]) { answers.append((answer, id, envelope)) }
    }

    /// The sequences of the records in a chunk answer.
    func sequences(_ answer: BrokerAnswer) throws -> [UInt64] {
        guard case .chunk(_, _, let records) = answer else { return [] }
        var sequences: [UInt64] = []
        try records.withUnsafeBytes { bytes in
            try EventLog.forEachRecord(in: bytes, verify: true) { _, header, _, _ in sequences.append(try WireHeader.decode(header).sequence) }
        }
        return sequences
    }

    @Test("A FOLLOW with records after its start is answered at once, as a CHUNK of them, counted as followed")
    func followAnsweredAtOnce() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 30)
        var broker = state(folder, log: log)
        let sent = Sent()
        let held = broker.follow(ReplayQuery(after: 10, maxCount: 5), waitMilliseconds: 1_000, envelope: [[1]], id: 3, now: .now, send: sent.record)
        let answer = try #require(held)
        guard case .chunk(let last, let scanned, _) = answer else {
            Issue.record("answered \(answer)")
            return
        }
        let got = try sequences(answer)
        #expect(last == 30 && scanned == 15 && got == [11, 12, 13, 14, 15])
        #expect(broker.heldFollows.isEmpty && sent.answers.isEmpty)
        #expect(broker.counters.followRequests == 1 && broker.counters.recordsFollowed == 5 && broker.counters.recordsReplayed == 0)
    }

    @Test("A FOLLOW at the head is held: answered with the records once they are written, keeping its id and envelope")
    func followHeldUntilRecords() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 20)
        var broker = state(folder, log: log)
        let start = ContinuousClock.now
        let sent = Sent()
        let held = broker.follow(ReplayQuery(after: 20, maxCount: 100), waitMilliseconds: 5_000, envelope: [[7, 7]], id: 41, now: start, send: sent.record)
        #expect(held == nil)
        #expect(broker.statistics.followersWaiting == 1)
        let next = try broker.answerHeldFollows(now: start + .milliseconds(10), send: sent.record)
        #expect(sent.answers.isEmpty && next == start + .seconds(5))
        for index in 20..<23 { try segments.append(log, index) }
        try log.flush()
        let after = try broker.answerHeldFollows(now: start + .milliseconds(20), send: sent.record)
        #expect(after == nil)
        try #require(sent.answers.count == 1)
        let (answer, id, envelope) = sent.answers[0]
        #expect(id == 41 && envelope == [[7, 7]])
        #expect(try sequences(answer) == [21, 22, 23])
        #expect(broker.heldFollows.isEmpty)
    }

    @Test("A held FOLLOW whose wait ends with nothing new gets an empty chunk at its start; its wait is capped")
    func followWaitEnds() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 20)
        var broker = state(folder, log: log)
        let start = ContinuousClock.now
        let sent = Sent()
        let held = broker.follow(ReplayQuery(after: 20, maxCount: 100), waitMilliseconds: .max, envelope: [], id: 1, now: start, send: sent.record)
        #expect(held == nil)
        #expect(broker.heldFollows.first?.deadline == start + BrokerState.longestFollowWait)
        _ = try broker.answerHeldFollows(now: start + BrokerState.longestFollowWait, send: sent.record)
        #expect(sent.answers.map(\.0) == [.chunk(last: 20, scannedThrough: 20, records: [])])
    }

    @Test("A filtered FOLLOW that matches nothing up to the head waits on from what it scanned, and gets only matching records")
    func filteredFollowWaits() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 20)
        var broker = state(folder, log: log)
        let start = ContinuousClock.now
        let sent = Sent()
        let topic = Array(SyntheticEvents.event(22, seed: 9).topic.utf8)
        // Nothing of the log matches: the request is held at the head, not answered empty.
        let none = broker.follow(ReplayQuery(after: 0, maxCount: 100, prefixes: [Array("no such topic".utf8)]), waitMilliseconds: 5_000,
                                 envelope: [[1]], id: 1, now: start, send: sent.record)
        #expect(none == nil && broker.heldFollows.first?.query.after == 20)
        let matching = broker.follow(ReplayQuery(after: 20, maxCount: 100, prefixes: [topic]), waitMilliseconds: 5_000, envelope: [[2]], id: 2,
                                     now: start, send: sent.record)
        #expect(matching == nil)
        for index in 20..<23 { try segments.append(log, index) }
        try log.flush()
        _ = try broker.answerHeldFollows(now: start + .milliseconds(1), send: sent.record)
        // Only the request whose filter matched is answered, with exactly the matching records.
        let expected = (20..<23).filter { Array(SyntheticEvents.event($0, seed: 9).topic.utf8).starts(with: topic) }.map { UInt64($0 + 1) }
        try #require(sent.answers.count == 1)
        let got = try sequences(sent.answers[0].0)
        #expect(sent.answers[0].1 == 2 && got == expected)
        #expect(broker.heldFollows.map(\.id) == [1] && broker.heldFollows[0].query.after == 23)
        // At its deadline the unmatched one is answered empty, scanned through the head.
        _ = try broker.answerHeldFollows(now: start + .seconds(5), send: sent.record)
        #expect(sent.answers.last?.0 == .chunk(last: 23, scannedThrough: 23, records: []))
    }

    @Test("A client holds one FOLLOW: a newer one replaces it; beyond the limit the oldest is answered, empty, to make room")
    func followLimits() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 5)
        var broker = state(folder, log: log)
        let sent = Sent()
        let query = ReplayQuery(after: 5, maxCount: 10)
        let empty = BrokerAnswer.chunk(last: 5, scannedThrough: 5, records: [])
        let noWait = broker.follow(query, waitMilliseconds: 0, envelope: [[9]], id: 1, now: .now, send: sent.record)
        #expect(noWait == empty)
        _ = broker.follow(query, waitMilliseconds: 100, envelope: [[9]], id: 2, now: .now, send: sent.record)
        _ = broker.follow(query, waitMilliseconds: 100, envelope: [[9]], id: 3, now: .now, send: sent.record)
        #expect(broker.heldFollows.map(\.id) == [3] && sent.answers.isEmpty)
        for client in 0..<UInt64(BrokerState.maxHeldFollows) {
            let held = broker.follow(query, waitMilliseconds: 100, envelope: [[UInt8](bigEndian: client)], id: 100 + client, now: .now, send: sent.record)
            #expect(held == nil)
        }
        #expect(broker.heldFollows.count == BrokerState.maxHeldFollows)
        #expect(sent.answers.count == 1 && sent.answers[0].0 == empty && sent.answers[0].1 == 3 && sent.answers[0].2 == [[9]])
    }

    @Test("Held FOLLOWs take at most a few MiB however large their topic prefixes: the oldest are answered to make room")
    func followBytesLimit() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 5)
        var broker = state(folder, log: log)
        let sent = Sent()
        let prefix = [UInt8](repeating: 0x61, count: 60_000)
        for client in 0..<UInt64(200) {
            _ = broker.follow(ReplayQuery(after: 5, maxCount: 10, prefixes: [prefix]), waitMilliseconds: 100, envelope: [[UInt8](bigEndian: client)],
                              id: client, now: .now, send: sent.record)
        }
        #expect(broker.heldFollows.reduce(0) { $0 + $1.bytes } <= BrokerState.maxHeldFollowBytes)
        #expect(broker.heldFollows.count + sent.answers.count == 200 && sent.answers.map(\.1) == (0..<UInt64(sent.answers.count)).map { $0 })
    }

    @Test("At shutdown every held FOLLOW is answered, so its client turns to the restarted broker at once")
    func followAnsweredAtShutdown() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 5)
        var broker = state(folder, log: log)
        let sent = Sent()
        let start = ContinuousClock.now
        _ = broker.follow(ReplayQuery(after: 5, maxCount: 10), waitMilliseconds: 10_000, envelope: [[1]], id: 1, now: start, send: sent.record)
        let next = try broker.answerHeldFollows(now: start, stopping: true, send: sent.record)
        #expect(next == nil && broker.heldFollows.isEmpty && sent.answers.map(\.1) == [1])
    }

    @Test("Per-event messages are published while a connection or a subscription is counted, and always on inproc")
    func publishingGate() throws {
        let folder = TemporaryFolder()
        let log = try segments.filled(folder, count: 1)
        var broker = state(folder, log: log)
        #expect(!broker.publishesEvents)
        broker.subscriberConnections = 1
        #expect(broker.publishesEvents)
        broker.subscriberConnections = 0
        broker.subscriptions = 1
        #expect(broker.publishesEvents)
        let inproc = BrokerState(log: log, settings: BrokerSettings(frontend: "", backend: "inproc://backend", replay: "", dataDirectory: folder.path),
                                 logger: Logger(label: "test"))
        #expect(inproc.publishesEvents)
    }
}
