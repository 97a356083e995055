import Foundation
import Logging
import Synchronization
import Testing
@testable import TimelinePipeline

/// Lines a handler wrote, as the bytes of each write.
private final class CapturedLines: Sendable {
    private let lines = Mutex<[[UInt8]]>([])

    var output: LogLineOutput { LogLineOutput { line in self.lines.withLock { $0.append(line) } } }
    var all: [[UInt8]] { lines.withLock { $0 } }

    /// Each line parsed back as a JSON object; fails the test when one is not a single line of JSON.
    func objects(sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        try all.map { bytes in
            #expect(bytes.last == UInt8(ascii: "\n"), "a line ends with its newline", sourceLocation: sourceLocation)
            #expect(bytes.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil, "one line a write", sourceLocation: sourceLocation)
            let object = try JSONSerialization.jsonObject(with: Data(bytes))
            return try #require(object as? [String: Any], sourceLocation: sourceLocation)
        }
    }
}

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    private func logger(_ captured: CapturedLines, label: String = "timeline.test", level: Logger.Level = .trace,
                        handlerMetadata: Logger.Metadata = [:], provider: Logger.MetadataProvider? = nil) -> Logger {
        Logger(label: label) { label in
            var handler = JSONLogHandler(label: label, output: captured.output, metadataProvider: provider)
            handler.logLevel = level
            handler.metadata = handlerMetadata
            return handler
        }
    }

    @Test("A line holds ts, level, logger, msg and the metadata, keys dotted as given")
    func fields() throws {
        let captured = CapturedLines()
        logger(captured, label: "timeline.broker").notice("Broker started", metadata: ["zmq.frontend": "tcp://127.0.0.1:5601", "log.records": "42"])
        let objects = try captured.objects()
        #expect(objects.count == 1)
        let line = try #require(objects.first)
        #expect(Set(line.keys) == ["ts", "level", "logger", "msg", "metadata"])
        #expect(line["level"] as? String == "notice")
        #expect(line["logger"] as? String == "timeline.broker")
        #expect(line["msg"] as? String == "Broker started")
        let metadata = try #require(line["metadata"] as? [String: Any])
        #expect(metadata["zmq.frontend"] as? String == "tcp://127.0.0.1:5601")
        #expect(metadata["log.records"] as? String == "42")
    }

    @Test("A line without metadata has no metadata field")
    func noMetadata() throws {
        let captured = CapturedLines()
        logger(captured).info("Nothing attached")
        let line = try #require(try captured.objects().first)
        #expect(line["metadata"] == nil)
    }

    @Test("The timestamp is RFC 3339 in UTC with milliseconds")
    func timestamp() throws {
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 1_795_944_615.250_4)) == "2026-11-29T09:30:15.250Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogHandler.timestamp(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
        let captured = CapturedLines()
        logger(captured).info("Now")
        let ts = try #require(try captured.objects().first?["ts"] as? String)
        #expect(ts.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil, "got \(ts)")
    }

    @Test("Quotes, backslashes, line breaks, control characters and repaired bytes come back intact on one line")
    func escaping() throws {
        let nasty = "say \"hi\"\\ now\nnext line\r\t\u{0}\u{1B}[31m\u{7F} é 漢 🙂 " + String(decoding: [0x66, 0xFF, 0xFE, 0x67], as: UTF8.self)
        let captured = CapturedLines()
        logger(captured, label: "label \"quoted\"\n").warning("\(nasty)", metadata: ["key \"with\"\nbreak": "\(nasty)"])
        let line = try #require(try captured.objects().first)
        #expect(line["msg"] as? String == nasty)
        #expect(line["logger"] as? String == "label \"quoted\"\n")
        #expect((line["metadata"] as? [String: Any])?["key \"with\"\nbreak"] as? String == nasty)
        let bytes = try #require(captured.all.first)
        #expect(!bytes.dropLast().contains { $0 < 0x20 }, "no raw control character in the line")
    }

    @Test("Nested metadata stays nested: arrays and objects, strings inside")
    func nestedValues() throws {
        let captured = CapturedLines()
        logger(captured).info("Nested", metadata: [
            "list": .array(["a", .stringConvertible(7), .dictionary(["inner.key": "x"])]),
            "object": .dictionary(["b": "1", "c": .array([])]),
        ])
        let metadata = try #require(try captured.objects().first?["metadata"] as? [String: Any])
        let list = try #require(metadata["list"] as? [Any])
        #expect(list.count == 3)
        #expect(list[0] as? String == "a")
        #expect(list[1] as? String == "7")
        #expect((list[2] as? [String: Any])?["inner.key"] as? String == "x")
        let object = try #require(metadata["object"] as? [String: Any])
        #expect(object["b"] as? String == "1")
        #expect((object["c"] as? [Any])?.isEmpty == true)
    }

    @Test("Metadata merges handler < logger < provider < call site, the later winning")
    func mergeOrder() throws {
        let captured = CapturedLines()
        let provider = Logger.MetadataProvider { ["from": "provider", "provider.only": "p"] }
        var log = logger(captured, handlerMetadata: ["from": "handler", "handler.only": "h"], provider: provider)
        log.info("Provider over handler")
        log = logger(captured, handlerMetadata: ["from": "handler", "handler.only": "h"])
        log[metadataKey: "from"] = "logger"
        log[metadataKey: "logger.only"] = "l"
        log.info("Logger over handler")
        log.info("Call over logger", metadata: ["from": "call"])
        var withProvider = logger(captured, provider: provider)
        withProvider[metadataKey: "from"] = "logger"
        withProvider.info("Call over provider", metadata: ["from": "call"])

        let lines = try captured.objects().map { try #require($0["metadata"] as? [String: String]) }
        #expect(lines.count == 4)
        #expect(lines[0] == ["from": "provider", "handler.only": "h", "provider.only": "p"])
        #expect(lines[1] == ["from": "logger", "handler.only": "h", "logger.only": "l"])
        #expect(lines[2] == ["from": "call", "handler.only": "h", "logger.only": "l"])
        #expect(lines[3] == ["from": "call", "provider.only": "p"])
    }

    @Test("Messages under the logger's level are not written")
    func levelFilter() throws {
        let captured = CapturedLines()
        var log = logger(captured, level: .warning)
        log.debug("dropped")
        log.info("dropped")
        log.warning("kept")
        log.logLevel = .error
        log.warning("dropped")
        log.critical("kept")
        let levels = try captured.objects().map { $0["level"] as? String }
        #expect(levels == ["warning", "critical"])
    }

    @Test("An error given to the call goes into the metadata as message and type")
    func errorField() throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "it broke" } }
        let captured = CapturedLines()
        logger(captured).error("Failed", error: Broken())
        let metadata = try #require(try captured.objects().first?["metadata"] as? [String: String])
        #expect(metadata["error.message"] == "it broke")
        #expect(metadata["error.type"]?.hasSuffix("Broken") == true)
    }

    @Test("Lines logged from many threads at once each arrive whole, in one write")
    func concurrentLines() async throws {
        let captured = CapturedLines()
        let log = logger(captured)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<200 { log.info("Line", metadata: ["task": "\(task)", "index": "\(index)", "pad": "\(String(repeating: "x", count: 300))"]) }
                }
            }
        }
        let objects = try captured.objects()
        #expect(objects.count == 1_600)
        #expect(Set(objects.compactMap { ($0["metadata"] as? [String: String]).map { "\($0["task"]!)/\($0["index"]!)" } }).count == 1_600)
    }
}
