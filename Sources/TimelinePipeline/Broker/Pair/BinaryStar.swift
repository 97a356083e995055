import Timeline

/// The failover rules of a broker pair (the ZeroMQ Guide's Binary Star), as a pure state machine:
/// it hears the other broker's state in each heartbeat and sees client requests, and says when
/// this broker becomes active or passive. The clock is passed in, so tests drive it.
///
/// The rule that keeps one active broker: a broker becomes active on a client's request only when
/// it has not heard its peer for `peerTimeout`. A passive broker that still hears the active one
/// answers clients "passive", whatever they ask; when only the link between the two brokers is
/// cut, clients still reach the active broker and never turn to the passive one, so it never takes
/// over. Beyond Binary Star: two active brokers that hear each other (after a cut that healed,
/// each having served a side) do not both stop; the one with the older epoch steps down and
/// reconciles its log, and a starting primary waits one peer timeout before a client may make it
/// active, so a primary restarted beside an active backup rejoins as passive.
struct BinaryStar {
    enum Transition: Equatable {
        case becameActive(reason: String)
        case becamePassive(reason: String)
    }

    let role: PairRole
    let peerTimeout: Duration
    private(set) var state: PairState
    /// The peer's state as last heard, and when.
    private(set) var peer: PeerStatus?
    private(set) var lastHeard: ContinuousClock.Instant?
    /// Until then the peer counts as alive.
    private(set) var peerExpiry: ContinuousClock.Instant

    init(role: PairRole, peerTimeout: Duration, now: ContinuousClock.Instant) {
        self.role = role
        self.peerTimeout = peerTimeout
        state = role == .primary ? .startingPrimary : .startingBackup
        peerExpiry = now + peerTimeout
    }

    /// Whether the peer has been silent for the peer timeout.
    func isPeerSilent(now: ContinuousClock.Instant) -> Bool { now >= peerExpiry }

    /// The peer's state arrived (a heartbeat or an answer). `epoch` is the latest epoch this broker
    /// knows and `lastSequence` its log's last: where the two brokers meet without an active one
    /// (both starting, or one restarting beside a passive one), the one with the later history
    /// (epoch, then last sequence) serves, so a broker that missed what the other acknowledged
    /// never takes over from it; on a tie, the primary, or the broker that was passive.
    mutating func heard(_ status: PeerStatus, epoch: UInt64, lastSequence: UInt64, now: ContinuousClock.Instant) -> Transition? {
        peer = status
        lastHeard = now
        peerExpiry = now + peerTimeout
        let own = (epoch, lastSequence), other = (status.epoch, status.lastSequence)
        switch (state, status.state) {
        case (.startingPrimary, .startingBackup):
            return own >= other ? become(.active, "the backup is starting; the primary, whose history is not older, serves") : nil
        case (.startingBackup, .startingPrimary):
            return own > other ? become(.active, "the primary is starting with an older history; the backup serves") : nil
        case (.startingPrimary, .active), (.startingBackup, .active):
            return become(.passive, "the peer is active")
        case (.active, .active):
            // Both served while they could not hear each other: the later epoch keeps serving.
            if status.epoch > epoch || (status.epoch == epoch && role == .backup) {
                return become(.passive, "the peer is active too, with epoch \(status.epoch) against this broker's \(epoch)")
            }
            return nil
        case (.passive, .startingPrimary), (.passive, .startingBackup):
            return own >= other ? become(.active, "the peer is restarting; the passive broker, whose history is not older, serves") : nil
        case (.startingPrimary, .passive), (.startingBackup, .passive):
            return own > other ? become(.active, "the peer is passive with an older history; this broker serves") : nil
        case (.passive, .passive):
            // Nobody serves: the later history does, the primary on a tie.
            return own > other || (own == other && role == .primary) ? become(.active, "both brokers were passive; this one serves") : nil
        default:
            return nil
        }
    }

    /// Heard a broker on the peer endpoint that has this broker's own role (a misconfigured pair,
    /// or a third broker): it is alive, so no client may vote this broker active meanwhile, and
    /// its state counts for nothing.
    mutating func heardConflicting(now: ContinuousClock.Instant) {
        peerExpiry = now + peerTimeout
    }

    /// A client asked something. Returns whether this broker serves it, and the transition that
    /// the request caused (the client's vote for a broker whose peer is silent).
    /// A passive broker takes over only when `inStep`: it had every record the active broker
    /// counted as logged when it last heard it. One still catching up would give up records that
    /// producers were told are logged; it waits for the other broker instead.
    ///
    /// Only a request that carries the client's vote (`vote`: the client turned here because the
    /// other broker did not answer it) can make this broker active; any other is answered passive.
    mutating func clientRequest(now: ContinuousClock.Instant, vote: Bool = true, inStep: Bool = true) -> (serve: Bool, transition: Transition?) {
        switch state {
        case .active:
            return (true, nil)
        case .passive, .startingPrimary:
            guard vote, isPeerSilent(now: now), state == .startingPrimary || inStep else { return (false, nil) }
            let silence = lastHeard.map { "the peer has been silent for \((now - $0).inSeconds) s" } ?? "the peer was never heard"
            return (true, become(.active, "a client asked and \(silence)"))
        case .startingBackup:
            // A backup serves only after it has seen an active primary (Binary Star).
            return (false, nil)
        }
    }

    private mutating func become(_ next: PairState, _ reason: String) -> Transition {
        state = next
        return next == .active ? .becameActive(reason: reason) : .becamePassive(reason: reason)
    }
}
