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
    private let state: Mutex<BrokerState>
    /// The log's fsync side, shared with the syncer thread (it has a lock of its own).
    private let durability: EventLog.Durability

    /// Opens the log and binds the three sockets; throws with the endpoint or file at fault.
    public init(settings: BrokerSettings, context: ZMQContext, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        let log = try EventLog(folder: settings.dataDirectory, logger: logger)
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

        try bindEndpoint(frontend, settings.frontend, role: "endpoints.frontend")
        try bindEndpoint(backend, settings.backend, role: "endpoints.backend")
        try bindEndpoint(replaySocket, settings.replay, role: "endpoints.replay")
        bound = BoundEndpoints([
            "frontend": try frontend.lastEndpoint ?? settings.frontend,
            "backend": try backend.lastEndpoint ?? settings.backend,
            "replay": try replaySocket.lastEndpoint ?? settings.replay,
        ])
        // The broker subscribes to everything itself: it logs every message whether or not a
        // consumer is listening, and producers know the pipeline is up when they see it.
        try frontend.send([[1]])
        try bound.write(to: settings.dataDirectory)
        logger.info("Broker listening", metadata: [
            "zmq.frontend": "\(bound.endpoints["frontend"]!)", "zmq.backend": "\(bound.endpoints["backend"]!)",
            "zmq.replay": "\(bound.endpoints["replay"]!)", "log.lastSequence": "\(log.lastSequence)",
            "log.producers": "\(log.producerPositions.count)",
        ])
        state = Mutex(BrokerState(log: log, settings: settings, logger: logger))
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
                    try state.log.sync()
                } catch {
                    logger.error("Could not sync the event log at shutdown", metadata: ["error": "\(error)"])
                }
                return state.log.lastSequence
            }
            frontend.close()
            backend.close()
            replaySocket.close()
            BoundEndpoints.remove(from: settings.dataDirectory)
            logger.info("Broker stopped", metadata: ["log.lastSequence": "\(last)"])
        }
        let control = ControlResponder<BrokerCommand, BrokerAnswer>(socket: replaySocket)
        var poller = Poller()
        let frontIndex = poller.add(frontend)
        let backIndex = poller.add(backend)
        let replayIndex = poller.add(replaySocket)
        let stopIndex = poller.add(stopper.receiver)
        while true {
            let ready = try poller.poll(timeoutMilliseconds: 200)
            // A failed fsync stops the broker: it can no longer promise what it logged is durable.
            if let failure = syncer.failure { throw failure }
            for item in ready {
                switch item.index {
                case stopIndex: return
                case frontIndex: try forwardFromProducers()
                case backIndex: try readSubscriptions()
                case replayIndex: try state.withLock { state in try control.answerWaiting { state.answer($0) } }
                default: break
                }
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
            var received = 0
            while received < 1024, state.log.pendingBytes < 1 << 20 {
                guard try frontend.receiveParts(dontWait: true, { parts in try state.admit(parts) }) != nil else { break }
                received += 1
            }
            try state.log.flush { records in
                try EventLog.forEachRecord(in: records, verify: false) { topic, header, body, _ in
                    try backend.send(topic, header, body)
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
