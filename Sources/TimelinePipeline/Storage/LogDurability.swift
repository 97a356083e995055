import SystemPackage
import Synchronization

extension EventLog {
    /// How far the active segment was written and how far it is known durable. `sync()` may run on
    /// any thread: fsync on Linux makes durable everything written before it started, and appends
    /// can continue meanwhile, so the broker's loop never waits for the disk. A roll to a new
    /// segment syncs the old one first and then points this at the new one's files; a sync already
    /// under way keeps the old files open until it is done.
    final class Durability: Sendable {
        private struct State {
            var written: Int64
            var synced: Int64
            /// The active segment's records and receive times.
            var files: [OpenFile]
            /// Moves on at each switch, so that a sync of the files before it does not count for the new ones.
            var generation = 0
            /// The first fsync that failed. Linux may drop the pages it could not write and let the
            /// next fsync succeed, so one failure is final: every later sync reports it again.
            var failure: StorageError?
        }

        private let state: Mutex<State>

        /// For files of which `synced` bytes are written, all of them durable.
        init(files: [OpenFile], synced: Int64) {
            state = Mutex(State(written: synced, synced: synced, files: files))
        }

        /// The records file being synced, for messages.
        var path: String { state.withLock { $0.files.first?.path.string ?? "" } }

        func noteWritten(upTo size: Int64) {
            state.withLock { $0.written = size }
        }

        /// After the log moved to other files (a new segment, or the same one read again after a
        /// cut), of which `size` bytes are written and durable.
        func switchTo(_ files: [OpenFile], size: Int64) {
            state.withLock { $0 = State(written: size, synced: size, files: files, generation: $0.generation + 1, failure: $0.failure) }
        }

        /// Whether bytes were written since the last sync.
        var isDirty: Bool { state.withLock { $0.written != $0.synced } }

        func sync() throws(StorageError) {
            let target = try state.withLock { state throws(StorageError) in
                if let failure = state.failure { throw failure }
                return state.written != state.synced ? (state.written, state.files, state.generation) : nil
            }
            guard let (written, files, generation) = target else { return }
            do throws(StorageError) {
                for file in files {
                    try fileCall("fsync", file.path) { try file.fd.sync() }
                }
            } catch {
                state.withLock { $0.failure = $0.failure ?? error }
                throw error
            }
            state.withLock { if $0.generation == generation { $0.synced = max($0.synced, written) } }
        }
    }
}
