import Foundation
import Testing
@testable import TimelinePipeline

/// `endpoints.frontend`, `.backend` and `.replay` take a list for the clients of a broker pair, from
/// every source of settings; the broker, which binds one endpoint per socket, refuses a list.
@Suite("Endpoint lists in the configuration")
struct EndpointListTests {
    static let a = "tcp://10.0.0.1:5601", b = "tcp://10.0.0.2:5601"

    /// A configuration file with `json` as its content, removed afterwards.
    @discardableResult
    static func withFile<R>(_ json: String, _ body: (String) async throws -> R) async throws -> R {
        let folder = TemporaryFolder()
        let path = folder.file("timeline.json")
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        return try await body(path)
    }

    @Test("A comma-separated flag gives the list, spaces trimmed, in order")
    func fromFlag() async throws {
        let config = try await PipelineConfiguration.load(file: nil, overrides: ["endpoints.frontend": "\(Self.a), \(Self.b)"], environment: [:])
        #expect(try config.endpoints("endpoints.frontend") == [Self.a, Self.b])
        #expect(try config.endpoints("endpoints.replay") == [PipelineDefaults.replay], "a single endpoint is a list of one")
    }

    @Test("A comma-separated environment variable gives the list")
    func fromEnvironment() async throws {
        let config = try await PipelineConfiguration.load(file: nil, environment: ["TIMELINE_ENDPOINTS_BACKEND": "\(Self.a),\(Self.b)"])
        #expect(try config.endpoints("endpoints.backend") == [Self.a, Self.b])
        #expect(try config.consumerEndpoints().backends == [Self.a, Self.b])
    }

    @Test("The file takes a JSON array of endpoints, or a comma-separated string")
    func fromFile() async throws {
        try await Self.withFile(#"{"endpoints": {"replay": ["\#(Self.a)", "\#(Self.b)"], "frontend": "\#(Self.a),\#(Self.b)"}}"#) { path in
            let config = try await PipelineConfiguration.load(file: path, environment: [:])
            #expect(try config.endpoints("endpoints.replay") == [Self.a, Self.b])
            let producer = try config.producerEndpoints()
            #expect(producer.frontends == [Self.a, Self.b] && producer.replays == [Self.a, Self.b])
        }
    }

    @Test("An array in the file holding something other than endpoints is refused, naming the key")
    func badArray() async throws {
        for json in [#"{"endpoints": {"backend": ["\#(Self.a)", 5]}}"#, #"{"endpoints": {"backend": []}}"#,
                     #"{"endpoints": {"backend": ["\#(Self.a)", "not-an-endpoint"]}}"#] {
            try await Self.withFile(json) { path in
                #expect {
                    try PipelineConfiguration.validate(file: path)
                } throws: { error in
                    "\(error)".contains("key 'endpoints.backend'")
                }
            }
        }
    }

    @Test("A list with an empty item or a repeated endpoint is refused, naming the key")
    func badLists() async throws {
        for text in ["\(Self.a),", "\(Self.a),\(Self.a)", "\(Self.a),tcp://nowhere"] {
            let config = try await PipelineConfiguration.load(file: nil, overrides: ["endpoints.replay": text], environment: [:])
            #expect {
                try config.endpoints("endpoints.replay")
            } throws: { error in
                "\(error)".contains("key 'endpoints.replay'")
            }
        }
    }

    @Test("Where one endpoint is bound (the broker), a list is refused with the key named, from a flag or from the file")
    func brokerRefusesAList() async throws {
        let flags = try await PipelineConfiguration.load(file: nil, overrides: ["endpoints.frontend": "\(Self.a),\(Self.b)"], environment: [:])
        #expect {
            try flags.string("endpoints.frontend")
        } throws: { error in
            let text = "\(error)"
            return text.contains("key 'endpoints.frontend'") && text.contains("lists 2 endpoints") && text.contains("one is bound here")
        }
        #expect(try flags.string("endpoints.backend") == PipelineDefaults.backend, "a single endpoint is read as before")
        try await Self.withFile(#"{"endpoints": {"backend": ["\#(Self.a)", "\#(Self.b)"]}}"#) { path in
            let config = try await PipelineConfiguration.load(file: path, environment: [:])
            #expect {
                try config.string("endpoints.backend")
            } throws: { error in
                "\(error)".contains("\(path): key 'endpoints.backend': lists 2 endpoints")
            }
        }
    }

    @Test("A producer's frontends and replay endpoints must pair up, one of each per broker")
    func producerPairs() async throws {
        let config = try await PipelineConfiguration.load(file: nil, overrides: ["endpoints.frontend": "\(Self.a),\(Self.b)"], environment: [:])
        #expect {
            try config.producerEndpoints()
        } throws: { error in
            "\(error)".contains("key 'endpoints.frontend': lists 2 endpoint(s) but endpoints.replay lists 1")
        }
    }
}
