import Foundation

/// Endpoints a daemon actually bound (wildcard ports resolved), written to `endpoints.json` in its
/// data folder so scripts and tests can find a daemon started on `tcp://127.0.0.1:*`: one JSON
/// object from role (`frontend`, `backend`, `replay`, `query`) to endpoint.
public struct BoundEndpoints: Codable, Sendable, Equatable {
    public var endpoints: [String: String]

    public static let fileName = "endpoints.json"

    public init(_ endpoints: [String: String]) {
        self.endpoints = endpoints
    }

    public init(from decoder: any Decoder) throws {
        endpoints = try [String: String](from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try endpoints.encode(to: encoder)
    }

    public func write(to folder: String) throws {
        try AtomicFile.write(JSONCoding.encode(self) + [0x0A], to: (folder as NSString).appendingPathComponent(BoundEndpoints.fileName))
    }

    /// Removes `endpoints.json` at shutdown, so nobody reads the endpoints of a daemon that is gone.
    public static func remove(from folder: String) {
        unlink((folder as NSString).appendingPathComponent(fileName))
    }

    public static func read(from folder: String) -> BoundEndpoints? {
        let path = (folder as NSString).appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONCoding.decode(BoundEndpoints.self, from: data)
    }
}
