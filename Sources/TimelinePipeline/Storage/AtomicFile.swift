import Foundation

/// Whole-file writes that a reader never sees half done: write a temporary file beside the target,
/// fsync it, rename it over the target, then fsync the folder so the rename itself is durable.
/// A crash at any instant leaves either the old file or the new one.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(StorageError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError(path: temporary, operation: "open") }
        var written = 0
        let failure: StorageError? = bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let result = Foundation.write(fd, buffer.baseAddress! + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return StorageError(path: temporary, operation: "write")
                }
                written += result
            }
            return nil
        }
        if let failure {
            close(fd)
            unlink(temporary)
            throw failure
        }
        if fsync(fd) != 0 {
            let error = StorageError(path: temporary, operation: "fsync")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        if rename(temporary, path) != 0 {
            let error = StorageError(path: path, operation: "rename")
            unlink(temporary)
            throw error
        }
        try syncFolder(of: path)
    }

    public static func write(_ text: String, to path: String) throws(StorageError) {
        try write(Array(text.utf8), to: path)
    }

    /// fsync on the folder holding `path`, making a rename or a new file in it durable.
    public static func syncFolder(of path: String) throws(StorageError) {
        let folder = (path as NSString).deletingLastPathComponent
        let fd = open(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError(path: folder, operation: "open") }
        defer { close(fd) }
        if fsync(fd) != 0 { throw StorageError(path: folder, operation: "fsync") }
    }

    /// Creates a folder and its parents, or says why it cannot, and checks it is writable.
    public static func prepareFolder(_ path: String) throws(StorageError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StorageError(path: path, operation: "create folder", code: (error as NSError).code == 0 ? EIO : Int32(((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code ?? Int(EACCES)))
        }
        if access(path, W_OK) != 0 { throw StorageError(path: path, operation: "write to folder") }
    }

    /// The whole file, or nil when it does not exist.
    public static func read(_ path: String) throws(StorageError) -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StorageError(path: path, operation: "read", code: EIO)
        }
        return [UInt8](data)
    }
}
