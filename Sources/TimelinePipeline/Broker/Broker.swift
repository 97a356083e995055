import Logging
import Synchronization
import Timeline
import ZeroMQ

/// The rendezvous of the pipeline: an XSUB/XPUB proxy that also keeps the durable event log.
///
/// Every message from a producer is checked (three frames, a version-1 header), given the next
/// sequence number, written to the log, and then published to subscribers. A producer's message
/// that repeats a producer sequence already logged is dropped (a resend after a reconnect); one that
/// skips ahead is dropped too, and the producer, which asks for its position when it reconnects,
/// sends the missing ones again in order.
///
/// Threads: `runLoop` runs on a thread of its own and owns the sockets; the log, the counters and
/// everything else that changes live in one `BrokerState` behind one lock, held for a round of
/// the loop at a time, so other threads can read the counters between rounds. The log is fsynced
/// by a `LogSyncer` on a third thread.
public final class Broker: SocketLoop {
    public let settings: BrokerSettings
    /// The endpoints as bound, wildcard ports resolved.
    public let bound: BoundEndpoints
    let logger: Logger
    private let frontend: ZMQSocket
    private let backend: ZMQSocket
    private let replaySocket: ZMQSocket
    /// Connections and disconnections on the backend: per-event messages are published only while
    /// something is connected or subscribed there (`BrokerState.publishesEvents`); the pipeline's
    /// own consumers `FOLLOW` the log instead.
    private let backendMonitor: SocketMonitor
    private let state: Mutex<BrokerState>
    /// The log's fsync side, shared with the syncer thread (it has a lock of its own).
    private let durability: EventLog.Durability

    /// Opens the log and binds the three sockets; throws with the endpoint or file at fault.
    public init(settings: BrokerSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let log = try EventLog(folder: settings.dataDirectory, segmentBytes: settings.segmentBytes, logger: logger)
        durability = log.syncHandle

        frontend = try ZMQSocket(context: context, type: .xsub)
        try frontend.setReceiveHighWaterMark(settings.receiveHighWaterMark)
        try frontend.setMaxMessageSize(settings.maxMessageBytes)
        try frontend.setTCPKeepalive(idle: settings.keepaliveIdleSeconds, interval: 2, count: 3)
        backend = try ZMQSocket(context: context, type: .xpub)
        try backend.setSendHighWaterMark(settings.sendHighWaterMark)
        try backend.setXPubVerbose(true)
        try backend.setMaxMessageSize(4096)
        try backend.setTCPKeepalive(idle: settings.keepaliveIdleSeconds, interval: 2, count: 3)
        replaySocket = try ZMQSocket(context: context, type: .router)
        try replaySocket.setMaxMessageSize(64 << 10)
        try replaySocket.setSendHighWaterMark(1_000)
        for socket in [frontend, backend, replaySocket] { try secureServer(socket, settings.security) }
        backendMonitor = try backend.monitor(events: [.accepted, .disconnected])

        try bindEndpoint(frontend, settings.frontend, role: "endpoints.frontend")
        try bindEndpoint(backend, settings.backend, role: "endpoints.backend")
        try bindEndpoint(replaySocket, settings.replay, role: "endpoints.replay")
        let pair = try settings.pair.map {
            try PairSession(settings: $0, folder: settings.dataDirectory, context: context, security: settings.security, now: .now)
        }
        var endpoints = [
            "frontend": try frontend.lastEndpoint ?? settings.frontend,
            "backend": try backend.lastEndpoint ?? settings.backend,
            "replay": try replaySocket.lastEndpoint ?? settings.replay,
        ]
        if let pair { endpoints["peer"] = pair.boundListen }
        bound = BoundEndpoints(endpoints)
        // The broker subscribes to everything itself: it logs every message whether or not a
        // consumer is listening, and producers know the pipeline is up when they see it. A broker
        // of a pair subscribes only when it becomes the active one.
        if pair == nil { try frontend.send([[1]]) }
        try bound.write(to: settings.dataDirectory)
        logger.info("Broker listening", metadata: [
            "zmq.frontend": "\(bound.endpoints["frontend"]!)", "zmq.backend": "\(bound.endpoints["backend"]!)",
            "zmq.replay": "\(bound.endpoints["replay"]!)", "log.lastSequence": "\(log.lastSequence)",
            "log.producers": "\(log.producerPositions.count)",
        ])
        if let pair {
            logger.info("Broker of a pair, starting", metadata: [
                "pair.role": "\(pair.settings.role)", "pair.peer": "\(pair.settings.peer)", "pair.listen": "\(pair.boundListen)",
                "pair.replication": "\(pair.settings.replication.rawValue)", "pair.epoch": "\(pair.epochs.latest)",
            ])
        }
        state = Mutex(BrokerState(log: log, settings: settings, logger: logger, pair: pair))
    }

    public var lastSequence: UInt64 {
        state.withLock { $0.log.lastSequence }
    }

    /// The broker's counters and the log's extent, as `STATS` answers them.
    public var statistics: BrokerStatistics {
        state.withLock { $0.statistics }
    }

    public func runLoop(stopper: LoopStopper) throws {
        let syncer = LogSyncer(durability, interval: settings.fsyncInterval, logger: logger)
        syncer.start()
        defer {
            syncer.stop()
            let last = state.withLock { state in
                do {
                    try state.log.close()
                } catch {
                    logger.error("Could not sync and close the event log at shutdown", metadata: ["error": "\(error)"])
                }
                return state.log.lastSequence
            }
            state.withLock { $0.pair?.close() }
            frontend.close()
            backendMonitor.close()
            backend.close()
            replaySocket.close()
            BoundEndpoints.remove(from: settings.dataDirectory)
            logger.info("Broker stopped", metadata: ["log.lastSequence": "\(last)"])
        }
        let control = ControlResponder<BrokerCommand, BrokerAnswer>(socket: replaySocket)
        let frontend = frontend, backend = backend
        var poller = Poller()
        var indexes = SocketIndexes()
        var polled: (dealer: Int, paused: Bool)?
        var wait = Duration.milliseconds(200)
        while true {
            // The pair's connection to its peer is replaced when the peer falls silent, and the
            // frontend is left unread while the log cannot be written: poll what is there to poll.
            let now = (dealer: state.withLock { $0.pair?.dealerGeneration ?? 0 }, paused: resumeIfDue())
            if polled.map({ $0 != now }) ?? true {
                polled = now
                (poller, indexes) = state.withLock { pollSockets($0.pair, frontend: !now.paused, stopper: stopper) }
            }
            let ready = try poller.poll(timeoutMilliseconds: wait.pollMilliseconds)
            // A failed fsync stops the broker: it can no longer promise what it logged is durable.
            if let failure = syncer.failure { throw failure }
            for item in ready {
                switch item.index {
                case indexes.stop:
                    // Held FOLLOWs get their (empty) answer now, not after a client's timeout.
                    _ = try? state.withLock { state in
                        try state.answerHeldFollows(now: .now, stopping: true) { answer, id, envelope in try control.send(answer, id: id, to: envelope) }
                    }
                    return
                case indexes.front: try forwardFromProducers()
                case indexes.back: try readSubscriptions()
                case indexes.backMonitor: try countSubscribers()
                case indexes.replay: try answerClients(control)
                case indexes.peerRequests: try state.withLock { try $0.answerPeerRequests(frontend: frontend, backend: backend) }
                case indexes.peerAnswers: try state.withLock { try $0.readPeerAnswers(frontend: frontend, backend: backend) }
                default: break
                }
            }
            wait = try state.withLock { state in
                var wait = try state.pairTick(now: .now, frontend: frontend, backend: backend)
                state.applyRetention(now: .now)
                // Records written or released this round reach the consumers waiting for them.
                let nextFollow = try state.answerHeldFollows(now: .now) { answer, id, envelope in try control.send(answer, id: id, to: envelope) }
                for until in [state.logPausedUntil, nextFollow].compactMap({ $0 }) {
                    wait = min(wait, max(.milliseconds(1), ContinuousClock.now.duration(to: until)))
                }
                return wait
            }
        }
    }

    /// Whether the log is still paused; at its retry time the frontend is read again (the next
    /// write shows whether the log can be written now).
    private func resumeIfDue() -> Bool {
        state.withLock { state in
            guard let until = state.logPausedUntil else { return false }
            guard ContinuousClock.now >= until else { return true }
            state.logPausedUntil = nil
            return false
        }
    }

    /// Where each socket sits in the poller.
    private struct SocketIndexes {
        var front = -1, back = -1, backMonitor = -1, replay = -1, stop = -1, peerRequests = -1, peerAnswers = -1
    }

    private func pollSockets(_ pair: PairSession?, frontend readFrontend: Bool, stopper: LoopStopper) -> (Poller, SocketIndexes) {
        var poller = Poller()
        var indexes = SocketIndexes()
        // Subscribers first: one that connected in this round gets the records written in it.
        indexes.back = poller.add(backend)
        indexes.backMonitor = poller.add(backendMonitor.socket)
        if readFrontend { indexes.front = poller.add(frontend) }
        indexes.replay = poller.add(replaySocket)
        indexes.stop = poller.add(stopper.receiver)
        if let pair {
            indexes.peerRequests = poller.add(pair.router)
            indexes.peerAnswers = poller.add(pair.dealer)
        }
        return (poller, indexes)
    }

    /// Answers the clients' requests on the replay endpoint; a broker of a pair that is not the
    /// active one answers `PASSIVE`, unless the request makes it active (its peer is silent).
    /// `STATS` is answered in any state.
    private func answerClients(_ control: ControlResponder<BrokerCommand, BrokerAnswer>) throws {
        let frontend = frontend
        try state.withLock { state in
            try control.answerOrHold { envelope, id, command in
                // Statistics are for watching the pair: both brokers answer, and asking is no vote.
                if case .stats = command { return state.answer(command) }
                let serve: Bool
                do {
                    serve = try state.clientVote(now: .now, vote: ControlProtocol.isVote(id), frontend: frontend)
                } catch {
                    logger.error("Could not become the active broker", metadata: ["error": "\(error)"])
                    return .error("the broker could not take over: \(error)")
                }
                guard serve else { return .passive("this broker is the passive one of a pair; ask the other") }
                if case .follow(let query, let wait) = command {
                    return try state.follow(query, waitMilliseconds: wait, envelope: envelope, id: id, now: .now) { answer, id, envelope in
                        try control.send(answer, id: id, to: envelope)
                    }
                }
                return state.answer(command)
            }
        }
    }

    /// Drains up to a round of producer messages: check each in the frames it arrived in, append
    /// the good ones to the log, write the round (one `write(2)`), then publish it from the log's
    /// buffer. Nothing is published before it is in the file.
    private func forwardFromProducers() throws {
        let frontend = frontend, backend = backend
        try state.withLock { state in
            // Up to 1024 messages or about 1 MiB of log records a round (a message may be a batch):
            // the write buffer, and what is then published at once, stay small.
            guard state.isServing else {
                // Messages that reached a broker that is not active: the producer resends them to
                // the active one, from its position there.
                while try frontend.receive(dontWait: true) != nil { state.pair?.counters.droppedWhileNotActive += 1 }
                return
            }
            let started = ContinuousClock.now
            var received = 0
            while received < 1024, state.log.pendingBytes < 1 << 20 {
                guard try frontend.receiveParts(dontWait: true, { parts in try state.admit(parts) }) != nil else { break }
                received += 1
            }
            let writing = state.log.pendingBytes > 0
            do {
                try state.log.flush { records in try state.publishOrHold(records, backend: backend) }
                if writing {
                    state.noteLogWritten()
                    settings.metrics?.recordRoundLogged(started.duration(to: .now))
                }
            } catch let error as StorageError {
                // The batch was rolled back (nothing of it published or acknowledged): its
                // producers send it again. Until the log can be written, producers wait.
                state.pauseLog(error)
                return
            }
            try state.recordsWritten()
        }
    }

    /// Counts the SUB sockets connected to the backend, from its monitor's events.
    private func countSubscribers() throws {
        while let event = try backendMonitor.next(timeoutMilliseconds: 0) {
            state.withLock { state in
                switch event.kind {
                case .accepted: state.subscriberConnections += 1
                case .disconnected: state.subscriberConnections = max(0, state.subscriberConnections - 1)
                default: break
                }
            }
        }
    }

    /// Counts subscriptions from consumers. They are not passed upstream: the broker already takes
    /// everything from producers (it logs all of it), and a producer reads a subscription as the
    /// sign that a broker (re)connected.
    private func readSubscriptions() throws {
        while let message = try backend.receive(dontWait: true) {
            guard let first = message.first?.bytes.first else { continue }
            state.withLock { state in
                if first == 1 { state.subscriptions += 1 } else if first == 0 { state.subscriptions = max(0, state.subscriptions - 1) }
            }
        }
    }
}

/// Binds a daemon's socket, naming the configuration key and the endpoint when it cannot.
func bindEndpoint(_ socket: ZMQSocket, _ endpoint: String, role: String) throws {
    do {
        try socket.bind(endpoint)
    } catch {
        throw PipelineError.endpoint(role: role, endpoint: endpoint, reason: "\(error)")
    }
}
