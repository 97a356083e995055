import Synchronization

/// A value made on one thread and handed, once, to the thread that will own it: a daemon opens
/// its stream in `init` (so a bad endpoint fails at start) and its loop takes it on the loop's
/// thread. Whoever takes it owns it; nobody else can reach it afterwards.
final class HandOff<Value>: Sendable {
    private let slot: Mutex<Value?>

    init(_ value: sending Value) {
        slot = Mutex(value)
    }

    /// The value, the first time; nil after that.
    func take() -> sending Value? {
        slot.withLock { value -> sending Value? in
            let taken = value.take()
            return taken
        }
    }
}
