import Foundation
import Logging
import Synchronization
import SystemPackage
import Timeline
import ZeroMQ

public struct AggregatorSettings: Sendable {
    public var endpoints: ConsumerEndpoints
    /// Report queries (ROUTER).
    public var query: String
    public var dataDirectory: String
    /// Checkpoint after this many new events…
    public var checkpointEvery = PipelineDefaults.checkpointEvery
    /// …or this long after the first unsaved one.
    public var checkpointInterval: Duration = .seconds(PipelineDefaults.checkpointIntervalSeconds)
    public var title: String = "Timeline statistics"
    public var countryNames: [CountryCode: String] = [:]
    /// CURVE: server on the query endpoint, client towards the broker.
    public var security: Security?
    /// Where a long catch-up shows its progress.
    public var progress: ProgressDisplay = .off
    /// A snapshot writer's folder (its data folder or its `snapshots` folder) to start from when
    /// the broker's retention deleted records this aggregator has not counted.
    public var bootstrapSnapshot: String?
    /// The name under which it reports its checkpointed position to the broker (`CONSUMED`).
    public var consumerName = "aggregator"
    /// Figures for `/metrics` (position, lag, checkpoint durations); nil when metrics are off.
    public var metrics: ConsumerMetrics?

    public init(endpoints: ConsumerEndpoints, query: String, dataDirectory: String) {
        self.endpoints = endpoints
        self.query = query
        self.dataDirectory = dataDirectory
    }
}

/// The aggregator's answer to `STATUS`: its position, the broker's head as last heard, the lag,
/// what it counted, and its counters (`{"events":…,"head":…,"lag":…,…}`).
public struct AggregatorStatus: Codable, Sendable, Equatable {
    public var sequence: UInt64
    public var head: UInt64
    public var lag: UInt64
    public var events: Int
    public var visits: Int
    public var live: UInt64
    public var replayed: UInt64
    public var duplicateSequences: UInt64
    public var duplicateEvents: UInt64
    public var rejected: UInt64
    public var malformed: UInt64
    public var gapsRepaired: UInt64
    /// The last producer sequence applied, per producer id.
    public var producers: [String: UInt64]
    /// The aggregator's resident memory.
    public var residentBytes: UInt64?
}

/// The statistics daemon: counts every event once, persists its state with the position it
/// reflects, and answers report and status queries while it runs.
///
/// Threads: the stream (`runLoop`) owns the consumer stream and applies events; the query server
/// (`queryServer`) answers reports and status on a thread of its own, so they are answered even
/// while a long history is caught up on. What both read, the state and the stream's counters,
/// lives in one `Shared` value behind one lock.
public final class Aggregator: SocketLoop {
    public let settings: AggregatorSettings
    public let bound: BoundEndpoints
    let logger: Logger
    private let shared: Mutex<Shared>
    private let querySocket: ZMQSocket
    /// The stream, opened in `init` (so a bad endpoint fails at start) and owned by `runLoop`.
    private let openedStream: HandOff<ConsumerStream>

    private struct Shared {
        var state: AggregatorState
        /// The stream's counters as last copied by the stream thread.
        var stream = StreamCounters()
    }

    public init(settings: AggregatorSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        try AtomicFile.prepareFolder(settings.dataDirectory)
        let state = try AggregatorState.load(from: settings.dataDirectory)
        let stream = try ConsumerStream(context: context, endpoints: settings.endpoints, topics: [], position: state.position,
                                        security: settings.security, catchUpProgress: settings.progress, logger: logger)
        stream.metrics = settings.metrics
        openedStream = HandOff(stream)
        querySocket = try ZMQSocket(context: context, type: .router)
        try querySocket.setMaxMessageSize(64 << 10)
        try secureServer(querySocket, settings.security)
        try bindEndpoint(querySocket, settings.query, role: "endpoints.query")
        bound = BoundEndpoints(["query": try querySocket.lastEndpoint ?? settings.query])
        try bound.write(to: settings.dataDirectory)
        logger.info("Aggregator started", metadata: [
            "zmq.query": "\(bound.endpoints["query"]!)", "stream.position": "\(state.position.sequence)",
            "state.events": "\(state.statistics.totalEvents)",
        ])
        shared = Mutex(Shared(state: state))
    }

    /// A copy of the statistics as they stand.
    public var statistics: Statistics {
        shared.withLock { $0.state.statistics }
    }

    public var position: StreamPosition {
        shared.withLock { $0.state.position }
    }

    public func runLoop(stopper: LoopStopper) throws {
        guard let stream = openedStream.take() else { return }
        let warnings = RateLimitedLog(logger: logger)
        let deadLetters = DeadLetterFile(folder: settings.dataDirectory, logger: logger)
        var unsaved = 0
        var firstUnsaved: ContinuousClock.Instant?
        defer {
            do {
                try checkpoint(position: stream.position)
            } catch {
                logger.error("Could not save the aggregator state at shutdown", metadata: ["error": "\(error)"])
            }
            stream.close()
            let (sequence, events) = shared.withLock { ($0.state.position.sequence, $0.state.statistics.totalEvents) }
            logger.info("Aggregator stopped", metadata: ["stream.position": "\(sequence)", "state.events": "\(events)"])
        }
        let deliver: (StreamMessage) throws -> Void = { [self] message in
            let summary: EventSummary?
            do {
                summary = try WireMessage.summarise(topic: message.topicBytes, header: message.header, body: message.bodyBytes)
            } catch {
                summary = nil
                warnings.warning("body", "Rejected a message whose event does not decode", metadata: [
                    "stream.sequence": "\(message.sequence)", "producer.id": "\(message.header.producer)", "error": "\(error)",
                ])
                deadLetters.write(reason: "\(error)", sequence: message.sequence, producer: message.header.producer, body: message.body)
            }
            // A key set that cannot get memory (MemoryMapError) stops the aggregator: counting on
            // without it would count events twice.
            try shared.withLock { shared throws in
                if let summary { try shared.state.apply(summary) } else { shared.state.rejected += 1 }
                shared.state.position.sequence = message.sequence
                if message.replayed { shared.state.replayed += 1 } else { shared.state.live += 1 }
                shared.stream.head = max(shared.stream.head, message.sequence)
            }
            unsaved += 1
            if firstUnsaved == nil { firstUnsaved = .now }
        }

        /// Runs a turn of the stream; when records it needs were deleted by the broker's
        /// retention, starts again from the snapshot (or stops, naming what is missing).
        func turn(_ body: () throws -> Bool) throws -> Bool {
            do {
                return try body()
            } catch let PipelineError.logTrimmed(position, first, head) {
                try restore(stream, position: position, first: first, head: head)
                unsaved = 0
                firstUnsaved = nil
                return true
            }
        }
        stream.reportConsumed(settings.consumerName, through: stream.position.sequence)
        guard try turn({ try stream.catchUp(stopper: stopper, deliver: deliver) }) else { return }
        sync(stream)
        while try turn({ try stream.step(stopper: stopper, deliver: deliver) }) {
            sync(stream)
            if unsaved >= settings.checkpointEvery || (firstUnsaved.map { $0.duration(to: .now) >= settings.checkpointInterval } ?? false) {
                do {
                    let position = stream.position
                    try checkpoint(position: position)
                    stream.reportConsumed(settings.consumerName, through: position.sequence)
                    unsaved = 0
                    firstUnsaved = nil
                } catch {
                    // The previous checkpoint stays whole (writes are atomic); keep counting and try
                    // again after the next interval.
                    warnings.warning("checkpoint", "Could not save the aggregator state; the previous checkpoint stays", metadata: [
                        "file.path": "\(settings.dataDirectory)/\(AggregatorState.fileName)", "error": "\(error)",
                    ])
                    firstUnsaved = .now
                }
            }
        }
    }

    /// Replaces the state with the one of the latest snapshot in `settings.bootstrapSnapshot` (its
    /// events counted afresh, its sequence the position) when it covers the records retention
    /// deleted, checkpoints it, and moves the stream there. Otherwise throws, naming the
    /// sequences nothing covers.
    private func restore(_ stream: ConsumerStream, position: UInt64, first: UInt64, head: UInt64) throws {
        let trimmed = PipelineError.logTrimmed(position: position, first: first, head: head)
        guard let given = settings.bootstrapSnapshot else { throw trimmed }
        let folder = FileManager.default.fileExists(atPath: (given as NSString).appendingPathComponent("latest.json"))
            ? given : (given as NSString).appendingPathComponent("snapshots")
        guard let snapshot = try SnapshotFiles.readPointer(folder: folder) else {
            throw PipelineError.state(path: folder, reason: "holds no snapshot (no latest.json) to start from; "
                + trimmed.description)
        }
        guard snapshot.sequence >= first - 1 else {
            throw PipelineError.state(path: folder, reason: "its latest snapshot is at sequence \(snapshot.sequence), but the broker's log begins at "
                + "sequence \(first): sequences \(snapshot.sequence + 1)-\(first - 1) are in neither, and statistics without them would be wrong")
        }
        guard snapshot.sequence > position else { throw trimmed }
        // A snapshot past the broker's last record is from another log: counting on from it would
        // drop the broker's records as repeats.
        guard snapshot.sequence <= head else {
            throw PipelineError.state(path: folder, reason: "its latest snapshot is at sequence \(snapshot.sequence), past the broker's last, "
                + "\(head): it is not a snapshot of this broker's log")
        }
        // The snapshot's events, a line at a time, counted as if they had come from the broker.
        var state = AggregatorState()
        let path = FilePath(folder).appending(snapshot.file).string
        var taken = 0
        let count = try SnapshotFiles.forEachEvent(inSnapshot: path) { json in
            taken += 1
            guard taken <= snapshot.eventCount else {
                throw PipelineError.state(path: path, reason: "holds more events than latest.json says (\(snapshot.eventCount))")
            }
            do {
                try state.apply(try EventJSON.summary(of: json))
            } catch let error as EventDecodingError {
                throw PipelineError.state(path: path, reason: "an event does not decode: \(error)")
            }
        }
        guard count == snapshot.eventCount else {
            throw PipelineError.state(path: path, reason: "holds \(count) events; latest.json says \(snapshot.eventCount)")
        }
        state.position = StreamPosition(sequence: snapshot.sequence)
        let counters = shared.withLock { $0.state }
        state.live = counters.live
        state.replayed = counters.replayed
        state.duplicateSequences = counters.duplicateSequences
        state.rejected = counters.rejected
        // The old state goes first: a crash before the new one is written starts from nothing and
        // restores again, never from a state file whose keys were replaced.
        FilePath(settings.dataDirectory).appending(AggregatorState.fileName).removeFile()
        try AtomicFile.syncFolder(of: FilePath(settings.dataDirectory).appending(AggregatorState.fileName).string)
        let checkpoint = state.checkpoint()
        try AggregatorState.write(checkpoint, to: settings.dataDirectory)
        state.saved(checkpoint)
        let events = state.countedEvents
        shared.withLock { $0.state = state }
        stream.reposition(to: state.position)
        logger.notice("Started again from a snapshot: the broker's retention deleted records this aggregator had not counted", metadata: [
            "snapshot.folder": "\(folder)", "snapshot.sequence": "\(snapshot.sequence)", "state.events": "\(events)",
            "stream.previousPosition": "\(position)", "log.firstSequence": "\(first)",
        ])
    }

    /// Copies the stream's position and counters into the shared state.
    private func sync(_ stream: ConsumerStream) {
        let position = stream.position, counters = stream.counters
        shared.withLock { shared in
            shared.state.position = position
            shared.state.duplicateSequences += counters.duplicates - shared.stream.duplicates
            let head = max(shared.stream.head, counters.head)
            shared.stream = counters
            shared.stream.head = head
        }
    }

    /// Saves statistics, counted ids and position together: the ids counted since the last
    /// checkpoint are appended to the keys file, then the state file is replaced atomically. Runs
    /// on the stream's thread (the one that changes the state), so nothing changes between taking
    /// the checkpoint and recording it saved; the query thread keeps answering meanwhile.
    private func checkpoint(position: StreamPosition) throws {
        let started = ContinuousClock.now
        let checkpoint = shared.withLock { shared in
            shared.state.position = position
            return shared.state.checkpoint()
        }
        try AggregatorState.write(checkpoint, to: settings.dataDirectory)
        shared.withLock { $0.state.saved(checkpoint) }
        settings.metrics?.recordSave(started.duration(to: .now))
        // Buffers freed since the last checkpoint (catch-up replies above all) go back to the system.
        FreeAllocatorMemory.release()
    }

    /// The loop that answers queries, on its own thread.
    public var queryServer: any SocketLoop { QueryServer(aggregator: self) }

    final class QueryServer: SocketLoop {
        let aggregator: Aggregator

        init(aggregator: Aggregator) {
            self.aggregator = aggregator
        }

        func runLoop(stopper: LoopStopper) throws {
            let socket = aggregator.querySocket
            defer {
                socket.close()
                BoundEndpoints.remove(from: aggregator.settings.dataDirectory)
            }
            let control = ControlResponder<AggregatorCommand, AggregatorAnswer>(socket: socket)
            var poller = Poller()
            let queryIndex = poller.add(socket)
            let stopIndex = poller.add(stopper.receiver)
            while true {
                let ready = try poller.poll(timeoutMilliseconds: -1)
                if ready.contains(where: { $0.index == stopIndex }) { return }
                if ready.contains(where: { $0.index == queryIndex }) {
                    try control.answerWaiting { aggregator.answer($0) }
                }
            }
        }
    }

    func answer(_ command: AggregatorCommand) -> AggregatorAnswer {
        switch command {
        case .report(let formatName):
            guard let format = ReportFormat(rawValue: formatName) else { return .error("unknown report format '\(formatName)'") }
            return .ok(Array(report().render(format).utf8))
        case .query(let query):
            let (statistics, sequence) = shared.withLock { ($0.state.statistics, $0.state.position.sequence) }
            do {
                return .ok(Array(try query.answer(statistics: statistics, title: settings.title,
                                                  generatedAt: ISO8601DateFormatter().string(from: Date()),
                                                  position: ["sequence": Int(sequence)], countryNames: settings.countryNames).utf8))
            } catch {
                return .error("\(error)")
            }
        case .status:
            return .ok(JSONCoding.encode(status))
        }
    }

    public func report(generatedAt: String? = ISO8601DateFormatter().string(from: Date())) -> Report {
        let (statistics, sequence) = shared.withLock { ($0.state.statistics, $0.state.position.sequence) }
        return Report(title: settings.title, statistics: statistics, generatedAt: generatedAt,
                      position: ["sequence": Int(sequence)], countryNames: settings.countryNames)
    }

    /// Position per producer and overall, lag behind the broker, and counters.
    public var status: AggregatorStatus {
        // Read in place: a copy of the state would share its key set and make the next insert copy it.
        let resident = ProcessFigures.residentBytes()
        return shared.withLock { shared in
            let position = shared.state.position
            let head = max(shared.stream.head, position.sequence)
            return AggregatorStatus(
                sequence: position.sequence, head: head, lag: head - position.sequence,
                events: shared.state.statistics.totalEvents, visits: shared.state.statistics.totalVisits,
                live: shared.state.live, replayed: shared.state.replayed, duplicateSequences: shared.state.duplicateSequences,
                duplicateEvents: shared.state.duplicateEvents, rejected: shared.state.rejected, malformed: shared.stream.malformed,
                gapsRepaired: shared.stream.gapsRepaired, producers: position.producers, residentBytes: resident)
        }
    }
}
