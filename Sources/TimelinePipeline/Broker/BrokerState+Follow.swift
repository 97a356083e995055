import Timeline

/// A `FOLLOW` request the broker holds until records for it arrive or its wait is over.
struct HeldFollow {
    var envelope: [[UInt8]]
    var id: UInt64?
    var query: ReplayQuery
    var deadline: ContinuousClock.Instant

    /// What the broker keeps of it, for the limit on held requests' memory.
    var bytes: Int { envelope.reduce(0) { $0 + $1.count } + query.prefixes.reduce(0) { $0 + $1.count } + 64 }
}

/// Consumers following the log: `FOLLOW` is `CHUNK` that waits at the head of the log instead of
/// answering "nothing yet", so a consumer that has everything has one request waiting at the
/// broker and gets the next records the moment they are visible, many to a frame.
///
/// Bounds: one held request per client connection (a newer one replaces it), at most
/// `maxHeldFollows` and `maxHeldFollowBytes` in all (the oldest is answered, empty, to make
/// room: its client asks again after its wait), none held longer than `longestFollowWait`.
extension BrokerState {
    static let maxHeldFollows = 1_024
    static let maxHeldFollowBytes = 4 << 20
    static let longestFollowWait: Duration = .seconds(30)

    /// A `FOLLOW` from a client: answered now when the log has records for it (or it asks not to
    /// wait), otherwise held. Nil when held.
    mutating func follow(_ query: ReplayQuery, waitMilliseconds: UInt32, envelope: [[UInt8]], id: UInt64?,
                         now: ContinuousClock.Instant, send: (BrokerAnswer, UInt64?, [[UInt8]]) throws -> Void) rethrows -> BrokerAnswer? {
        counters.followRequests += 1
        var held = HeldFollow(envelope: envelope, id: id, query: query,
                              deadline: now + min(Duration.milliseconds(Int64(waitMilliseconds)), Self.longestFollowWait))
        if waitMilliseconds == 0 || query.after < visibleLastSequence {
            let (answer, records) = followChunk(query)
            guard waitMilliseconds > 0, let scanned = Self.unmatchedScan(answer, records: records) else { return answer }
            // A filtered request that matched none of the records up to the head waits on from there.
            held.query.after = scanned
        }
        heldFollows.removeAll { $0.envelope == envelope }
        heldFollows.append(held)
        while heldFollows.count > Self.maxHeldFollows || heldFollows.reduce(0, { $0 + $1.bytes }) > Self.maxHeldFollowBytes {
            let oldest = heldFollows.removeFirst()
            try send(followChunk(oldest.query).answer, oldest.id, oldest.envelope)
        }
        return nil
    }

    /// Answers the held requests that records have reached, whose wait is over (every one when
    /// `stopping`), or that this broker can no longer serve (a broker of a pair that became
    /// passive). Returns when the next held request's wait ends.
    mutating func answerHeldFollows(now: ContinuousClock.Instant, stopping: Bool = false,
                                    send: (BrokerAnswer, UInt64?, [[UInt8]]) throws -> Void) throws -> ContinuousClock.Instant? {
        guard !heldFollows.isEmpty else { return nil }
        let visible = visibleLastSequence
        let serving = isServing
        var next: ContinuousClock.Instant?
        var kept: [HeldFollow] = []
        for var held in heldFollows {
            let due = stopping || now >= held.deadline
            if !serving {
                try send(.passive("this broker is the passive one of a pair; ask the other"), held.id, held.envelope)
                continue
            }
            if held.query.after < visible || due {
                let (answer, records) = followChunk(held.query)
                guard !due, let scanned = Self.unmatchedScan(answer, records: records) else {
                    try send(answer, held.id, held.envelope)
                    continue
                }
                held.query.after = scanned
            }
            kept.append(held)
            next = min(next ?? held.deadline, held.deadline)
        }
        heldFollows = kept
        return next
    }

    /// The chunk for a `FOLLOW`, its records counted as followed.
    mutating func followChunk(_ query: ReplayQuery) -> (answer: BrokerAnswer, records: Int) {
        let (answer, records) = chunk(query)
        counters.recordsFollowed += UInt64(records)
        return (answer, records)
    }

    /// The sequence a chunk scanned through when it holds no record and its scan reached the head
    /// (a filter matched nothing): the request can wait on from there. Nil for anything to send.
    private static func unmatchedScan(_ answer: BrokerAnswer, records: Int) -> UInt64? {
        guard records == 0, case .chunk(let last, let scanned, _) = answer, scanned >= last else { return nil }
        return scanned
    }
}
