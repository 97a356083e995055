import Foundation
import Testing
import Timeline
import TimelinePipeline

@Suite("The bundled dataset")
struct BundledDatasetTests {
    func bundled() throws -> MergedEvents {
        MergedEvents(try SourceLoader(gazetteer: Fixtures.gazetteer).load(path: Fixtures.bundledDataset))
    }

    @Test("It reads without a single error or warning")
    func clean() throws {
        let merged = try bundled()
        #expect(merged.diagnostics.filter { $0.severity != .note }.isEmpty, "\(merged.diagnostics)")
    }

    @Test("Every visit in the seed's tables is in the bundle as the same event")
    func holdsSeedVisits() throws {
        let text = try String(contentsOfFile: Fixtures.seedPath, encoding: .utf8)
        let seed = ArticleReader(gazetteer: Fixtures.gazetteer).read(text, document: "seed")
        let bundledIDs = Set(try bundled().events.map(\.id))
        let seedEvents = seed.events
        #expect(seedEvents.count == 22)
        for event in seedEvents {
            #expect(bundledIDs.contains(event.id), "missing \(event.date) \(event.guest ?? "")")
        }
    }

    @Test("Each visit the article tells is one event: 13 from the tables and 3 only the prose tells")
    func visitCount() throws {
        let visits = try bundled().events.filter { $0.kind == .visit }
        #expect(visits.count == 16)
        #expect(Set(visits.map(\.id)).count == 16)
        let prose = visits.filter { $0.source.document.hasSuffix("mongolia-north-korea-relations.txt") }
        #expect(prose.map(\.date.description).sorted() == ["1988", "2002", "2007-07"])
    }

    @Test("The events only the prose tells are all there, each with its kind and provenance")
    func proseEvents() throws {
        let events = try bundled().events
        let kinds = Set(events.map(\.kind))
        for kind: EventKind in [.relationsEstablished, .aid, .agreementSigned, .agreementEnded, .embassyClosed, .diplomatsExpelled, .invitation, .ambassadorTerm, .visit] {
            #expect(kinds.contains(kind), "no \(kind)")
        }
        let established = try #require(events.first { $0.kind == .relationsEstablished })
        #expect(established.date.description == "1948-10-15")
        #expect(established.source.section?.contains("Early relationship") == true)
        let treaty = events.filter { $0.kind == .agreementSigned || $0.kind == .agreementEnded }.map(\.date.description)
        #expect(treaty.contains("1986") && treaty.contains("1995"))
        #expect(events.first { $0.kind == .embassyClosed }?.from.rawValue == "KP")
    }
}
