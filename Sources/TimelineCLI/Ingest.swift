import ArgumentParser
import Foundation
import Timeline
import TimelinePipeline

/// Exit codes shared by the commands (the BSD sysexits values).
enum ExitStatus {
    /// A question that cannot be asked (a bad date, pair or format).
    static let usage: Int32 = 64
    /// A source held no usable event.
    static let dataError: Int32 = 65
    /// A source could not be read.
    static let noInput: Int32 = 66
    /// A file the tool needs, such as the gazetteer, is missing.
    static let configError: Int32 = 78
}

extension SourceError {
    /// 66 when the source cannot be read, 65 when it holds no event.
    var exitCode: Int32 {
        if case .unreadable = reason { return ExitStatus.noInput }
        return ExitStatus.dataError
    }

    /// Prints the diagnostics of the sources read before this one (`earlier`) and this source's
    /// own, then makes the error that ends the command naming the file.
    func reported(after earlier: [Diagnostic]) -> CLIError {
        for diagnostic in earlier + diagnostics { Output.error(diagnostic.description) }
        return CLIError(description, code: exitCode)
    }
}

/// Reading the sources a command names, with a progress bar over their files.
enum SourceFiles {
    /// Reads every file of `paths` (a folder gives its source files), merged, showing the files
    /// read of all and the events so far; a source that cannot be read or holds no event ends the
    /// command (its diagnostics and those before it printed).
    static func read(_ paths: [String], loader: SourceLoader, display: ProgressDisplay) throws -> MergedEvents {
        var merged = MergedEvents()
        var files: [String] = []
        do {
            for path in paths { files += try SourceLoader.files(at: path) }
        } catch {
            throw error.reported(after: [])
        }
        var reporter = ProgressReporter(title: "reading", unit: "files", total: UInt64(files.count), display: display)
        defer { reporter.finish() }
        for (index, file) in files.enumerated() {
            reporter.update(done: UInt64(index), detail: "\(merged.events.count) events")
            do {
                merged.add(try loader.loadFile(file))
            } catch {
                throw error.reported(after: merged.diagnostics)
            }
        }
        reporter.update(done: UInt64(files.count), detail: "\(merged.events.count) events")
        return merged
    }
}

/// Options every command that reads sources shares.
struct SourceOptions: ParsableArguments {
    @Option(help: "The gazetteer of countries and places (default: Config/gazetteer.json of the project).")
    var gazetteer: String?

    func loadGazetteer() throws -> Gazetteer {
        let path: String
        if let gazetteer {
            path = gazetteer
        } else if let paths = ProjectPaths.locate() {
            path = paths.gazetteer
        } else {
            throw CLIError("cannot find Config/gazetteer.json: set TIMELINE_HOME to the project folder or pass --gazetteer", code: ExitStatus.configError)
        }
        do {
            return try ProjectPaths.loadGazetteer(at: path)
        } catch {
            throw CLIError("\(error)", code: ExitStatus.configError)
        }
    }

    func defaultSources() throws -> [String] {
        guard let paths = ProjectPaths.locate() else {
            throw CLIError("cannot find the bundled dataset: set TIMELINE_HOME to the project folder or name a source", code: ExitStatus.configError)
        }
        return [paths.bundledDataset]
    }
}

/// An error that ends a command with a message on standard error and a chosen exit code.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let code: Int32

    init(_ message: String, code: Int32) {
        self.message = message
        self.code = code
    }

    var description: String { message }
}

extension CLIError {
    /// Prints the message and turns it into the exit code.
    func exit() -> ExitCode {
        FileHandle.standardError.write(Data("timeline: \(message)\n".utf8))
        return ExitCode(code)
    }
}

struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read sources and print their events.",
        discussion: """
        Reads articles, JSON Lines files and GDELT event exports (or folders of them), or the bundled dataset when no \
        path is given, and prints the distinct events. Diagnostics go to standard error. \
        Exit status: 0 when every source was read (rejected rows are reported, not fatal), \
        65 when a source holds no event (or, with --strict, has a bad row), 66 when a source cannot \
        be read, 78 when the gazetteer is missing.
        """
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case jsonl, table
    }

    @Argument(help: "Articles, JSON Lines files, GDELT exports or folders. Default: the bundled dataset.")
    var paths: [String] = []

    @Option(help: "jsonl (one JSON object per event, the public contract) or table.")
    var format: OutputFormat = .jsonl

    @Flag(help: "Exit 65 without printing any event when a source has a bad row or line.")
    var strict = false

    @Option(help: "Print N deterministic synthetic visits (the ones `produce --synthetic N` publishes) instead of sources.")
    var synthetic: Int?

    @Option(help: "Seed of the synthetic events.")
    var seed: UInt64 = 1

    @OptionGroup var sources: SourceOptions
    @OptionGroup var progress: ProgressOptions

    func validate() throws {
        if let synthetic, synthetic < 0 { throw ValidationError("--synthetic must not be negative") }
        if synthetic != nil, !paths.isEmpty { throw ValidationError("--synthetic takes no source paths") }
    }

    func run() async throws {
        if let synthetic, format == .table {
            Output.write(EventTable.render(SyntheticEvents.events(count: synthetic, seed: seed)))
            return
        }
        // A bar on a terminal only: ingest has no log for progress lines.
        let display = progress.display(logger: nil)
        if let synthetic {
            var reporter = ProgressReporter(title: "writing", unit: "events", total: UInt64(synthetic), display: display)
            var out = ""
            out.reserveCapacity(4096)
            for index in 0..<synthetic {
                let event = SyntheticEvents.event(index, seed: seed)
                out += EventJSON.encode(event) + "\n"
                if out.utf8.count > 1 << 16 {
                    Output.write(out)
                    out.removeAll(keepingCapacity: true)
                    reporter.update(done: UInt64(index + 1))
                }
            }
            Output.write(out)
            reporter.update(done: UInt64(synthetic))
            reporter.finish()
            return
        }
        do {
            let gazetteer = try sources.loadGazetteer()
            let loader = SourceLoader(gazetteer: gazetteer)
            let sourcePaths = try paths.isEmpty ? sources.defaultSources() : paths
            let merged = try SourceFiles.read(sourcePaths, loader: loader, display: display)
            for diagnostic in merged.diagnostics { Output.error(diagnostic.description) }
            let rejected = merged.diagnostics.filter { $0.severity == .error }.count
            if strict, rejected > 0 {
                throw CLIError("\(rejected) bad row(s) or line(s) (--strict)", code: ExitStatus.dataError)
            }
            switch format {
            case .jsonl:
                var out = ""
                for event in merged.events { out += EventJSON.encode(event) + "\n" }
                Output.write(out)
            case .table:
                Output.write(EventTable.render(merged.events))
            }
        } catch let error as CLIError {
            throw error.exit()
        }
    }
}

enum Output {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// A plain fixed-width table of events for people.
enum EventTable {
    static func render(_ events: [TimelineEvent]) -> String {
        let header = ["DATE", "KIND", "DIRECTION", "GUEST", "HOST", "PLACE"]
        let rows = events.map { event in
            [event.date.description, event.kind.rawValue, "\(event.from)->\(event.to)",
             event.guest ?? "", event.host ?? "", event.place ?? ""]
        }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ") + "\n"
        }
        return ([line(header)] + rows.map(line)).joined()
    }
}
