import Testing
@testable import TimelinePipeline

@Suite("The pipeline's health, as timeline status judges it")
struct PipelineHealthTests {
    private func broker(last: UInt64, accepted: UInt64, consumers: [String: UInt64] = [:], pair: PairStatistics? = nil,
                        disk: DiskSpace? = nil, paused: Bool = false) -> BrokerStatistics {
        var counters = BrokerCounters()
        counters.accepted = accepted
        var statistics = BrokerStatistics(lastSequence: last, producers: 1, subscriptions: 0, counters: counters)
        statistics.reported = consumers.isEmpty ? nil : consumers
        statistics.pair = pair
        statistics.disk = disk
        statistics.logPaused = paused
        return statistics
    }

    private func pair(_ state: String, peerHeard: Bool) -> PairStatistics {
        PairStatistics(role: "primary", state: state, epoch: 1, replication: "sync", replicating: peerHeard, inStep: false,
                       peerHeard: peerHeard, peerState: nil, peerLastSequence: nil, recordsCopied: 0, recordsCut: 0,
                       becameActive: 0, becamePassive: 0, droppedWhileNotActive: 0)
    }

    private let silentAggregator = AggregatorReading(endpoint: "tcp://q", error: "no answer")

    @Test("A single broker with its consumers caught up is healthy, with rates from the two readings")
    func healthy() {
        let first = [BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 100, accepted: 100, consumers: ["snapshot": 100]))]
        let second = [BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 300, accepted: 300, consumers: ["snapshot": 300]))]
        let health = PipelineHealth.assess(first: (first, silentAggregator), second: (second, silentAggregator), interval: 2, limits: .init())
        #expect(health.healthy && health.problems.isEmpty)
        #expect(health.brokers[0].acceptedPerSecond == 100)
        #expect(health.brokers[0].state == "single")
        #expect(health.consumers == [PipelineHealth.Consumer(name: "snapshot", position: 300, lag: 0, perSecond: 100)])
    }

    @Test("A consumer over the lag limit, a filling disk and a paused log are each a problem")
    func problems() {
        let statistics = broker(last: 5_000, accepted: 5_000, consumers: ["snapshot": 1_000],
                                disk: DiskSpace(freeBytes: 5 << 20, totalBytes: 100 << 20), paused: true)
        let health = PipelineHealth.assess(first: ([BrokerReading(endpoint: "tcp://b", answered: true, statistics: statistics)], silentAggregator),
                                           second: nil, interval: 0, limits: .init(maxLag: 1_000, minDiskFree: 0.1))
        #expect(!health.healthy)
        #expect(health.problems.count == 3)
        #expect(health.problems.contains { $0.contains("consumer snapshot is falling behind: 4000 events") })
        #expect(health.problems.contains { $0.contains("filling, 5% free") })
        #expect(health.problems.contains { $0.contains("cannot write its log") })
        #expect(health.brokers[0].acceptedPerSecond == nil)
    }

    @Test("A pair with no active broker, or an active one alone, is a problem; a silent broker of the pair is named")
    func pairs() {
        let alone = PipelineHealth.assess(
            first: ([BrokerReading(endpoint: "tcp://p", answered: true, statistics: broker(last: 10, accepted: 10, pair: pair("active", peerHeard: false))),
                     BrokerReading(endpoint: "tcp://b", answered: false, error: "no answer")], silentAggregator),
            second: nil, interval: 0, limits: .init())
        #expect(alone.problems.contains { $0.contains("tcp://p is active alone") })
        #expect(alone.problems.contains { $0.contains("broker tcp://b does not answer") })
        let none = PipelineHealth.assess(
            first: ([BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 10, accepted: 10, pair: pair("passive", peerHeard: true)))],
                    silentAggregator),
            second: nil, interval: 0, limits: .init())
        #expect(none.problems == ["no broker of the pair is active"])
    }

    @Test("An aggregator that does not answer is a problem only once the broker heard from one")
    func aggregator() {
        let unheard = PipelineHealth.assess(first: ([BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 10, accepted: 10))], silentAggregator),
                                            second: nil, interval: 0, limits: .init())
        #expect(unheard.healthy)
        let heard = PipelineHealth.assess(
            first: ([BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 10, accepted: 10, consumers: ["aggregator": 10]))], silentAggregator),
            second: nil, interval: 0, limits: .init())
        #expect(heard.problems == ["the aggregator at tcp://q does not answer: no answer"])
    }

    @Test("Rates divide by the time between a daemon's two answers, not by the time meant between the readings")
    func ratesByAnswerTimes() {
        let first = [BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 0, accepted: 0), readAt: 100)]
        // Asking a silent aggregator in between made the answers 3 s apart, not the 1 s meant.
        let second = [BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 3_000, accepted: 3_000), readAt: 103)]
        let health = PipelineHealth.assess(first: (first, silentAggregator), second: (second, silentAggregator), interval: 1, limits: .init())
        #expect(health.brokers[0].acceptedPerSecond == 1_000)
    }

    @Test("Two active brokers are a split pair; a lagging aggregator is named once; its name comes from the configuration")
    func splitAndNames() {
        let split = PipelineHealth.assess(
            first: ([BrokerReading(endpoint: "tcp://p", answered: true, statistics: broker(last: 10, accepted: 10, pair: pair("active", peerHeard: true))),
                     BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 10, accepted: 10, pair: pair("active", peerHeard: true)))],
                    silentAggregator),
            second: nil, interval: 0, limits: .init())
        #expect(split.problems.contains { $0.hasPrefix("more than one broker is active") })
        var status = AggregatorStatus(sequence: 0, head: 500, lag: 500, events: 0, visits: 0, live: 0, replayed: 0, duplicateSequences: 0,
                                      duplicateEvents: 0, rejected: 0, malformed: 0, gapsRepaired: 0, producers: [:])
        status.residentBytes = nil
        let lagging = PipelineHealth.assess(
            first: ([BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 500, accepted: 500, consumers: ["stats": 0]))],
                    AggregatorReading(endpoint: "tcp://q", status: status)),
            second: nil, interval: 0, limits: .init(maxLag: 100, aggregatorName: "stats"))
        #expect(lagging.problems == ["consumer stats is falling behind: 500 events behind the broker (over 100)"])
        let gone = PipelineHealth.assess(
            first: ([BrokerReading(endpoint: "tcp://b", answered: true, statistics: broker(last: 5, accepted: 5, consumers: ["stats": 5]))], silentAggregator),
            second: nil, interval: 0, limits: .init(aggregatorName: "stats"))
        #expect(gone.problems == ["the aggregator at tcp://q does not answer: no answer"])
    }
}
