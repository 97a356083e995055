import Foundation
import Logging
import Timeline
import ZeroMQ

public struct AggregatorSettings: Sendable {
    public var endpoints: ConsumerEndpoints
    /// Report queries (ROUTER).
    public var query: String
    public var dataDirectory: String
    /// Checkpoint after this many new events…
    public var checkpointEvery: Int = 50_000
    /// …or this many seconds after the first unsaved one.
    public var checkpointInterval: Double = 2.0
    public var title: String = "Timeline statistics"
    public var countryNames: [CountryCode: String] = [:]
    /// CURVE: server on the query endpoint, client towards the broker.
    public var security: Security?

    public init(endpoints: ConsumerEndpoints, query: String, dataDirectory: String) {
        self.endpoints = endpoints
        self.query = query
        self.dataDirectory = dataDirectory
    }
}

/// The statistics daemon: counts every event once, persists its state with the position it
/// reflects, and answers report and status queries while it runs.
///
/// It runs two loops on two threads: the stream (`runLoop`) and the query server (`queryServer`),
/// so that reports and status are answered even while it catches up on a long history.
public final class Aggregator: SocketLoop, @unchecked Sendable {
    public let settings: AggregatorSettings
    let context: ZMQContext
    let logger: Logger
    private let lock = NSLock()
    private var state: AggregatorState
    private var streamCounters = StreamCounters()
    /// The highest sequence seen while catching up, before the stream's counters are synced.
    private var streamHead: UInt64 = 0
    private let querySocket: ZMQSocket
    private let stream: ConsumerStream
    private let warnings: RateLimitedLog
    private let deadLetters: DeadLetterFile
    public let bound: BoundEndpoints

    public init(settings: AggregatorSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.context = context
        self.logger = logger
        warnings = RateLimitedLog(logger: logger)
        try AtomicFile.prepareFolder(settings.dataDirectory)
        state = try AggregatorState.load(from: settings.dataDirectory)
        deadLetters = DeadLetterFile(folder: settings.dataDirectory, logger: logger)
        stream = try ConsumerStream(context: context, endpoints: settings.endpoints, topics: [], position: state.position,
                                    security: settings.security, logger: logger)
        querySocket = try ZMQSocket(context: context, type: .router)
        try querySocket.setMaxMessageSize(64 << 10)
        try secureServer(querySocket, settings.security)
        try Broker.bind(querySocket, settings.query, role: "endpoints.query")
        bound = BoundEndpoints(["query": try querySocket.lastEndpoint ?? settings.query])
        try bound.write(to: settings.dataDirectory)
        logger.info("Aggregator started", metadata: [
            "zmq.query": "\(bound.endpoints["query"]!)", "stream.position": "\(state.position.sequence)",
            "state.events": "\(state.statistics.totalEvents)",
        ])
    }

    /// A copy of the statistics as they stand.
    public var statistics: Statistics {
        lock.withLock { state.statistics }
    }

    public var position: StreamPosition {
        lock.withLock { state.position }
    }

    public func runLoop(stopper: LoopStopper) throws {
        var unsaved = 0
        var firstUnsaved: Double?
        defer {
            do {
                try checkpoint()
            } catch {
                logger.error("Could not save the aggregator state at shutdown", metadata: ["error": "\(error)"])
            }
            stream.close()
            logger.info("Aggregator stopped", metadata: ["stream.position": "\(state.position.sequence)", "state.events": "\(state.statistics.totalEvents)"])
        }
        let deliver: (StreamMessage) throws -> Void = { [self] message in
            defer { lock.withLock { streamHead = max(streamHead, message.sequence) } }
            lock.lock()
            defer { lock.unlock() }
            do {
                let summary = try WireMessage.summarise(topic: message.topicBytes, header: message.header, body: message.bodyBytes)
                try state.apply(summary)
            } catch let error as MemoryMapError {
                throw error
            } catch {
                state.rejected += 1
                warnings.warning("body", "Rejected a message whose event does not decode", metadata: [
                    "stream.sequence": "\(message.sequence)", "producer.id": "\(message.header.producer)", "error": "\(error)",
                ])
                deadLetters.write(reason: "\(error)", sequence: message.sequence, producer: message.header.producer, body: message.body)
            }
            state.position.sequence = message.sequence
            if message.replayed { state.replayed += 1 } else { state.live += 1 }
            unsaved += 1
            if firstUnsaved == nil { firstUnsaved = monotonicSeconds() }
        }

        guard try stream.catchUp(stopper: stopper, deliver: deliver) else { return }
        syncPosition()
        var poller = Poller()
        let liveIndex = poller.add(stream.liveSocket)
        let stopIndex = poller.add(stopper.receiver)
        while true {
            let ready = try poller.poll(timeoutMilliseconds: Int(stream.idleCheckInterval * 1000))
            if ready.contains(where: { $0.index == stopIndex }) { return }
            if ready.contains(where: { $0.index == liveIndex }) {
                guard try stream.drainLive(stopper: stopper, deliver: deliver) else { return }
            } else {
                guard try stream.checkIdle(stopper: stopper, deliver: deliver) else { return }
            }
            syncPosition()
            if unsaved >= settings.checkpointEvery || (firstUnsaved.map { monotonicSeconds() - $0 >= settings.checkpointInterval } ?? false) {
                do {
                    try checkpoint()
                    unsaved = 0
                    firstUnsaved = nil
                } catch {
                    // The previous checkpoint stays whole (writes are atomic); keep counting and try
                    // again after the next interval.
                    warnings.warning("checkpoint", "Could not save the aggregator state; the previous checkpoint stays", metadata: [
                        "file.path": "\(settings.dataDirectory)/\(AggregatorState.fileName)", "error": "\(error)",
                    ])
                    firstUnsaved = monotonicSeconds()
                }
            }
        }
    }

    /// Copies the stream's position and counters into the state, under the lock.
    private func syncPosition() {
        lock.withLock {
            state.position = stream.position
            state.duplicateSequences += stream.counters.duplicates - streamCounters.duplicates
            streamCounters = stream.counters
        }
    }

    /// Saves statistics, counted ids and position together: the ids counted since the last
    /// checkpoint are appended to the keys file, then the state file is replaced atomically. Called
    /// from the stream's thread only (the one that changes the state), so nothing changes between
    /// taking the checkpoint and recording it saved; the query thread keeps answering meanwhile.
    public func checkpoint() throws {
        let checkpoint = lock.withLock {
            state.position = stream.position
            return state.checkpoint()
        }
        try AggregatorState.write(checkpoint, to: settings.dataDirectory)
        lock.withLock { state.saved(checkpoint) }
    }

    /// The loop that answers queries, on its own thread.
    public var queryServer: any SocketLoop { QueryServer(aggregator: self) }

    final class QueryServer: SocketLoop, @unchecked Sendable {
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
            var poller = Poller()
            let queryIndex = poller.add(socket)
            let stopIndex = poller.add(stopper.receiver)
            while true {
                let ready = try poller.poll(timeoutMilliseconds: -1)
                if ready.contains(where: { $0.index == stopIndex }) { return }
                if ready.contains(where: { $0.index == queryIndex }) {
                    while let message = try socket.receive(dontWait: true) {
                        let (envelope, request) = ControlProtocol.splitEnvelope(message.map(\.bytes))
                        _ = try socket.send(envelope + aggregator.answer(request), dontWait: true)
                    }
                }
            }
        }
    }

    func answer(_ request: [[UInt8]]) -> [[UInt8]] {
        let command = request.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        switch command {
        case "REPORT":
            let formatName = request.count > 1 ? String(decoding: request[1], as: UTF8.self) : "json"
            guard let format = ReportFormat(rawValue: formatName) else {
                return [Array("ERROR".utf8), Array("unknown report format '\(formatName)'".utf8)]
            }
            return [Array("OK".utf8), Array(report().render(format).utf8)]
        case "STATUS":
            return [Array("OK".utf8), Array(statusJSON().utf8)]
        default:
            return [Array("ERROR".utf8), Array("unknown command '\(command)'".utf8)]
        }
    }

    public func report(generatedAt: String? = ISO8601DateFormatter().string(from: Date())) -> Report {
        lock.withLock {
            Report(title: settings.title, statistics: state.statistics, generatedAt: generatedAt,
                   position: ["sequence": Int(state.position.sequence)], countryNames: settings.countryNames)
        }
    }

    /// Position per producer and overall, lag behind the broker, and counters, as JSON.
    public func statusJSON() -> String {
        lock.withLock {
            let counters = streamCounters
            let head = max(counters.head, streamHead, state.position.sequence)
            var producers = "{"
            producers += state.position.producers.keys.sorted().map { key in
                var entry = ""
                EventJSON.appendString(key, to: &entry)
                return entry + ":\(state.position.producers[key]!)"
            }.joined(separator: ",")
            producers += "}"
            return """
            {"sequence":\(state.position.sequence),"head":\(head),"lag":\(head - state.position.sequence),\
            "events":\(state.statistics.totalEvents),"visits":\(state.statistics.totalVisits),\
            "live":\(state.live),"replayed":\(state.replayed),"duplicateSequences":\(state.duplicateSequences),\
            "duplicateEvents":\(state.duplicateEvents),"rejected":\(state.rejected),"malformed":\(counters.malformed),\
            "gapsRepaired":\(counters.gapsRepaired),"producers":\(producers)}
            """
        }
    }
}
