import CZeroMQ

extension ZMQSocket {
    /// `ZMQ_XPUB_NODROP`: when on, a send that would exceed the high-water mark fails with EAGAIN
    /// (and a blocking send waits) instead of the message being dropped silently.
    public func setXPubNoDrop(_ on: Bool) throws(ZMQError) {
        try setOption(ZMQ_XPUB_NODROP, Int32(on ? 1 : 0))
    }
}
