import Foundation
import Timeline

/// Where the project's shipped files are: `Config/` (gazetteer, daemon configuration) and
/// `Datasets/` (the bundled dataset).
///
/// Found from `$TIMELINE_HOME` when set, otherwise by walking up from the executable and from the
/// working directory to the first folder that holds `Config/gazetteer.json`.
public struct ProjectPaths: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> ProjectPaths? {
        if let home = environment["TIMELINE_HOME"], !home.isEmpty {
            return ProjectPaths(root: home)
        }
        var starts: [URL] = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        starts.insert(executable.deletingLastPathComponent(), at: 0)
        for start in starts {
            var folder = start.standardizedFileURL
            while true {
                if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Config/gazetteer.json").path) {
                    return ProjectPaths(root: folder.path)
                }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        return nil
    }

    public var configFolder: String { root + "/Config" }
    public var gazetteer: String { configFolder + "/gazetteer.json" }
    public var bundledDataset: String { root + "/Datasets/mongolia-north-korea" }

    /// Loads the gazetteer, naming the file in any error.
    public static func loadGazetteer(at path: String) throws -> Gazetteer {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SourceError(path: path, reason: .unreadable("\(error.localizedDescription)"))
        }
        do {
            return try Gazetteer(json: data)
        } catch {
            throw SourceError(path: path, reason: .unreadable("\(error)"))
        }
    }
}
