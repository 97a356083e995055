import Testing
import Timeline
@testable import TimelinePipeline

@Suite("Binary Star failover")
struct BinaryStarTests {
    static let timeout = Duration.milliseconds(1_000)
    let start = ContinuousClock.now

    /// `milliseconds` after the test's start.
    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    func star(_ role: PairRole) -> BinaryStar { BinaryStar(role: role, peerTimeout: Self.timeout, now: start) }

    func peer(_ role: PairRole, _ state: PairState, epoch: UInt64 = 1) -> PeerStatus {
        PeerStatus(role: role, state: state, epoch: epoch, lastSequence: 10)
    }

    /// A broker of `role` made passive by hearing its peer active.
    func passive(_ role: PairRole) -> BinaryStar {
        var broker = star(role)
        _ = broker.heard(peer(role == .primary ? .backup : .primary, .active), epoch: 1, lastSequence: 10, now: at(0))
        precondition(broker.state == .passive)
        return broker
    }

    /// A broker of `role` made active: a primary by hearing the backup start, a backup by a
    /// client's vote once its (once active) peer fell silent.
    func active(_ role: PairRole) -> BinaryStar {
        var broker = star(role)
        if role == .primary {
            _ = broker.heard(peer(.backup, .startingBackup), epoch: 1, lastSequence: 10, now: at(0))
        } else {
            broker = passive(.backup)
            _ = broker.clientRequest(now: at(1_000))
        }
        precondition(broker.state == .active)
        return broker
    }

    @Test("Each role starts in its own starting state")
    func startingStates() {
        #expect(star(.primary).state == .startingPrimary)
        #expect(star(.backup).state == .startingBackup)
    }

    @Test("A starting primary that hears a starting backup with no later history becomes active")
    func primaryMeetsStartingBackup() {
        var primary = star(.primary)
        guard case .becameActive = primary.heard(peer(.backup, .startingBackup), epoch: 1, lastSequence: 10, now: at(10)) else {
            Issue.record("no transition to active")
            return
        }
        #expect(primary.state == .active)
        #expect(primary.clientRequest(now: at(20)) == (true, nil))
    }

    @Test("Two starting brokers: the one with the later history serves, whatever its role (a later epoch, then a longer log)")
    func laterHistoryServesAtStart() {
        // The backup took over (epoch 2) and acknowledged records the primary never had.
        var primary = star(.primary), backup = star(.backup)
        #expect(primary.heard(PeerStatus(role: .backup, state: .startingBackup, epoch: 2, lastSequence: 14), epoch: 1, lastSequence: 0, now: at(10)) == nil)
        #expect(primary.state == .startingPrimary)
        guard case .becameActive = backup.heard(PeerStatus(role: .primary, state: .startingPrimary, epoch: 1, lastSequence: 0),
                                                epoch: 2, lastSequence: 14, now: at(10)) else {
            Issue.record("the backup with the later history did not become active")
            return
        }
        // The same epoch: the longer log serves.
        var shorter = star(.primary), longer = star(.backup)
        #expect(shorter.heard(PeerStatus(role: .backup, state: .startingBackup, epoch: 3, lastSequence: 900), epoch: 3, lastSequence: 899, now: at(10)) == nil)
        #expect(longer.heard(PeerStatus(role: .primary, state: .startingPrimary, epoch: 3, lastSequence: 899), epoch: 3, lastSequence: 900, now: at(10))
            != nil)
        // Equal histories: the primary, never both.
        var primaryTie = star(.primary), backupTie = star(.backup)
        #expect(primaryTie.heard(PeerStatus(role: .backup, state: .startingBackup, epoch: 3, lastSequence: 900), epoch: 3, lastSequence: 900, now: at(10))
            != nil)
        #expect(backupTie.heard(PeerStatus(role: .primary, state: .startingPrimary, epoch: 3, lastSequence: 900), epoch: 3, lastSequence: 900, now: at(10))
            == nil)
    }

    @Test("A passive broker stays passive when the peer restarts with a later history, and that peer serves on hearing it")
    func restartingPeerWithLaterHistory() {
        var broker = passive(.backup)
        let restarting = PeerStatus(role: .primary, state: .startingPrimary, epoch: 1, lastSequence: 500)
        #expect(broker.heard(restarting, epoch: 1, lastSequence: 400, now: at(100)) == nil, "the passive broker is behind")
        #expect(broker.state == .passive)
        var primary = star(.primary)
        guard case .becameActive = primary.heard(PeerStatus(role: .backup, state: .passive, epoch: 1, lastSequence: 400),
                                                 epoch: 1, lastSequence: 500, now: at(100)) else {
            Issue.record("the restarting primary with the later history did not serve")
            return
        }
    }

    @Test("A starting broker of either role that hears an active peer becomes passive", arguments: [PairRole.primary, .backup])
    func startingMeetsActive(_ role: PairRole) {
        var broker = star(role)
        let other: PairRole = role == .primary ? .backup : .primary
        guard case .becamePassive = broker.heard(peer(other, .active), epoch: 0, lastSequence: 10, now: at(10)) else {
            Issue.record("no transition to passive")
            return
        }
        #expect(broker.state == .passive)
        #expect(broker.peer == peer(other, .active))
    }

    @Test("A starting backup waits for the primary: hearing it start, or hearing nothing, changes nothing")
    func startingBackupWaits() {
        var backup = star(.backup)
        #expect(backup.heard(peer(.primary, .startingPrimary), epoch: 0, lastSequence: 10, now: at(10)) == nil)
        #expect(backup.state == .startingBackup)
    }

    @Test("A passive broker refuses clients while it hears its peer, and takes over once the peer is silent for the timeout",
          arguments: [PairRole.primary, .backup])
    func passiveTakesOverAfterSilence(_ role: PairRole) {
        var broker = passive(role)
        let other: PairRole = role == .primary ? .backup : .primary
        #expect(broker.clientRequest(now: at(500)) == (false, nil))
        _ = broker.heard(peer(other, .active), epoch: 1, lastSequence: 10, now: at(900))
        #expect(!broker.isPeerSilent(now: at(1_899)))
        #expect(broker.clientRequest(now: at(1_899)) == (false, nil), "heard 999 ms ago: still alive")
        #expect(broker.state == .passive)
        #expect(broker.isPeerSilent(now: at(1_900)))
        let (serve, transition) = broker.clientRequest(now: at(1_900))
        #expect(serve)
        guard case .becameActive(let reason) = transition else {
            Issue.record("no transition to active")
            return
        }
        #expect(reason.contains("silent"))
        #expect(broker.state == .active)
    }

    @Test("A passive broker whose peer went silent does not take over until a client asks")
    func silenceAloneIsNoVote() {
        var broker = passive(.backup)
        #expect(broker.isPeerSilent(now: at(5_000)))
        #expect(broker.state == .passive)
        #expect(broker.clientRequest(now: at(5_000)).serve)
        #expect(broker.state == .active)
    }

    @Test("A passive broker that had not caught up with the active one never takes over, however long the peer is silent",
          arguments: [PairRole.primary, .backup])
    func behindPassiveWaits(_ role: PairRole) {
        var broker = passive(role)
        for milliseconds in [1_000, 5_000, 60_000] {
            let (serve, transition) = broker.clientRequest(now: at(milliseconds), inStep: false)
            #expect(!serve && transition == nil && broker.state == .passive)
        }
        // Once in step (after the peer returned and it caught up), the usual rule holds again.
        _ = broker.heard(peer(role == .primary ? .backup : .primary, .active), epoch: 1, lastSequence: 10, now: at(61_000))
        #expect(broker.clientRequest(now: at(62_000), inStep: true).serve)
        #expect(broker.state == .active)
    }

    @Test("A request without the client's vote never makes a passive broker or a starting primary active", arguments: [PairRole.primary, .backup])
    func noVoteNoTakeover(_ role: PairRole) {
        var broker = passive(role)
        #expect(broker.clientRequest(now: at(5_000), vote: false) == (false, nil))
        #expect(broker.state == .passive)
        var primary = star(.primary)
        #expect(primary.clientRequest(now: at(5_000), vote: false) == (false, nil))
        #expect(primary.state == .startingPrimary)
        #expect(broker.clientRequest(now: at(5_000), vote: true).serve)
    }

    @Test("A starting backup never takes over on a client's request, however long its peer is silent")
    func startingBackupRefusesClients() {
        var backup = star(.backup)
        for milliseconds in [0, 999, 1_000, 60_000] {
            #expect(backup.clientRequest(now: at(milliseconds)) == (false, nil))
        }
        #expect(backup.state == .startingBackup)
    }

    @Test("A starting primary takes a client's vote only after a peer timeout in which no peer was heard")
    func startingPrimaryWaitsOneTimeout() {
        var primary = star(.primary)
        #expect(primary.clientRequest(now: at(0)) == (false, nil))
        #expect(primary.clientRequest(now: at(999)) == (false, nil))
        #expect(primary.state == .startingPrimary)
        let (serve, transition) = primary.clientRequest(now: at(1_000))
        #expect(serve)
        guard case .becameActive(let reason) = transition else {
            Issue.record("no transition to active")
            return
        }
        #expect(reason.contains("never heard"))
        #expect(primary.state == .active)
    }

    @Test("A starting primary that hears a peer (neither starting backup nor active) waits a full timeout from then")
    func startingPrimaryHeardPeerWaits() {
        var primary = star(.primary)
        #expect(primary.heard(peer(.backup, .passive), epoch: 0, lastSequence: 10, now: at(800)) == nil)
        #expect(primary.state == .startingPrimary)
        #expect(primary.clientRequest(now: at(1_200)) == (false, nil), "the peer was heard 400 ms ago")
        #expect(primary.clientRequest(now: at(1_800)).serve)
        #expect(primary.state == .active)
    }

    @Test("Two active brokers: the one with the older epoch steps down, the newer keeps serving", arguments: [PairRole.primary, .backup])
    func activeActiveByEpoch(_ role: PairRole) {
        let other: PairRole = role == .primary ? .backup : .primary
        var older = active(role)
        guard case .becamePassive = older.heard(peer(other, .active, epoch: 5), epoch: 4, lastSequence: 10, now: at(1_100)) else {
            Issue.record("the older broker did not step down")
            return
        }
        #expect(older.state == .passive)

        var newer = active(role)
        #expect(newer.heard(peer(other, .active, epoch: 4), epoch: 5, lastSequence: 10, now: at(1_100)) == nil)
        #expect(newer.state == .active)
    }

    @Test("Two active brokers with the same epoch: the backup steps down, the primary keeps serving")
    func activeActiveSameEpoch() {
        var primary = active(.primary)
        #expect(primary.heard(peer(.backup, .active, epoch: 3), epoch: 3, lastSequence: 10, now: at(20)) == nil)
        #expect(primary.state == .active)

        var backup = active(.backup)
        guard case .becamePassive = backup.heard(peer(.primary, .active, epoch: 3), epoch: 3, lastSequence: 10, now: at(2_100)) else {
            Issue.record("the backup did not step down")
            return
        }
        #expect(backup.state == .passive)
    }

    @Test("A passive broker that hears its peer restarting becomes active", arguments: [PairState.startingPrimary, .startingBackup])
    func passiveHearsRestart(_ restarting: PairState) {
        var broker = passive(restarting == .startingPrimary ? .backup : .primary)
        let role: PairRole = restarting == .startingPrimary ? .primary : .backup
        guard case .becameActive = broker.heard(peer(role, restarting), epoch: 1, lastSequence: 10, now: at(100)) else {
            Issue.record("no transition to active")
            return
        }
        #expect(broker.state == .active)
    }

    @Test("Two passive brokers: the primary becomes active, the backup stays passive")
    func passivePassive() {
        var primary = passive(.primary)
        guard case .becameActive = primary.heard(peer(.backup, .passive), epoch: 1, lastSequence: 10, now: at(100)) else {
            Issue.record("the primary did not become active")
            return
        }
        var backup = passive(.backup)
        #expect(backup.heard(peer(.primary, .passive), epoch: 1, lastSequence: 10, now: at(100)) == nil)
        #expect(backup.state == .passive)
    }

    @Test("An active broker ignores a starting or passive peer and keeps serving")
    func activeKeepsServing() {
        var primary = active(.primary)
        for state in [PairState.startingBackup, .passive] {
            #expect(primary.heard(peer(.backup, state), epoch: 1, lastSequence: 10, now: at(20)) == nil)
        }
        #expect(primary.state == .active)
        #expect(primary.clientRequest(now: at(100_000)) == (true, nil), "an active broker serves even with a silent peer")
    }

    @Test("Hearing the peer records its status and when, and pushes its expiry one timeout on")
    func hearingRecordsPeer() {
        var backup = star(.backup)
        #expect(backup.peer == nil && backup.lastHeard == nil)
        #expect(backup.peerExpiry == at(1_000))
        _ = backup.heard(peer(.primary, .startingPrimary), epoch: 0, lastSequence: 10, now: at(300))
        #expect(backup.peer == peer(.primary, .startingPrimary))
        #expect(backup.lastHeard == at(300))
        #expect(backup.peerExpiry == at(1_300))
    }
}
