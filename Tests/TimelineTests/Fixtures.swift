import Foundation
import Timeline
import TimelinePipeline

/// Paths and shared values for the domain tests.
enum Fixtures {
    /// The package's root folder, found from this file's path.
    static let root: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// The original article, kept beside the project in ../shared.
    static let seedPath = root + "/../shared/seeds/mongolia-north-korea-relations.txt"

    static let gazetteer: Gazetteer = {
        // A test run without the shipped gazetteer cannot test anything; fail loudly.
        try! ProjectPaths.loadGazetteer(at: ProjectPaths(root: root).gazetteer)
    }()

    static let bundledDataset = ProjectPaths(root: root).bundledDataset

    static func code(_ text: String) -> CountryCode { CountryCode(text)! }

    static func date(_ edtf: String) -> EDTFDate { EDTFDate(edtf: edtf)! }

    static func visit(_ date: String, _ from: String, _ to: String, guest: String = "Guest", place: String? = nil) -> TimelineEvent {
        TimelineEvent(kind: .visit, date: Fixtures.date(date), from: code(from), to: code(to), guest: guest, place: place,
                      source: Provenance(document: "test"))
    }
}
