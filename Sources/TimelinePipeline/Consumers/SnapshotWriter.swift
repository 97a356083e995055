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
    /// The name under which it reports each snapshot's sequence to the broker (`CONSUMED`).
    public var consumerName = "snapshot"
    public var title: String = "Timeline statistics"
    public var countryNames: [CountryCode: String] = [:]
    public var security: Security?
    /// Figures for `/metrics` (position, lag, snapshot durations); nil when metrics are off.
    public var metrics: ConsumerMetrics?
    /// Where a long catch-up shows its progress.
    public var progress: ProgressDisplay = .off

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
/// written atomically (temporary file, fsync, rename). `snapshots/latest.json` then names it
/// (`SnapshotPointer`). The events are not held in memory: each distinct event goes once to the
/// events file `snapshots/events.bin` as it arrives, and a snapshot copies them from there
/// (`SnapshotStore`). On start the writer continues from the sequence of the snapshot
/// `latest.json` names, with that snapshot's events.
///
/// Threads: `runLoop` owns the stream and the store; other threads read only `progress`, which
/// sits behind its own lock.
public final class SnapshotWriter: SocketLoop {
    public let settings: SnapshotSettings
    let logger: Logger
    /// The stream and the store, opened in `init` and owned by `runLoop`.
    private let opened: HandOff<Content>
    private let published: Mutex<Progress>

    /// How many snapshots this writer has written, the sequence of the last one, and how many
    /// events it held.
    public struct Progress: Sendable, Equatable {
        public var written = 0
        public var sequence: UInt64 = 0
        public var events = 0
    }

    /// What is kept of the events so far, and the stream that brings more.
    private struct Content {
        var stream: ConsumerStream
        var store: SnapshotStore
        var writtenSequence: UInt64 = 0
    }

    public init(settings: SnapshotSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let store = try SnapshotStore(folder: settings.snapshotFolder, logger: logger)
        var position = StreamPosition()
        if let latest = store.latest {
            position.sequence = latest.sequence
            logger.info("Continuing from the latest snapshot", metadata: ["snapshot.sequence": "\(latest.sequence)", "snapshot.events": "\(latest.eventCount)"])
        }
        let stream = try ConsumerStream(context: context, endpoints: settings.endpoints, topics: [], position: position,
                                        security: settings.security, catchUpProgress: settings.progress, logger: logger)
        stream.metrics = settings.metrics
        let content = Content(stream: stream, store: store, writtenSequence: store.latest?.sequence ?? 0)
        published = Mutex(Progress(written: 0, sequence: content.writtenSequence, events: store.eventCount))
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
        // After a failed write of the events file, the next try waits a second: the buffer it
        // retries grows with every event meanwhile (a full disk).
        var writeAgainAt: ContinuousClock.Instant?
        var syncFailed = false
        defer {
            do {
                if !syncFailed, pending > 0 || content.writtenSequence == 0 { try write(&content) }
            } catch {
                logger.error("Could not write the final snapshot; the previous one stays", metadata: ["error": "\(error)"])
            }
            stream.close()
            logger.info("Snapshot writer stopped", metadata: ["snapshot.sequence": "\(content.writtenSequence)"])
        }
        let deliver: (StreamMessage) throws -> Void = { message in
            do {
                let event = try WireMessage.decodeEvent(topic: message.topic, header: message.header, body: message.body)
                if try content.store.add(event, sequence: message.sequence), content.store.needsWrite,
                   writeAgainAt.map({ ContinuousClock.now >= $0 }) ?? true {
                    do {
                        try content.store.writeBuffered()
                        writeAgainAt = nil
                    } catch {
                        writeAgainAt = .now + .seconds(1)
                        // The events wait in memory until a write succeeds (at the latest, the next snapshot's).
                        warnings.warning("events", "Could not write to the events file; the events wait in memory", metadata: ["error": "\(error)"])
                    }
                }
            } catch let error as WireError {
                warnings.warning("body", "Skipped a message whose event does not decode", metadata: ["stream.sequence": "\(message.sequence)", "error": "\(error)"])
            }
            pending += 1
            if firstPending == nil { firstPending = .now }
        }
        stream.reportConsumed(settings.consumerName, through: content.writtenSequence)
        guard try stream.catchUp(stopper: stopper, deliver: deliver) else { return }
        while true {
            if pending >= settings.everyEvents || (firstPending.map { $0.duration(to: .now) >= settings.everySeconds } ?? false) {
                do {
                    try write(&content)
                    pending = 0
                    firstPending = nil
                } catch let error as StorageError where error.operation == "fsync" {
                    // Linux may have dropped the pages it could not write and let the next fsync
                    // succeed: the events file cannot be trusted any more. Stop; a restart cuts it
                    // back to the latest snapshot and takes the rest from the broker again.
                    logger.critical("Could not sync the events file; stopping", metadata: ["error": "\(error)"])
                    syncFailed = true
                    throw error
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
        let started = ContinuousClock.now
        let sequence = content.stream.position.sequence
        let createdAt = ISO8601DateFormatter().string(from: Date())
        let report = Report(title: settings.title, statistics: content.store.statistics, generatedAt: createdAt,
                            position: ["sequence": Int(sequence)], countryNames: settings.countryNames)
        let pointer = try content.store.writeSnapshot(sequence: sequence, createdAt: createdAt, report: report, keep: settings.keep, logger: logger)
        content.writtenSequence = sequence
        settings.metrics?.recordSave(started.duration(to: .now))
        // What a snapshot holds is passed for good: with keepUnread the broker may delete it.
        content.stream.reportConsumed(settings.consumerName, through: sequence)
        published.withLock { progress in
            progress.written += 1
            progress.sequence = sequence
            progress.events = pointer.eventCount
        }
        logger.info("Wrote a snapshot", metadata: ["snapshot.file": "\(pointer.file)", "snapshot.events": "\(pointer.eventCount)", "snapshot.sequence": "\(sequence)"])
    }
}
