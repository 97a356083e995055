import Logging
import Timeline
import ZeroMQ

/// A broker of a pair at work, called from the broker's loop thread with the state locked: the
/// heartbeats, the other broker's requests and answers, the clients' votes, and what each change
/// of state does to the sockets.
extension BrokerState {
    /// Whether this broker serves producers and consumers: a single broker always, one of a pair
    /// while it is active.
    var isServing: Bool { pair.map { $0.star.state == .active } ?? true }

    /// The last sequence subscribers and replays may see: records held for the passive broker are
    /// not yet theirs.
    var visibleLastSequence: UInt64 {
        guard let pair, pair.holding else { return log.lastSequence }
        return pair.releasedThrough
    }

    /// A producer's position as `POSITION` answers it: what the pair has logged when records are held.
    func acknowledgedPosition(of producer: String) -> UInt64 {
        if let pair, pair.holding, !pair.window.isEmpty { return pair.window.committedPositions[producer] ?? 0 }
        return log.producerPositions[producer] ?? 0
    }

    var pairStatistics: PairStatistics? {
        guard let pair else { return nil }
        let heard = !pair.star.isPeerSilent(now: .now)
        return PairStatistics(role: "\(pair.settings.role)", state: "\(pair.star.state)", epoch: pair.epochs.latest,
                              replication: pair.settings.replication.rawValue, replicating: pair.holding, inStep: pair.inStep, peerHeard: heard,
                              peerState: pair.star.peer.map { "\($0.state)" }, peerLastSequence: pair.star.peer?.lastSequence,
                              recordsCopied: pair.counters.recordsCopied, recordsCut: pair.counters.recordsCut,
                              becameActive: pair.counters.becameActive, becamePassive: pair.counters.becamePassive,
                              droppedWhileNotActive: pair.counters.droppedWhileNotActive)
    }

    // MARK: - Records written by the active broker

    /// Publishes records just written, or holds them until the passive broker has them too. Called
    /// from inside the log's flush: it must not read the log (`records` are the bytes just written).
    mutating func publishOrHold(_ records: UnsafeRawBufferPointer, backend: ZMQSocket) throws {
        if pair?.holding == true {
            pair!.window.hold(records)
        } else {
            if publishesEvents {
                try EventLog.forEachRecord(in: records, verify: false) { topic, header, body, _ in
                    try backend.send(topic, header, body)
                }
            }
            let last = log.lastSequence
            pair?.releasedThrough = last
        }
    }

    /// After new records were written: the passive broker's held `FETCH` can have them.
    mutating func recordsWritten() throws {
        try answerHeldFetch(now: .now)
    }

    // MARK: - Clients

    /// A client asked this broker something. Returns whether it serves the request; a request
    /// carrying the vote (the client found the other broker silent) to a passive broker whose peer
    /// is silent too makes it active.
    mutating func clientVote(now: ContinuousClock.Instant, vote: Bool, frontend: ZMQSocket) throws -> Bool {
        guard pair != nil else { return true }
        let (serve, transition) = pair!.star.clientRequest(now: now, vote: vote, inStep: pair!.inStep)
        if let transition { try apply(transition, frontend: frontend) }
        if !serve, vote, pair!.star.state == .passive, pair!.star.isPeerSilent(now: now), !pair!.inStep {
            warnings.warning("pair.behind", """
                Not taking over although the active broker is silent: this broker had not caught up with it, and would lose records \
                it acknowledged; waiting for it to come back (start this broker without --ha to accept the loss)
                """, metadata: [
                    "log.lastSequence": "\(log.lastSequence)", "peer.lastSequence": "\(pair!.star.peer?.lastSequence ?? 0)",
                ])
        }
        return serve
    }

    // MARK: - The loop's timers

    /// Sends a heartbeat when one is due, notices a peer that fell silent, answers a held `FETCH`
    /// whose time is up. Returns how long the loop may wait before calling again.
    mutating func pairTick(now: ContinuousClock.Instant, frontend: ZMQSocket, backend: ZMQSocket) throws -> Duration {
        guard pair != nil else { return .milliseconds(200) }
        if pair!.star.isPeerSilent(now: now) {
            if !pair!.dealerReset {
                pair!.dealerReset = true
                pair!.copyStep = .idle
                try pair!.replaceDealer()
                logger.warning("The peer broker is silent", metadata: [
                    "pair.state": "\(pair!.star.state)", "pair.peerTimeout": "\(pair!.settings.peerTimeout.inSeconds)",
                ])
            }
            if pair!.holding { try runAlone(backend: backend, reason: "the peer broker is silent") }
        }
        if pair!.holding, pair!.window.heldBytes > pair!.settings.maxHeldBytes {
            try runAlone(backend: backend, reason: "the peer broker fell \(pair!.window.heldBytes) bytes behind")
        }
        if pair!.copyStep != .idle, let sent = pair!.copySent, now - sent > pair!.settings.heartbeatInterval * 2 + .milliseconds(100) {
            // The answer is not coming (lost with a reset connection, or the request never left):
            // start again from EPOCHEND, which also checks the logs still agree.
            warnings.warning("peer.lost", "No answer from the active broker to a copy request; copying starts again", metadata: [
                "log.lastSequence": "\(log.lastSequence)",
            ])
            pair!.copyStep = .idle
        }
        if now >= pair!.nextHeartbeat {
            pair!.nextHeartbeat = now + pair!.settings.heartbeatInterval
            let hello = ControlRequest(id: pair!.takeRequestID(), PeerCommand.hello(ownStatus))
            _ = try pair!.dealer.send(hello.frames(), dontWait: true)
        }
        try answerHeldFetch(now: now)
        try startCopyingIfDue()
        return max(.milliseconds(1), pair!.nextHeartbeat - now)
    }

    /// Stops holding records for the peer: publishes what was held and runs alone.
    private mutating func runAlone(backend: ZMQSocket, reason: String) throws {
        let publishing = publishesEvents
        try pair!.window.release(through: .max) { topic, header, body in
            if publishing { try backend.send(topic, header, body) }
        }
        pair!.holding = false
        pair!.releasedThrough = log.lastSequence
        logger.warning("The active broker runs alone: records no longer wait for the peer", metadata: ["reason": "\(reason)"])
    }

    // MARK: - The other broker's requests (peer endpoint)

    mutating func answerPeerRequests(frontend: ZMQSocket, backend: ZMQSocket) throws {
        guard let router = pair?.router else { return }
        while let message = try router.receive(dontWait: true) {
            let (envelope, frames) = ControlProtocol.splitEnvelope(message.map(\.bytes))
            let now = ContinuousClock.now
            let request: ControlRequest<PeerCommand>
            do {
                request = try ControlRequest<PeerCommand>.decode(frames)
            } catch {
                warnings.warning("peer.request", "Answered a malformed request on the peer endpoint", metadata: ["error": "\(error)"])
                _ = try router.send(envelope + ControlReply(id: error.requestID, PeerAnswer.error(error.message)).frames(), dontWait: true)
                continue
            }
            let answer: PeerAnswer?
            switch request.message {
            case .hello(let status):
                answer = try heardPeer(status, now: now, frontend: frontend)
            case .epochEnd(let epoch):
                let end = pair!.epochs.end(of: epoch, lastSequence: log.lastSequence)
                answer = .epochEnd(epoch: end.epoch, lastSequence: end.lastSequence)
            case .fetch(let after, let checksum):
                answer = try fetch(after: after, checksum: checksum, envelope: envelope, requestID: request.id ?? 0, now: now, backend: backend)
            }
            if let answer { _ = try router.send(envelope + ControlReply(id: request.id, answer).frames(), dontWait: true) }
        }
    }

    /// The peer's state from a heartbeat, either way; returns this broker's own for the reply.
    private mutating func heardPeer(_ status: PeerStatus, now: ContinuousClock.Instant, frontend: ZMQSocket) throws -> PeerAnswer {
        if status.role == pair!.settings.role {
            // Two brokers of the same role: neither may serve on a client's vote while it hears the other.
            pair!.star.heardConflicting(now: now)
            warnings.warning("peer.role", "The broker on the peer endpoint has this broker's own role: a misconfigured pair? Its state is ignored", metadata: [
                "pair.role": "\(status.role)",
            ])
            return .error("both brokers are configured as \(status.role)")
        }
        if pair!.dealerReset {
            pair!.dealerReset = false
            // The active broker may have run alone meanwhile: in step again only once a chunk says so.
            pair!.inStep = false
            logger.info("The peer broker is heard again", metadata: ["peer.state": "\(status.state)", "peer.lastSequence": "\(status.lastSequence)"])
        }
        if let transition = pair!.star.heard(status, epoch: pair!.epochs.latest, lastSequence: log.lastSequence, now: now) {
            try apply(transition, frontend: frontend)
        }
        return .hello(ownStatus)
    }

    /// The passive broker asks for the records after `after`, which also says it has written
    /// everything up to there.
    /// What this broker tells its peer in a heartbeat: its state, and, when it is the active one and
    /// keeps unread records, the first sequence its durable consumers still need.
    var ownStatus: PeerStatus {
        var status = pair!.status(lastSequence: log.lastSequence)
        if pair!.star.state == .active { status.keepFrom = consumersKeepFrom }
        return status
    }

    private mutating func fetch(after: UInt64, checksum: UInt32?, envelope: [[UInt8]], requestID: UInt64,
                                now: ContinuousClock.Instant, backend: ZMQSocket) throws -> PeerAnswer? {
        guard pair!.star.state == .active else { return .error("this broker is not active") }
        guard after <= log.lastSequence else {
            // Not a FETCH after a reconcile (which keeps at most this log): the passive broker
            // starts again from EPOCHEND and cuts what this broker does not have.
            return .error("the passive broker's log goes to sequence \(after), past the active broker's last, \(log.lastSequence); reconcile first")
        }
        guard after >= log.firstSequence - 1 else {
            return .diverged("the active broker's retention deleted the records after sequence \(after), where the passive broker's log "
                + "ends; the active broker's log begins at \(log.firstSequence), so the passive one cannot copy it on from there")
        }
        if let checksum {
            let own = try log.checksum(ofRecord: after)
            guard own == checksum else {
                let ownText = own.map { String($0, radix: 16) } ?? "none"
                return .diverged("at sequence \(after) the active broker's record (epoch \(pair!.epochs.epoch(of: after))) has checksum "
                    + "\(ownText) and the passive broker's \(String(checksum, radix: 16))")
            }
        }
        try acknowledge(after, backend: backend)
        pair!.heldFetch = PairSession.HeldFetch(envelope: envelope, requestID: requestID, after: after,
                                                 deadline: now + pair!.settings.heartbeatInterval)
        try answerHeldFetch(now: now)
        return nil
    }

    /// The passive broker has written everything up to `sequence`. With synchronous replication,
    /// once it is within one chunk of this log's end, records wait for it again: the few it has
    /// yet to write (already published while it caught up) are held too, and producers' positions
    /// go back to before them until it has.
    private mutating func acknowledge(_ sequence: UInt64, backend: ZMQSocket) throws {
        if !pair!.holding, pair!.settings.replication == .sync, sequence <= log.lastSequence,
           log.lastSequence - sequence <= UInt64(settings.maxChunkRecords) {
            // At most a quarter of the window's limit behind, or holding would stop again at once.
            let budget = pair!.settings.maxHeldBytes / 4
            let behind = try log.readChunk(after: sequence, maxCount: Int(log.lastSequence - sequence), maxBytes: budget)
            guard behind.scannedThrough == log.lastSequence || sequence == log.lastSequence else { return }
            try behind.bytes.withUnsafeBytes { bytes in
                try pair!.window.begin(positions: log.producerPositions, unacknowledged: bytes, publishedThrough: log.lastSequence)
            }
            pair!.holding = true
            pair!.releasedThrough = log.lastSequence
            logger.info("The peer broker has caught up: records count as logged once both brokers wrote them", metadata: [
                "log.lastSequence": "\(log.lastSequence)", "pair.peerSequence": "\(sequence)",
            ])
        }
        guard pair!.holding else { return }
        let publishing = publishesEvents
        try pair!.window.release(through: sequence) { topic, header, body in
            if publishing { try backend.send(topic, header, body) }
        }
        pair!.releasedThrough = max(pair!.releasedThrough, min(sequence, log.lastSequence))
    }

    /// Answers the held `FETCH` when there are records after it or its time is up.
    private mutating func answerHeldFetch(now: ContinuousClock.Instant) throws {
        guard let held = pair?.heldFetch else { return }
        guard held.after < log.lastSequence || now >= held.deadline else { return }
        pair!.heldFetch = nil
        // Records held for the passive broker are in memory: sent from there, the log is not read.
        let chunk: (bytes: [UInt8], last: UInt64)
        if pair!.holding, let held = try pair!.window.records(from: held.after + 1, maxBytes: 1 << 20) {
            chunk = (held.bytes, held.last)
        } else {
            let read = try log.readChunk(after: held.after, maxCount: settings.maxChunkRecords)
            chunk = (read.bytes, read.scannedThrough)
        }
        // In step: with this chunk the passive broker has every record subscribers and producers
        // may have been told of.
        let inStep = max(chunk.last, held.after) >= pair!.releasedThrough
        let answer = PeerAnswer.records(last: log.lastSequence, inStep: inStep, epochs: pair!.epochs.epochs, records: chunk.bytes)
        _ = try pair!.router.send(held.envelope + ControlReply(id: held.requestID, answer).frames(), dontWait: true)
    }

    // MARK: - The other broker's answers (this broker's requests)

    mutating func readPeerAnswers(frontend: ZMQSocket, backend: ZMQSocket) throws {
        guard let dealer = pair?.dealer else { return }
        while let message = try dealer.receive(dontWait: true) {
            let reply: ControlReply<PeerAnswer>
            do {
                reply = try ControlReply<PeerAnswer>.decode(message.map(\.bytes))
            } catch {
                warnings.warning("peer.reply", "The peer broker sent a malformed reply; copying starts again", metadata: ["error": "\(error)"])
                pair!.copyStep = .idle
                continue
            }
            let now = ContinuousClock.now
            switch reply.message {
            case .hello(let status):
                _ = try heardPeer(status, now: now, frontend: frontend)
            case .epochEnd(let epoch, let end):
                guard pair!.copyStep == .reconciling(requestID: reply.id ?? 0) else { continue }
                try reconcile(peerEpoch: epoch, peerEnd: end)
            case .records(let last, let inStep, let epochs, let records):
                guard pair!.copyStep == .fetching(requestID: reply.id ?? 0) else { continue }
                guard try copy(records, epochs: epochs) else { continue }
                if inStep != pair!.inStep {
                    pair!.inStep = inStep
                    let message: Logger.Message = inStep ? "In step with the active broker: this broker may take over" : "Behind the active broker: catching up"
                    logger.info(message, metadata: ["log.lastSequence": "\(log.lastSequence)", "peer.lastSequence": "\(last)"])
                }
            case .diverged(let detail):
                guard pair!.copyStep == .fetching(requestID: reply.id ?? 0) else { continue }
                throw PipelineError.pairDiverged(detail + "; this (passive) broker's log ends at sequence \(log.lastSequence), in epoch "
                    + "\(pair!.epochs.epoch(of: log.lastSequence)); move its data directory aside to start it afresh from the active broker")
            case .error(let text):
                warnings.warning("peer.error", "The peer broker refused a request", metadata: ["error": "\(text)"])
                if case .fetching(let id) = pair!.copyStep, id == reply.id { pair!.copyStep = .idle }
                if case .reconciling(let id) = pair!.copyStep, id == reply.id { pair!.copyStep = .idle }
            }
        }
    }

    /// A passive broker whose peer is active and heard starts copying: first it asks where the
    /// peer's history of its last epoch ends.
    private mutating func startCopyingIfDue() throws {
        if let until = logPausedUntil {
            guard ContinuousClock.now >= until else { return }
            logPausedUntil = nil
        }
        guard pair!.star.state == .passive, pair!.copyStep == .idle, pair!.star.peer?.state == .active,
              !pair!.star.isPeerSilent(now: .now) else { return }
        let id = pair!.takeRequestID()
        let epoch = pair!.epochs.epoch(of: log.lastSequence)
        guard try pair!.dealer.send(ControlRequest(id: id, PeerCommand.epochEnd(epoch: epoch)).frames(), dontWait: true) else { return }
        pair!.copyStep = .reconciling(requestID: id)
        pair!.copySent = .now
    }

    /// Cuts (and keeps aside) the records the active broker does not have in this broker's last
    /// epoch, then asks for the records after the last one both have, with its checksum.
    private mutating func reconcile(peerEpoch: UInt64, peerEnd: UInt64) throws {
        // As Kafka's followers do: when the active broker knows only an older epoch than this
        // broker's last, what this broker logged after that epoch's end here is not shared either.
        var keep = min(log.lastSequence, peerEnd)
        let ownEpoch = pair!.epochs.epoch(of: log.lastSequence)
        if peerEpoch < ownEpoch {
            keep = min(keep, pair!.epochs.end(of: peerEpoch, lastSequence: log.lastSequence).lastSequence)
        }
        if keep < log.lastSequence {
            let aside = settings.dataDirectory + "/cut-epoch\(ownEpoch)-\(keep + 1)-\(log.lastSequence).log"
            let cut = try log.cut(after: keep, asideFile: aside)
            pair!.counters.recordsCut += cut
            logger.warning("Reconciled with the active broker: records it never had are cut and kept aside", metadata: [
                "pair.ownEpoch": "\(ownEpoch)", "pair.peerEpoch": "\(peerEpoch)", "pair.agreedThrough": "\(keep)",
                "log.recordsCut": "\(cut)", "log.asideFile": "\(aside)",
            ])
        }
        try sendFetch(checksum: try log.checksum(ofRecord: log.lastSequence))
    }

    /// Asks for the records after this log's last; when the socket cannot take the request now,
    /// copying starts again at the next tick.
    private mutating func sendFetch(checksum: UInt32?) throws {
        let id = pair!.takeRequestID()
        let request = ControlRequest(id: id, PeerCommand.fetch(after: log.lastSequence, checksum: checksum))
        guard try pair!.dealer.send(request.frames(), dontWait: true) else {
            pair!.copyStep = .idle
            return
        }
        pair!.copyStep = .fetching(requestID: id)
        pair!.copySent = .now
    }

    /// Appends a chunk copied from the active broker, writes it, and asks for the next. Returns
    /// false when the chunk could not be appended (copying starts again).
    private mutating func copy(_ records: [UInt8], epochs: [EpochStart]) throws -> Bool {
        // The epochs first: a crash between the two then leaves records the list already covers,
        // never records of an epoch the list does not know (which a rejoin would cut).
        if try !pair!.adoptEpochs(epochs) {
            warnings.warning("peer.epochs", "The active broker sent a list of epochs that cannot be a history; keeping this broker's own", metadata: [
                "pair.epochs": "\(epochs.map { "\($0.epoch)@\($0.firstSequence)" }.joined(separator: ","))",
            ])
        }
        if !records.isEmpty {
            do {
                let count = try records.withUnsafeBytes { try log.appendReplicated($0) }
                try log.flush()
                noteLogWritten()
                pair!.counters.recordsCopied += UInt64(count)
            } catch let error as StorageError {
                // A full disk on the passive broker: it stops copying (and is not in step) until
                // a write succeeds again; the active broker runs alone meanwhile.
                pauseLog(error)
                pair!.copyStep = .idle
                pair!.inStep = false
                return false
            } catch let error as ReplicationError {
                warnings.warning("peer.copy", "A chunk from the active broker cannot be appended; copying starts again", metadata: [
                    "error": "\(error)", "log.lastSequence": "\(log.lastSequence)",
                ])
                pair!.copyStep = .idle
                pair!.inStep = false
                return false
            }
        }
        try sendFetch(checksum: nil)
        return true
    }

    // MARK: - Changes of state

    mutating func apply(_ transition: BinaryStar.Transition, frontend: ZMQSocket) throws {
        switch transition {
        case .becameActive(let reason):
            let epoch = try pair!.beginEpoch(at: log.lastSequence + 1)
            pair!.counters.becameActive += 1
            pair!.copyStep = .idle
            pair!.holding = false
            pair!.window.drop()
            pair!.releasedThrough = log.lastSequence
            // Subscribing is what tells producers this broker now takes their messages.
            _ = try frontend.send([[1]])
            logger.notice("This broker is now the active one", metadata: [
                "pair.role": "\(pair!.settings.role)", "pair.epoch": "\(epoch)", "reason": "\(reason)",
                "log.lastSequence": "\(log.lastSequence)",
            ])
        case .becamePassive(let reason):
            pair!.counters.becamePassive += 1
            pair!.holding = false
            pair!.window.drop()
            pair!.heldFetch = nil
            pair!.copyStep = .idle
            pair!.inStep = false
            _ = try frontend.send([[0]])
            logger.notice("This broker is now passive: it copies the active broker's log and serves no client", metadata: [
                "pair.role": "\(pair!.settings.role)", "reason": "\(reason)", "log.lastSequence": "\(log.lastSequence)",
            ])
        }
    }
}
