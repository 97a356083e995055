import Foundation
import Timeline

/// Endpoints a daemon actually bound (wildcard ports resolved), written to `endpoints.json` in its
/// data folder so scripts and tests can find a daemon started on `tcp://127.0.0.1:*`.
public struct BoundEndpoints: Sendable, Equatable {
    public var endpoints: [String: String]

    public static let fileName = "endpoints.json"

    public init(_ endpoints: [String: String]) {
        self.endpoints = endpoints
    }

    public func write(to folder: String) throws {
        let object = endpoints.keys.sorted().map { key in
            var line = "  "
            EventJSON.appendString(key, to: &line)
            line += ": "
            EventJSON.appendString(endpoints[key]!, to: &line)
            return line
        }.joined(separator: ",\n")
        try AtomicFile.write("{\n\(object)\n}\n", to: (folder as NSString).appendingPathComponent(BoundEndpoints.fileName))
    }

    /// Removes `endpoints.json` at shutdown, so nobody reads the endpoints of a daemon that is gone.
    public static func remove(from folder: String) {
        unlink((folder as NSString).appendingPathComponent(fileName))
    }

    public static func read(from folder: String) -> BoundEndpoints? {
        let path = (folder as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: String] else { return nil }
        return BoundEndpoints(object)
    }
}
