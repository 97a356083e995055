import Timeline

/// A `FOLLOW` request the broker holds until records arrive after its start or its wait is over.
struct HeldFollow {
    var envelope: [[UInt8]]
    var id: UInt64?
    var query: ReplayQuery
    var deadline: ContinuousClock.Instant
}

/// Consumers following the log: `FOLLOW` is `CHUNK` that waits at the head of the log instead of
/// answering "nothing yet", so a consumer that has everything has one request waiting at the
/// broker and gets the next records the moment they are visible, many to a frame.
extension BrokerState {
    /// Held requests beyond this many are answered at once (an empty chunk: the client asks
    /// again), so that clients cannot make the broker keep unbounded state.
    static let maxHeldFollows = 1_024
    /// The longest a request is held, whatever it asks.
    static let longestFollowWait: Duration = .seconds(30)

    /// A `FOLLOW` from a client: answered now when the log has something after its start (or it
    /// asks not to wait), otherwise held. Nil when held.
    mutating func follow(_ query: ReplayQuery, waitMilliseconds: UInt32, envelope: [[UInt8]], id: UInt64?,
                         now: ContinuousClock.Instant) -> BrokerAnswer? {
        guard query.after >= visibleLastSequence, waitMilliseconds > 0, heldFollows.count < Self.maxHeldFollows else {
            return answer(.follow(query, waitMilliseconds: 0))
        }
        let wait = min(Duration.milliseconds(Int64(waitMilliseconds)), Self.longestFollowWait)
        heldFollows.append(HeldFollow(envelope: envelope, id: id, query: query, deadline: now + wait))
        return nil
    }

    /// Answers the held requests that records have reached, whose wait is over, or that this
    /// broker can no longer serve (a broker of a pair that became passive). Returns when the
    /// next held request's wait ends.
    mutating func answerHeldFollows(now: ContinuousClock.Instant,
                                    send: (BrokerAnswer, UInt64?, [[UInt8]]) throws -> Void) throws -> ContinuousClock.Instant? {
        guard !heldFollows.isEmpty else { return nil }
        let visible = visibleLastSequence
        let serving = isServing
        var next: ContinuousClock.Instant?
        var kept: [HeldFollow] = []
        for held in heldFollows {
            if !serving {
                try send(.passive("this broker is the passive one of a pair; ask the other"), held.id, held.envelope)
            } else if held.query.after < visible || now >= held.deadline {
                try send(answer(.follow(held.query, waitMilliseconds: 0)), held.id, held.envelope)
            } else {
                kept.append(held)
                next = min(next ?? held.deadline, held.deadline)
            }
        }
        heldFollows = kept
        return next
    }
}
