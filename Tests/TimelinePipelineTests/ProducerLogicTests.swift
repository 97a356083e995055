import Testing
@testable import TimelinePipeline

@Suite("Producer batch sizing and send ledger")
struct ProducerLogicTests {
    @Test("A batch takes events while under both limits, and always takes its first event")
    func batchLimits() {
        let sizer = BatchSizer(maxEvents: 4, maxBytes: 100)
        #expect(sizer.fits(count: 0, batchBytes: 0, eventBytes: 500), "a lone event larger than the byte limit still goes")
        #expect(sizer.fits(count: 3, batchBytes: 50, eventBytes: 50))
        #expect(!sizer.fits(count: 4, batchBytes: 10, eventBytes: 10), "the event limit")
        #expect(!sizer.fits(count: 1, batchBytes: 60, eventBytes: 41), "the byte limit")
    }

    @Test("A loss halves both limits, down to one event, and says when it could not shrink")
    func lossHalves() {
        var sizer = BatchSizer(maxEvents: 4, maxBytes: 1_000)
        let first = sizer.lost()
        #expect(first && sizer.events == 2 && sizer.bytes == 500)
        let second = sizer.lost()
        #expect(second && sizer.events == 1 && sizer.bytes == 250)
        let third = sizer.lost()
        #expect(!third && sizer.events == 1)
    }

    @Test("Limits double back after a run of batches without a loss, never past the configured ones")
    func growthAfterARun() {
        var sizer = BatchSizer(maxEvents: 4, maxBytes: 1_000)
        _ = sizer.lost()
        _ = sizer.lost()
        for _ in 0..<(BatchSizer.growAfter - 1) { sizer.delivered() }
        #expect(sizer.events == 1, "not before the run is complete")
        sizer.delivered()
        #expect(sizer.events == 2 && sizer.bytes == 500)
        for _ in 0..<(BatchSizer.growAfter * 4) { sizer.delivered() }
        #expect(sizer.events == 4 && sizer.bytes == 1_000)
    }

    @Test("Events sent again after a rewind count as resent, not as sent")
    func resentCounting() {
        var ledger = SendLedger(producerID: "p", logged: 0)
        ledger.sent(1, through: 10)
        #expect(ledger.next == 10 && ledger.highestSent == 10)
        let lost = ledger.resume(after: 6)
        #expect(lost, "events 7 to 10 went missing")
        #expect(ledger.next == 6 && ledger.report.acknowledged == 6 && ledger.report.reconnects == 1)
        ledger.sent(7, through: 12)
        #expect(ledger.report.sent == 12 && ledger.report.resent == 4)
    }

    @Test("A reconnect that finds everything logged is no loss, and a restart resumes after the broker's position")
    func resumeWithoutLoss() {
        var ledger = SendLedger(producerID: "p", logged: 100)
        #expect(ledger.next == 100 && ledger.report.acknowledged == 100)
        ledger.sent(101, through: 150)
        let lost = ledger.resume(after: 150)
        #expect(!lost)
        #expect(ledger.report.sent == 50 && ledger.report.resent == 0)
    }
}
