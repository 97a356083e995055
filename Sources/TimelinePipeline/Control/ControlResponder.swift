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
        while let message = try socket.receive(dontWait: true) {
            let (envelope, frames) = ControlProtocol.splitEnvelope(message.map(\.bytes))
            _ = try socket.send(envelope + Self.reply(to: frames, answer), dontWait: true)
        }
    }

    /// The reply frames for one request's frames.
    static func reply(to frames: [[UInt8]], _ answer: (Command) -> Answer) -> [[UInt8]] {
        reply(to: frames) { _, command in answer(command) }
    }

    static func reply(to frames: [[UInt8]], _ answer: (UInt64?, Command) -> Answer) -> [[UInt8]] {
        do {
            let request = try ControlRequest<Command>.decode(frames)
            return ControlReply(id: request.id, answer(request.id, request.message)).frames()
        } catch {
            return ControlReply(id: error.requestID, Answer.error(error.message)).frames()
        }
    }
}
