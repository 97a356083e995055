import SystemPackage
import Synchronization

extension EventLog {
    /// How far the log's file was written and how far it is known durable. `sync()` may run on any
    /// thread: fsync on Linux makes durable everything written before it started, and appends can
    /// continue meanwhile, so the broker's loop never waits for the disk.
    final class Durability: Sendable {
        private struct State {
            var written: Int64
            var synced: Int64
        }

        let path: String
        private let fd: FileDescriptor
        private let state: Mutex<State>

        /// For a file of `synced` bytes, all of them durable.
        init(fd: FileDescriptor, path: String, synced: Int64) {
            self.fd = fd
            self.path = path
            state = Mutex(State(written: synced, synced: synced))
        }

        func noteWritten(upTo size: Int64) {
            state.withLock { $0.written = size }
        }

        /// After the file was cut to `size` and synced.
        func noteCut(to size: Int64) {
            state.withLock { $0 = State(written: size, synced: size) }
        }

        /// Whether bytes were written since the last sync.
        var isDirty: Bool { state.withLock { $0.written != $0.synced } }

        func sync() throws(StorageError) {
            let target = state.withLock { $0.written != $0.synced ? $0.written : nil }
            guard let target else { return }
            try fileCall("fsync", FilePath(path)) { try fd.sync() }
            state.withLock { $0.synced = max($0.synced, target) }
        }
    }
}
