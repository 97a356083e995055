import Testing
@testable import TimelinePipeline

@Suite("Consumer gap repair bookkeeping")
struct StreamProgressTests {
    @Test("A live message is the next one, a repeat, or past a gap that is fetched up to it")
    func classification() {
        var progress = StreamProgress(position: StreamPosition(sequence: 10))
        #expect(verdict(&progress, 11) == .apply)
        #expect(verdict(&progress, 10) == .duplicate)
        #expect(verdict(&progress, 3) == .duplicate)
        #expect(verdict(&progress, 15) == .gap(through: 14))
        #expect(progress.counters.duplicates == 2)
        #expect(progress.counters.head == 15)
    }

    @Test("Applying moves the position and keeps the highest producer sequence per producer")
    func producerPositions() {
        var progress = StreamProgress(position: StreamPosition(sequence: 0, producers: ["a": 5]))
        progress.applied(1, producer: "a", producerSequence: 6, replayed: true)
        progress.applied(2, producer: "b", producerSequence: 1, replayed: false)
        progress.applied(3, producer: "a", producerSequence: 7, replayed: false)
        progress.applied(4, producer: "", producerSequence: 0, replayed: false)
        #expect(progress.position == StreamPosition(sequence: 4, producers: ["a": 7, "b": 1]))
        #expect(progress.counters.replayed == 1 && progress.counters.live == 3)
    }

    @Test("Records the log scanned past (other topics) move the position without being applied")
    func skippedRecords() {
        var progress = StreamProgress(position: StreamPosition(sequence: 4))
        progress.skip(through: 9)
        #expect(progress.sequence == 9 && !progress.isNew(9) && progress.isNew(10))
        progress.skip(through: 2)
        #expect(progress.sequence == 9, "never backwards")
    }

    @Test("A catch-up without a target runs to the head the first chunk tells, asking ahead while short of it")
    func catchUpToTheHead() {
        var plan = CatchUpPlan(target: nil)
        #expect(plan.needsMore(at: 0))
        let ahead = plan.received(head: 50_000, scannedThrough: 20_000, position: 0)
        #expect(ahead == 20_000, "ask for the next chunk ahead")
        plan.applied(position: 20_000)
        #expect(plan.needsMore(at: 20_000))
        let none = plan.received(head: 60_000, scannedThrough: 50_000, position: 20_000)
        #expect(none == nil, "the goal stays the first head")
        plan.applied(position: 50_000)
        #expect(!plan.needsMore(at: 50_000))
    }

    @Test("A gap repair stops at its target, and stops early when the log has nothing further")
    func gapRepairStops() {
        var plan = CatchUpPlan(target: 14)
        let ahead = plan.received(head: 20, scannedThrough: 12, position: 10)
        #expect(ahead == 12)
        plan.applied(position: 12)
        #expect(plan.needsMore(at: 12))
        _ = plan.received(head: 20, scannedThrough: 12, position: 12)
        plan.applied(position: 12)
        #expect(!plan.needsMore(at: 12), "a chunk that moved nothing ends it")
    }

    private func verdict(_ progress: inout StreamProgress, _ sequence: UInt64) -> StreamProgress.Verdict {
        progress.classify(live: sequence)
    }
}
