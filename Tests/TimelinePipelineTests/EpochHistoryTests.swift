import Foundation
import Testing
import Timeline
@testable import TimelinePipeline

@Suite("Epoch history")
struct EpochHistoryTests {
    /// Epoch 1 from sequence 1, epoch 2 from 81, epoch 5 from 201 (3 and 4 were the other broker's and never reached this one).
    static let history = EpochHistory([
        EpochStart(epoch: 5, firstSequence: 201), EpochStart(epoch: 1, firstSequence: 1), EpochStart(epoch: 2, firstSequence: 81),
    ])

    @Test("A history is kept in epoch order, and its latest epoch is 0 before any")
    func order() {
        #expect(Self.history.epochs.map(\.epoch) == [1, 2, 5])
        #expect(Self.history.latest == 5)
        #expect(EpochHistory().latest == 0)
    }

    @Test("Each record's epoch is the latest one that started at or before it; records before the first epoch are epoch 0")
    func epochOfRecord() {
        #expect(Self.history.epoch(of: 1) == 1)
        #expect(Self.history.epoch(of: 80) == 1)
        #expect(Self.history.epoch(of: 81) == 2)
        #expect(Self.history.epoch(of: 200) == 2)
        #expect(Self.history.epoch(of: 201) == 5)
        #expect(Self.history.epoch(of: 1_000_000) == 5)
        let late = EpochHistory([EpochStart(epoch: 1, firstSequence: 51)])
        #expect(late.epoch(of: 50) == 0)
        #expect(late.epoch(of: 0) == 0)
        #expect(EpochHistory().epoch(of: 9) == 0)
    }

    @Test("An epoch in which nothing was logged yields to the next one that starts at the same sequence")
    func emptyEpoch() {
        let history = EpochHistory([EpochStart(epoch: 1, firstSequence: 1), EpochStart(epoch: 2, firstSequence: 11), EpochStart(epoch: 3, firstSequence: 11)])
        #expect(history.epoch(of: 11) == 3)
        #expect(history.end(of: 2, lastSequence: 30) == (2, 10))
        #expect(history.end(of: 1, lastSequence: 30) == (1, 10))
    }

    @Test("A known epoch ends before the next one's first sequence, the latest at the log's last")
    func endOfKnownEpoch() {
        #expect(Self.history.end(of: 1, lastSequence: 250) == (1, 80))
        #expect(Self.history.end(of: 2, lastSequence: 250) == (2, 200))
        #expect(Self.history.end(of: 5, lastSequence: 250) == (5, 250))
    }

    @Test("An epoch this broker never had ends where the largest one below it ends")
    func endOfUnknownEpoch() {
        #expect(Self.history.end(of: 3, lastSequence: 250) == (2, 200))
        #expect(Self.history.end(of: 4, lastSequence: 250) == (2, 200))
        // Below the first epoch: epoch 0, the records before the pair ran.
        let late = EpochHistory([EpochStart(epoch: 2, firstSequence: 51)])
        #expect(late.end(of: 1, lastSequence: 90) == (0, 50))
        #expect(late.end(of: 0, lastSequence: 90) == (0, 50))
        #expect(EpochHistory().end(of: 7, lastSequence: 12) == (0, 12))
    }

    @Test("An epoch above the latest ends at the log's last sequence, as the latest does")
    func endAboveLatest() {
        #expect(Self.history.end(of: 6, lastSequence: 250) == (5, 250))
        #expect(Self.history.end(of: .max, lastSequence: 250) == (5, 250))
    }

    @Test("An epoch's end is never past the log's last sequence, even when the next epoch starts later")
    func endCappedByLog() {
        #expect(Self.history.end(of: 1, lastSequence: 40) == (1, 40))
        #expect(Self.history.end(of: 2, lastSequence: 0) == (2, 0))
    }

    @Test("Beginning an epoch adds it above the latest")
    func begin() {
        var history = EpochHistory()
        history.begin(1, at: 1)
        history.begin(4, at: 33)
        #expect(history.epochs == [EpochStart(epoch: 1, firstSequence: 1), EpochStart(epoch: 4, firstSequence: 33)])
        #expect(history.latest == 4)
        #expect(history.end(of: 1, lastSequence: 40) == (1, 32))
    }

    @Test("A history survives a JSON round trip, as the pair's epoch file keeps it")
    func codable() throws {
        #expect(try JSONCoding.decode(EpochHistory.self, from: JSONCoding.encode(Self.history)) == Self.history)
        #expect(try JSONCoding.decode(EpochHistory.self, from: JSONCoding.encode(EpochHistory())) == EpochHistory())
        let data = try JSONEncoder().encode(Self.history)
        #expect(try JSONDecoder().decode(EpochHistory.self, from: data) == Self.history)
    }

    @Test("A primary takes odd epochs and a backup even ones, above every epoch known, so the two never share one")
    func nextEpochByRole() {
        #expect(EpochHistory.next(after: 0, role: .primary) == 1)
        #expect(EpochHistory.next(after: 0, role: .backup) == 2)
        #expect(EpochHistory.next(after: 1, role: .backup) == 2)
        #expect(EpochHistory.next(after: 1, role: .primary) == 3)
        #expect(EpochHistory.next(after: 2, role: .primary) == 3)
        for known in UInt64(0)..<50 {
            let primary = EpochHistory.next(after: known, role: .primary), backup = EpochHistory.next(after: known, role: .backup)
            #expect(primary > known && backup > known && primary != backup && primary % 2 == 1 && backup % 2 == 0)
        }
    }

    @Test("A list with epoch 0, a first sequence of 0, or sequences going back is not a history")
    func consistency() {
        #expect(Self.history.isConsistent)
        #expect(EpochHistory().isConsistent)
        #expect(!EpochHistory([EpochStart(epoch: 0, firstSequence: 1)]).isConsistent)
        #expect(!EpochHistory([EpochStart(epoch: 1, firstSequence: 0)]).isConsistent)
        #expect(!EpochHistory([EpochStart(epoch: 1, firstSequence: 10), EpochStart(epoch: 2, firstSequence: 5)]).isConsistent)
        #expect(EpochHistory([EpochStart(epoch: 1, firstSequence: 0), EpochStart(epoch: 2, firstSequence: 3)]).end(of: 1, lastSequence: 9) == (1, 2))
    }
}
