import Foundation
import Logging
import Synchronization
import Timeline
import ZeroMQ

public struct SnapshotSettings: Sendable {
    public var endpoints: ConsumerEndpoints
    public var dataDirectory: String
    /// Write a snapshot after this many new events…
    public var everyEvents = PipelineDefaults.snapshotEveryEvents
    /// …and this long after the first event not yet in a snapshot…
    public var everySeconds: Duration = .seconds(PipelineDefaults.snapshotEverySeconds)
    /// …and at shutdown. Keep this many snapshot files.
    public var keep = PipelineDefaults.snapshotKeep
    public var title: String = "Timeline statistics"
    public var countryNames: [CountryCode: String] = [:]
    public var security: Security?

    public init(endpoints: ConsumerEndpoints, dataDirectory: String) {
        self.endpoints = endpoints
        self.dataDirectory = dataDirectory
    }

    public var snapshotFolder: String { (dataDirectory as NSString).appendingPathComponent("snapshots") }
}

/// What `latest.json` in the snapshot folder says: which snapshot is the latest, and what it holds.
public struct SnapshotPointer: Codable, Sendable, Equatable {
    public var file: String
    public var sequence: UInt64
    public var eventCount: Int
    public var createdAt: String
}

/// Writes JSON snapshots of the event set and its statistics.
///
/// A snapshot is `snapshots/snapshot-<sequence>.json`:
/// `{"version":1,"createdAt":…,"sequence":…,"eventCount":…,"statistics":{…the JSON report…},"events":[…]}`,
/// written atomically (temporary file, fsync, rename). `snapshots/latest.json` then names it
/// (`SnapshotPointer`). On start the writer reloads the snapshot `latest.json` names and continues
/// from its sequence.
///
/// Threads: `runLoop` owns the stream and the events; other threads read only `progress`, which
/// sits behind its own lock.
public final class SnapshotWriter: SocketLoop {
    public let settings: SnapshotSettings
    let logger: Logger
    /// The stream and the events loaded from the latest snapshot, opened in `init` and owned by
    /// `runLoop`.
    private let opened: HandOff<Content>
    private let published: Mutex<Progress>

    /// How many snapshots this writer has written, the sequence of the last one, and how many
    /// events it held.
    public struct Progress: Sendable, Equatable {
        public var written = 0
        public var sequence: UInt64 = 0
        public var events = 0
    }

    /// The events so far, and the stream that brings more.
    private struct Content {
        var stream: ConsumerStream
        var events: [TimelineEvent] = []
        var ids = Set<String>()
        var statistics = Statistics()
        var writtenSequence: UInt64 = 0
    }

    public init(settings: SnapshotSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        try AtomicFile.prepareFolder(settings.snapshotFolder)
        var position = StreamPosition()
        let latest = try SnapshotWriter.loadLatest(folder: settings.snapshotFolder)
        if let latest {
            position.sequence = latest.sequence
            logger.info("Continuing from the latest snapshot", metadata: ["snapshot.sequence": "\(latest.sequence)", "snapshot.events": "\(latest.events.count)"])
        }
        var content = Content(stream: try ConsumerStream(context: context, endpoints: settings.endpoints, topics: [], position: position,
                                                         security: settings.security, logger: logger))
        if let latest {
            content.events = latest.events
            content.ids = Set(latest.events.map(\.id))
            content.statistics = Statistics(events: latest.events)
            content.writtenSequence = latest.sequence
        }
        published = Mutex(Progress(written: 0, sequence: content.writtenSequence, events: content.events.count))
        opened = HandOff(content)
        logger.info("Snapshot writer started", metadata: [
            "snapshot.folder": "\(settings.snapshotFolder)", "stream.position": "\(position.sequence)",
            "snapshot.everyEvents": "\(settings.everyEvents)", "snapshot.everySeconds": "\(settings.everySeconds)",
        ])
    }

    public var progress: Progress {
        published.withLock { $0 }
    }

    public func runLoop(stopper: LoopStopper) throws {
        guard var content = opened.take() else { return }
        let stream = content.stream
        let warnings = RateLimitedLog(logger: logger)
        var pending = 0
        var firstPending: ContinuousClock.Instant?
        defer {
            do {
                if pending > 0 || content.writtenSequence == 0 { try write(&content) }
            } catch {
                logger.error("Could not write the final snapshot; the previous one stays", metadata: ["error": "\(error)"])
            }
            stream.close()
            logger.info("Snapshot writer stopped", metadata: ["snapshot.sequence": "\(content.writtenSequence)"])
        }
        let deliver: (StreamMessage) throws -> Void = { message in
            do {
                let event = try WireMessage.decodeEvent(topic: message.topic, header: message.header, body: message.body)
                if content.ids.insert(event.id).inserted {
                    content.events.append(event)
                    content.statistics.add(event)
                }
            } catch {
                warnings.warning("body", "Skipped a message whose event does not decode", metadata: ["stream.sequence": "\(message.sequence)", "error": "\(error)"])
            }
            pending += 1
            if firstPending == nil { firstPending = .now }
        }
        guard try stream.catchUp(stopper: stopper, deliver: deliver) else { return }
        while true {
            if pending >= settings.everyEvents || (firstPending.map { $0.duration(to: .now) >= settings.everySeconds } ?? false) {
                do {
                    try write(&content)
                    pending = 0
                    firstPending = nil
                } catch {
                    // Keep running and keep the events; the next trigger tries again.
                    logger.error("Could not write a snapshot; the previous one stays", metadata: ["error": "\(error)"])
                    firstPending = .now
                }
            }
            let untilDue = firstPending.map { settings.everySeconds - $0.duration(to: .now) }
            guard try stream.step(stopper: stopper, timeout: untilDue, deliver: deliver) else { return }
        }
    }

    /// Writes one snapshot of `content` at the stream's position and `latest.json`, then prunes
    /// old snapshots.
    private func write(_ content: inout Content) throws {
        let sequence = content.stream.position.sequence
        let createdAt = ISO8601DateFormatter().string(from: Date())
        let report = Report(title: settings.title, statistics: content.statistics, generatedAt: createdAt,
                            position: ["sequence": Int(sequence)], countryNames: settings.countryNames)
        var json = "{\"version\":1,\"createdAt\":\"\(createdAt)\",\"sequence\":\(sequence),\"eventCount\":\(content.events.count),"
        json += "\"statistics\":" + report.render(.json).trimmingCharacters(in: .whitespacesAndNewlines)
        // Events in the JSON Lines contract's own key order, one a line.
        json += ",\"events\":[\n"
        json += content.events.map(EventJSON.encode).joined(separator: ",\n")
        json += "\n]}\n"
        let name = String(format: "snapshot-%012llu.json", sequence)
        try AtomicFile.write(json, to: (settings.snapshotFolder as NSString).appendingPathComponent(name))
        let pointer = SnapshotPointer(file: name, sequence: sequence, eventCount: content.events.count, createdAt: createdAt)
        try AtomicFile.write(JSONCoding.encode(pointer) + [0x0A], to: (settings.snapshotFolder as NSString).appendingPathComponent("latest.json"))
        content.writtenSequence = sequence
        let count = content.events.count
        published.withLock { progress in
            progress.written += 1
            progress.sequence = sequence
            progress.events = count
        }
        logger.info("Wrote a snapshot", metadata: ["snapshot.file": "\(name)", "snapshot.events": "\(count)", "snapshot.sequence": "\(sequence)"])
        prune(keeping: name)
    }

    private func prune(keeping newest: String) {
        let folder = settings.snapshotFolder
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let snapshots = names.filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".json") }.sorted()
        for name in snapshots.dropLast(max(1, settings.keep)) where name != newest {
            do {
                try FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
            } catch {
                logger.warning("Could not remove an old snapshot", metadata: ["snapshot.file": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// The snapshot `latest.json` names, or nil when there is none.
    public static func loadLatest(folder: String) throws -> (sequence: UInt64, events: [TimelineEvent])? {
        let latestPath = (folder as NSString).appendingPathComponent("latest.json")
        guard let latestBytes = try AtomicFile.read(latestPath) else { return nil }
        guard let pointer = try? JSONCoding.decode(SnapshotPointer.self, from: latestBytes), !pointer.file.contains("/") else {
            throw PipelineError.state(path: latestPath, reason: "does not name a snapshot file")
        }
        let path = (folder as NSString).appendingPathComponent(pointer.file)
        guard let bytes = try AtomicFile.read(path),
              let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let sequence = (object["sequence"] as? NSNumber)?.uint64Value,
              let records = object["events"] as? [[String: Any]] else {
            throw PipelineError.state(path: path, reason: "not a readable snapshot")
        }
        var events: [TimelineEvent] = []
        events.reserveCapacity(records.count)
        for (index, record) in records.enumerated() {
            do {
                events.append(try EventJSON.decode(record, fallbackSource: Provenance(document: path, line: index + 1)))
            } catch {
                throw PipelineError.state(path: path, reason: "event \(index + 1): \(error)")
            }
        }
        return (sequence, events)
    }
}
