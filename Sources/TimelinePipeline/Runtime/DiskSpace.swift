import Foundation

/// The space of the file system that holds a folder (`statvfs`): what the broker reports so that
/// `timeline status` can say a disk is filling before the log stops.
public struct DiskSpace: Codable, Sendable, Equatable {
    /// Bytes an unprivileged process may still write.
    public var freeBytes: UInt64
    public var totalBytes: UInt64

    public init(freeBytes: UInt64, totalBytes: UInt64) {
        self.freeBytes = freeBytes
        self.totalBytes = totalBytes
    }

    /// Nil when the folder's file system cannot be asked (the folder is gone).
    public static func of(_ folder: String) -> DiskSpace? {
        var figures = statvfs()
        guard statvfs(folder, &figures) == 0 else { return nil }
        let block = UInt64(figures.f_frsize)
        return DiskSpace(freeBytes: UInt64(figures.f_bavail) * block, totalBytes: UInt64(figures.f_blocks) * block)
    }

    /// The share of the file system still free, 0 to 1.
    public var freeShare: Double { totalBytes == 0 ? 1 : Double(freeBytes) / Double(totalBytes) }
}
