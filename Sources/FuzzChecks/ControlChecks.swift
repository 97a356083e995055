import Timeline

/// The control protocol's codecs (`BrokerCommand`, `BrokerAnswer`, `AggregatorCommand`,
/// `AggregatorAnswer`) and the broker pair's peer protocol (`PeerCommand`, `PeerAnswer`) on any
/// frames: whatever decodes encodes back to frames that decode to the same message and request id,
/// a refusal says why, and splitting a ROUTER envelope loses no frame.
///
/// Input layout (the seeds in Tests/FuzzCorpus/FuzzControlProtocol/seeds use it): frames one after
/// another, each a `u8` length and that many bytes; a length running past the end of the input is
/// cut short there.
public struct ControlChecks: FuzzCheck {
    public init() {}

    /// Cuts one input into frames (see the layout above).
    public static func frames(of input: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var rest = input[...]
        while let length = rest.first {
            rest = rest.dropFirst()
            let frame = rest.prefix(Int(length))
            rest = rest.dropFirst(frame.count)
            frames.append(Array(frame))
        }
        return frames
    }

    /// The inverse of `frames(of:)` for frames of at most 255 bytes: how a seed is written.
    public static func input(of frames: [[UInt8]]) -> [UInt8] {
        frames.flatMap { [UInt8(min($0.count, 255))] + $0.prefix(255) }
    }

    public func violations(in input: [UInt8]) -> [String] {
        let frames = Self.frames(of: input)
        var broken: [String] = []
        broken += roundTrip(frames, as: BrokerCommand.self)
        broken += roundTrip(frames, as: BrokerAnswer.self)
        broken += roundTrip(frames, as: AggregatorCommand.self)
        broken += roundTrip(frames, as: AggregatorAnswer.self)
        broken += roundTrip(frames, as: PeerCommand.self)
        broken += roundTrip(frames, as: PeerAnswer.self)
        let (envelope, request) = ControlProtocol.splitEnvelope(frames)
        if envelope + request != frames {
            broken.append("splitting the envelope of \(frames.count) frames gave \(envelope.count) + \(request.count) frames that do not add up to them")
        }
        return broken
    }

    private func roundTrip<Message: ControlMessage>(_ frames: [[UInt8]], as type: Message.Type) -> [String] {
        let decoded: (id: UInt64?, message: Message)
        do {
            decoded = try Message.decode(frames)
        } catch {
            return error.message.isEmpty ? ["\(Message.self) refused \(frames.count) frames without saying why"] : []
        }
        let again = decoded.message.encoded(id: decoded.id)
        do {
            let redecoded = try Message.decode(again)
            if redecoded.id != decoded.id || redecoded.message != decoded.message {
                return ["\(Message.self) \(decoded) became \(redecoded) in a round trip"]
            }
        } catch {
            return ["\(Message.self) \(decoded) encoded again does not decode: \(error)"]
        }
        return []
    }
}
