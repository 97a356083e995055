import CZeroMQ

/// The version of the libzmq library this process is linked against (`zmq_version`).
public func zmqVersion() -> (major: Int, minor: Int, patch: Int) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (Int(major), Int(minor), Int(patch))
}

/// Whether this libzmq build supports a capability (`zmq_has`), such as `"curve"`, `"ipc"` or `"draft"`.
public func zmqHas(_ capability: String) -> Bool {
    let result = try? zmqCall("zmq_has(\(capability))") { zmq_has(capability) }
    return result == 1
}
