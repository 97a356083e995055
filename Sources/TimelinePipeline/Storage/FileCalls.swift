import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The storage layer's system calls. Files are read and written through swift-system's
// `FileDescriptor`, which retries `EINTR` and throws `Errno`; this file adds the few calls it lacks
// in 1.8.1 (fsync, rename, unlink, mkdir, access) in the same manner, and is the one place where an
// `Errno` becomes a `StorageError` naming the path and the call.

/// Runs one file system call, turning its `Errno` into a `StorageError` naming `path` and `operation`.
@inline(__always) @discardableResult
func fileCall<Result>(_ operation: String, _ path: FilePath, _ body: () throws -> Result) throws(StorageError) -> Result {
    do {
        return try body()
    } catch let code as Errno {
        throw StorageError(path: path.string, operation: operation, code: code)
    } catch {
        // swift-system throws nothing but `Errno`; anything else is reported as an I/O error.
        throw StorageError(path: path.string, operation: operation, code: .ioError)
    }
}

/// Calls `body` until it succeeds or fails with something other than `EINTR`, as swift-system does.
private func retryingInterrupts(_ body: () -> Int32) throws(Errno) {
    while body() != 0 {
        let code = Errno(rawValue: errno)
        if code != .interrupted { throw code }
    }
}

extension FileDescriptor {
    /// Opens `path` for reading and writing, creating it (mode 0644) if needed.
    static func openForUpdate(_ path: FilePath, options: OpenOptions = []) throws(StorageError) -> FileDescriptor {
        try fileCall("open", path) {
            try FileDescriptor.open(path, .readWrite, options: options.union([.create, .closeOnExec]),
                                    permissions: [.ownerReadWrite, .groupRead, .otherRead])
        }
    }

    /// Opens `path` for appending (and reading), creating it (mode 0644) if needed: every write
    /// goes to the end of the file, whoever else appends to it.
    static func openForAppending(_ path: FilePath) throws(StorageError) -> FileDescriptor {
        try openForUpdate(path, options: .append)
    }

    /// Makes what was written to the file durable. The corresponding C function is `fsync`
    /// (swift-system 1.8.1 has no wrapper for it).
    func sync() throws(Errno) {
        try retryingInterrupts { fsync(rawValue) }
    }

    /// Reads from `offset` until `buffer` is full or the file ends; returns how many bytes it read.
    func readFully(fromAbsoluteOffset offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let got = try read(fromAbsoluteOffset: offset + Int64(filled), into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if got == 0 { break }
            filled += got
        }
        return filled
    }
}

extension FilePath {
    /// Renames this file to `target`, replacing it. The corresponding C function is `rename`.
    func move(replacing target: FilePath) throws(Errno) {
        try retryingInterrupts { rename(string, target.string) }
    }

    /// Removes this file, when it exists. The corresponding C function is `unlink`.
    func removeFile() {
        _ = unlink(string)
    }

    /// Creates this folder and any missing parent (mode 0777 less the umask, as `mkdir -p`). The
    /// corresponding C function is `mkdir`, once a level.
    func createFolders() throws(Errno) {
        var partial = root.map { FilePath(root: $0) } ?? FilePath()
        for component in components {
            partial.append(component)
            do throws(Errno) {
                try retryingInterrupts { mkdir(partial.string, 0o777) }
            } catch {
                if error != .fileExists { throw error }
            }
        }
    }

    /// Throws unless this is a folder the process may create files in. The corresponding C
    /// functions are `stat` and `access`.
    func checkWritableFolder() throws(Errno) {
        guard try stat().type == .directory else { throw .notDirectory }
        try retryingInterrupts { access(string, W_OK) }
    }
}
