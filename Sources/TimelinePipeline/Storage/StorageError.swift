import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file-system failure, naming the path, the call, and what the system said.
public struct StorageError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let operation: String
    public let code: Errno

    public init(path: String, operation: String, code: Errno) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// For a C call that just failed: the code is read from `errno`.
    public init(path: String, operation: String) {
        self.init(path: path, operation: operation, code: Errno(rawValue: errno))
    }

    public var description: String { "\(operation) \(path): \(code)" }
}
