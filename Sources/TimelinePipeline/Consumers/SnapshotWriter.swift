import Foundation
import Logging
import Timeline
import ZeroMQ

public struct SnapshotSettings: Sendable {
    public var endpoints: ConsumerEndpoints
    public var dataDirectory: String
    /// Write a snapshot after this many new events…
    public var everyEvents: Int = 1_000
    /// …and this many seconds after the first event not yet in a snapshot…
    public var everySeconds: Double = 30
    /// …and at shutdown. Keep this many snapshot files.
    public var keep: Int = 5
    public var title: String = "Timeline statistics"
    public var countryNames: [CountryCode: String] = [:]
    public var security: Security?

    public init(endpoints: ConsumerEndpoints, dataDirectory: String) {
        self.endpoints = endpoints
        self.dataDirectory = dataDirectory
    }

    public var snapshotFolder: String { (dataDirectory as NSString).appendingPathComponent("snapshots") }
}

/// Writes JSON snapshots of the event set and its statistics.
///
/// A snapshot is `snapshots/snapshot-<sequence>.json`:
/// `{"version":1,"createdAt":…,"sequence":…,"eventCount":…,"statistics":{…the JSON report…},"events":[…]}`,
/// written atomically (temporary file, fsync, rename). `snapshots/latest.json` then names it:
/// `{"file":"snapshot-….json","sequence":…,"eventCount":…,"createdAt":…}`. On start the writer reloads
/// the snapshot `latest.json` names and continues from its sequence.
public final class SnapshotWriter: SocketLoop, @unchecked Sendable {
    public let settings: SnapshotSettings
    let context: ZMQContext
    let logger: Logger
    private let lock = NSLock()
    private var events: [TimelineEvent] = []
    private var ids = Set<String>()
    private var statistics = Statistics()
    private var rejected: UInt64 = 0
    private let stream: ConsumerStream
    private let warnings: RateLimitedLog
    private var writtenSequence: UInt64 = 0
    private var snapshotsWritten = 0

    public init(settings: SnapshotSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.context = context
        self.logger = logger
        warnings = RateLimitedLog(logger: logger)
        try AtomicFile.prepareFolder(settings.snapshotFolder)
        var position = StreamPosition()
        if let latest = try SnapshotWriter.loadLatest(folder: settings.snapshotFolder) {
            events = latest.events
            ids = Set(latest.events.map(\.id))
            statistics = Statistics(events: latest.events)
            position.sequence = latest.sequence
            writtenSequence = latest.sequence
            logger.info("Continuing from the latest snapshot", metadata: ["snapshot.sequence": "\(latest.sequence)", "snapshot.events": "\(latest.events.count)"])
        }
        stream = try ConsumerStream(context: context, endpoints: settings.endpoints, topics: [], position: position,
                                    security: settings.security, logger: logger)
        logger.info("Snapshot writer started", metadata: [
            "snapshot.folder": "\(settings.snapshotFolder)", "stream.position": "\(position.sequence)",
            "snapshot.everyEvents": "\(settings.everyEvents)", "snapshot.everySeconds": "\(settings.everySeconds)",
        ])
    }

    /// How many snapshots this writer has written, and the sequence of the last one.
    public var progress: (written: Int, sequence: UInt64, events: Int) {
        lock.withLock { (snapshotsWritten, writtenSequence, events.count) }
    }

    public func runLoop(stopper: LoopStopper) throws {
        var pending = 0
        var firstPending: Double?
        defer {
            do {
                if pending > 0 || writtenSequence == 0 { try write() }
            } catch {
                logger.error("Could not write the final snapshot; the previous one stays", metadata: ["error": "\(error)"])
            }
            stream.close()
            logger.info("Snapshot writer stopped", metadata: ["snapshot.sequence": "\(writtenSequence)"])
        }
        let deliver: (StreamMessage) throws -> Void = { [self] message in
            lock.lock()
            defer { lock.unlock() }
            do {
                let event = try WireMessage.decodeEvent(topic: message.topic, header: message.header, body: message.body)
                if ids.insert(event.id).inserted {
                    events.append(event)
                    statistics.add(event)
                }
            } catch {
                rejected += 1
                warnings.warning("body", "Skipped a message whose event does not decode", metadata: ["stream.sequence": "\(message.sequence)", "error": "\(error)"])
            }
            pending += 1
            if firstPending == nil { firstPending = monotonicSeconds() }
        }
        guard try stream.catchUp(stopper: stopper, deliver: deliver) else { return }
        var poller = Poller()
        let liveIndex = poller.add(stream.liveSocket)
        let stopIndex = poller.add(stopper.receiver)
        while true {
            if pending >= settings.everyEvents || (firstPending.map { monotonicSeconds() - $0 >= settings.everySeconds } ?? false) {
                do {
                    try write()
                    pending = 0
                    firstPending = nil
                } catch {
                    // Keep running and keep the events; the next trigger tries again.
                    logger.error("Could not write a snapshot; the previous one stays", metadata: ["error": "\(error)"])
                    firstPending = monotonicSeconds()
                }
            }
            let waitSeconds = firstPending.map { max(0, settings.everySeconds - (monotonicSeconds() - $0)) } ?? stream.idleCheckInterval
            let ready = try poller.poll(timeoutMilliseconds: Int(min(waitSeconds, stream.idleCheckInterval) * 1000) + 1)
            if ready.contains(where: { $0.index == stopIndex }) { return }
            if ready.contains(where: { $0.index == liveIndex }) {
                guard try stream.drainLive(stopper: stopper, deliver: deliver) else { return }
            } else {
                guard try stream.checkIdle(stopper: stopper, deliver: deliver) else { return }
            }
        }
    }

    /// Writes one snapshot and `latest.json`, then prunes old snapshots.
    public func write() throws {
        let (json, sequence, count) = lock.withLock { () -> (String, UInt64, Int) in
            let sequence = stream.position.sequence
            let createdAt = ISO8601DateFormatter().string(from: Date())
            let report = Report(title: settings.title, statistics: statistics, generatedAt: createdAt,
                                position: ["sequence": Int(sequence)], countryNames: settings.countryNames)
            var json = "{\"version\":1,\"createdAt\":\"\(createdAt)\",\"sequence\":\(sequence),\"eventCount\":\(events.count),"
            json += "\"statistics\":" + report.render(.json).trimmingCharacters(in: .whitespacesAndNewlines)
            json += ",\"events\":[\n"
            json += events.map(EventJSON.encode).joined(separator: ",\n")
            json += "\n]}\n"
            return (json, sequence, events.count)
        }
        let name = String(format: "snapshot-%012llu.json", sequence)
        try AtomicFile.write(json, to: (settings.snapshotFolder as NSString).appendingPathComponent(name))
        let latest = "{\"file\":\"\(name)\",\"sequence\":\(sequence),\"eventCount\":\(count),\"createdAt\":\"\(ISO8601DateFormatter().string(from: Date()))\"}\n"
        try AtomicFile.write(latest, to: (settings.snapshotFolder as NSString).appendingPathComponent("latest.json"))
        lock.withLock {
            writtenSequence = sequence
            snapshotsWritten += 1
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
        guard let pointer = try? JSONSerialization.jsonObject(with: Data(latestBytes)) as? [String: Any], let file = pointer["file"] as? String,
              !file.contains("/") else {
            throw PipelineError.state(path: latestPath, reason: "does not name a snapshot file")
        }
        let path = (folder as NSString).appendingPathComponent(file)
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
