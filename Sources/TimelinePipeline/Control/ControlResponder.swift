import Timeline
import ZeroMQ

/// The server side of the control protocol on a ROUTER socket: reads each waiting request, hands
/// the decoded command to the daemon, and sends the answer back to the client that asked, with
/// the request's id. A request that does not decode gets `ERROR` with the reason (and its id,
/// when it got as far as one); nothing a client sends can stop the loop.
struct ControlResponder<Command: ControlMessage, Answer: ControlAnswer> {
    let socket: ZMQSocket

    /// Answers every request waiting on the socket, without blocking. A reply the socket cannot
    /// take now (a client that stopped reading) is dropped: the client asks again.
    func answerWaiting(_ answer: (Command) -> Answer) throws {
        try answerWaiting { _, command in answer(command) }
    }

    /// The same, handing the daemon each request's id too (a broker of a pair reads the vote in it).
    func answerWaiting(_ answer: (UInt64?, Command) -> Answer) throws {
        try answerOrHold { _, id, command in answer(id, command) }
    }

    /// The same, letting the daemon hold a request: when `answer` returns nil, the daemon keeps
    /// the request's envelope and id and answers later with `send(_:id:to:)` (a `FOLLOW` that
    /// waits for records).
    func answerOrHold(_ answer: (_ envelope: [[UInt8]], UInt64?, Command) throws -> Answer?) throws {
        while let message = try socket.receive(dontWait: true) {
            let (envelope, frames) = ControlProtocol.splitEnvelope(message.map(\.bytes))
            let request: ControlRequest<Command>
            do {
                request = try ControlRequest<Command>.decode(frames)
            } catch {
                try send(Answer.error(error.message), id: error.requestID, to: envelope)
                continue
            }
            guard let reply = try answer(envelope, request.id, request.message) else { continue }
            try send(reply, id: request.id, to: envelope)
        }
    }

    /// Answers a request held earlier; dropped when the socket cannot take it now (the client
    /// asks again when no answer comes).
    func send(_ answer: Answer, id: UInt64?, to envelope: [[UInt8]]) throws {
        _ = try socket.send(envelope + ControlReply(id: id, answer).frames(), dontWait: true)
    }
}
