import Timeline

/// The epochs of a broker pair and where each started in the log, as Kafka keeps leader epochs: a
/// broker starts a new epoch each time it becomes active, and the passive broker copies the active
/// one's list. Records before the first epoch (a log that ran before the pair did) are epoch 0.
/// Where two logs stop agreeing follows from it: the last record of an epoch is the one before the
/// next epoch's first.
struct EpochHistory: Equatable, Codable {
    private(set) var epochs: [EpochStart] = []

    init(_ epochs: [EpochStart] = []) {
        self.epochs = epochs.sorted { $0.epoch < $1.epoch }
    }

    /// Whether the list can be a pair's history: epochs above 0 and first sequences from 1, both
    /// going up (a list from the peer is checked before it is taken).
    var isConsistent: Bool {
        zip(epochs, epochs.dropFirst()).allSatisfy { $0.epoch < $1.epoch && $0.firstSequence <= $1.firstSequence }
            && epochs.allSatisfy { $0.epoch > 0 && $0.epoch <= EpochHistory.largestEpoch && $0.firstSequence > 0 }
    }

    /// The epoch a broker of `role` starts when it becomes active, above every epoch either
    /// broker knows: primaries take odd numbers and backups even ones, so two brokers that each
    /// became active while cut off from one another never share an epoch.
    static func next(after known: UInt64, role: PairRole) -> UInt64 {
        let candidate = known + 1
        let odd = candidate % 2 == 1
        return (role == .primary) == odd ? candidate : candidate + 1
    }

    /// Epochs above this are not taken from a peer (so that the next one cannot overflow).
    static let largestEpoch: UInt64 = 1 << 62

    /// Drops the epochs that begin after `sequence`, the next sequence of this broker's log: the
    /// records they describe are not in it.
    mutating func forget(after sequence: UInt64) {
        epochs.removeAll { $0.firstSequence > sequence }
    }

    /// The latest epoch known (0 before any).
    var latest: UInt64 { epochs.last?.epoch ?? 0 }

    /// Starts epoch `epoch` at `firstSequence`; epochs are only ever added above the latest.
    mutating func begin(_ epoch: UInt64, at firstSequence: UInt64) {
        precondition(epoch > latest, "epochs only go up")
        epochs.append(EpochStart(epoch: epoch, firstSequence: firstSequence))
    }

    /// The epoch of the record with `sequence`: the latest that started at or before it.
    func epoch(of sequence: UInt64) -> UInt64 {
        epochs.last { $0.firstSequence <= sequence }?.epoch ?? 0
    }

    /// Where this broker's history of epoch `asked` ends in a log whose last sequence is
    /// `lastSequence`: the largest epoch known at or below `asked`, and its last sequence (the
    /// one before the next epoch's first, at most the log's last).
    func end(of asked: UInt64, lastSequence: UInt64) -> (epoch: UInt64, lastSequence: UInt64) {
        let known = epochs.last { $0.epoch <= asked }?.epoch ?? 0
        guard let next = epochs.first(where: { $0.epoch > known }) else { return (known, lastSequence) }
        return (known, min(lastSequence, max(next.firstSequence, 1) - 1))
    }
}
