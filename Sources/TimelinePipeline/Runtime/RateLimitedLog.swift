import Foundation
import Logging

/// Logs a recurring problem at most once per interval per kind, with the number suppressed since,
/// so a flood of bad messages cannot flood the log.
final class RateLimitedLog {
    private var last: [String: (time: UInt64, suppressed: Int)] = [:]
    private let intervalNanoseconds: UInt64
    let logger: Logger

    init(logger: Logger, interval: Double = 5) {
        self.logger = logger
        intervalNanoseconds = UInt64(interval * 1e9)
    }

    func warning(_ kind: String, _ message: Logger.Message, metadata: Logger.Metadata = [:]) {
        let now = DispatchTime.now().uptimeNanoseconds
        if let entry = last[kind], now - entry.time < intervalNanoseconds {
            last[kind] = (entry.time, entry.suppressed + 1)
            return
        }
        var metadata = metadata
        if let suppressed = last[kind]?.suppressed, suppressed > 0 { metadata["log.suppressed"] = "\(suppressed)" }
        last[kind] = (now, 0)
        logger.warning(message, metadata: metadata)
    }
}
