import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that a reader never sees half done: write a temporary file beside the target,
/// fsync it, rename it over the target, then fsync the folder so the rename itself is durable.
/// A crash at any instant leaves either the old file or the new one.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws(StorageError) {
        do {
            try replace(path) { fd, temporary in
                _ = try fileCall("write", temporary) { try fd.writeAll(bytes) }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            // `replace` passes on what its body throws, and this body throws only StorageError.
            throw StorageError(path: path, operation: "write", code: .ioError)
        }
    }

    public static func write(_ text: String, to path: String) throws(StorageError) {
        try write(Array(text.utf8), to: path)
    }

    /// Writes a file too large to hold in memory, with the same guarantee: `fill` hands its bytes
    /// to a `Writer`, which writes them in blocks to the temporary file. An error thrown by `fill`
    /// leaves the old file in place, as a failed write does.
    static func write(to path: String, blockSize: Int = 1 << 20, _ fill: (inout Writer) throws -> Void) throws {
        try replace(path) { fd, temporary in
            var writer = Writer(fd: fd, path: temporary, blockSize: blockSize)
            try fill(&writer)
            try writer.flush()
        }
    }

    /// The one way a whole file is replaced: `write` fills a temporary file beside `path`, which is
    /// then fsynced and renamed over it, and the folder fsynced. On any failure the temporary file
    /// is removed and the old file stays.
    private static func replace(_ path: String, _ write: (FileDescriptor, FilePath) throws -> Void) throws {
        let target = FilePath(path)
        let temporary = FilePath(path + ".tmp-\(getpid())")
        let fd = try fileCall("open", temporary) {
            try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate, .closeOnExec],
                                    permissions: [.ownerReadWrite, .groupRead, .otherRead])
        }
        do {
            defer { try? fd.close() }
            try write(fd, temporary)
            try fileCall("fsync", temporary) { try fd.sync() }
            try fileCall("rename", target) { try temporary.move(replacing: target) }
        } catch {
            temporary.removeFile()
            throw error
        }
        try syncFolder(of: path)
    }

    /// Collects bytes and writes them a block at a time.
    struct Writer {
        let fd: FileDescriptor
        let path: FilePath
        let blockSize: Int
        private var block: [UInt8] = []

        init(fd: FileDescriptor, path: FilePath, blockSize: Int) {
            self.fd = fd
            self.path = path
            self.blockSize = blockSize
            block.reserveCapacity(blockSize)
        }

        mutating func append(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
            block.append(contentsOf: bytes)
            if block.count >= blockSize { try flush() }
        }

        mutating func append(_ text: String) throws(StorageError) {
            block.append(contentsOf: text.utf8)
            if block.count >= blockSize { try flush() }
        }

        /// Writes what is collected.
        mutating func flush() throws(StorageError) {
            guard !block.isEmpty else { return }
            try fileCall("write", path) { try fd.writeAll(block) }
            block.removeAll(keepingCapacity: true)
        }
    }

    /// fsync on the folder holding `path`, making a rename or a new file in it durable.
    public static func syncFolder(of path: String) throws(StorageError) {
        var folder = FilePath(path)
        folder.removeLastComponent()
        if folder.isEmpty { folder = "." }
        let fd = try fileCall("open", folder) { try FileDescriptor.open(folder, .readOnly, options: [.directory, .closeOnExec]) }
        defer { try? fd.close() }
        try fileCall("fsync", folder) { try fd.sync() }
    }

    /// Creates a folder and its parents, or says why it cannot, and checks it is writable.
    public static func prepareFolder(_ path: String) throws(StorageError) {
        let folder = FilePath(path)
        try fileCall("create folder", folder) { try folder.createFolders() }
        try fileCall("write to folder", folder) { try folder.checkWritableFolder() }
    }

    /// The whole file, or nil when it does not exist.
    public static func read(_ path: String) throws(StorageError) -> [UInt8]? {
        let file = FilePath(path)
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(file, .readOnly, options: [.closeOnExec])
        } catch Errno.noSuchFileOrDirectory {
            return nil
        } catch {
            throw StorageError(path: path, operation: "open", code: error as? Errno ?? .ioError)
        }
        defer { try? fd.close() }
        return try fileCall("read", file) {
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: max(Int(try fd.stat().size), 4096) + 1)
            while true {
                let got = try chunk.withUnsafeMutableBytes { try fd.readFully(fromAbsoluteOffset: Int64(bytes.count), into: $0) }
                bytes += chunk[..<got]
                if got < chunk.count { return bytes }
            }
        }
    }
}
