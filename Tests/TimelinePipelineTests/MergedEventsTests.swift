import Testing
import Timeline
@testable import TimelinePipeline

@Suite("Events merged from several sources")
struct MergedEventsTests {
    func event(_ index: Int, document: String, line: Int) -> TimelineEvent {
        var event = SyntheticEvents.event(index, seed: 3)
        event.source = Provenance(document: document, line: line)
        return event
    }

    @Test("An event two sources hold is kept once, from the first, with a note naming where it was first read")
    func repeatsAcrossSources() {
        var merged = MergedEvents()
        merged.add(SourceReading(document: "a.jsonl", events: [event(0, document: "a.jsonl", line: 1), event(1, document: "a.jsonl", line: 2)]))
        merged.add(SourceReading(document: "b.jsonl", events: [event(1, document: "b.jsonl", line: 7), event(2, document: "b.jsonl", line: 8)]))
        #expect(merged.events.map(\.id) == [0, 1, 2].map { SyntheticEvents.event($0, seed: 3).id })
        #expect(merged.events[1].source.document == "a.jsonl")
        #expect(merged.diagnostics.count == 1)
        let note = merged.diagnostics[0]
        #expect(note.severity == .note && note.file == "b.jsonl" && note.line == 7)
        #expect(note.message == "the same event as a.jsonl:2 (id \(SyntheticEvents.event(1, seed: 3).id)); counted once")
    }

    @Test("Ids that are not 32 hexadecimal digits are told apart as the aggregator tells them apart")
    func otherIds() {
        var first = event(0, document: "a", line: 1), second = event(1, document: "a", line: 2), again = event(2, document: "b", line: 3)
        first.id = "embassy-1987"
        second.id = "embassy-1988"
        again.id = "embassy-1987"
        var merged = MergedEvents()
        merged.add(SourceReading(document: "a", events: [first, second, again]))
        #expect(merged.events.map(\.id) == ["embassy-1987", "embassy-1988"])
        #expect(merged.diagnostics.map(\.line) == [3])
    }
}
