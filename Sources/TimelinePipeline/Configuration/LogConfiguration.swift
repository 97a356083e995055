import Configuration
import Foundation

extension PipelineConfiguration {
    /// The smallest segment the broker takes: smaller ones would make a file per few thousand events.
    public static let smallestSegmentBytes: Int64 = 1 << 20

    /// `broker.segmentBytes`, checked: at least 1 MiB.
    public func segmentBytes() throws -> Int64 {
        let bytes = Int64(try int("broker.segmentBytes"))
        guard bytes >= PipelineConfiguration.smallestSegmentBytes else {
            throw ConfigurationError(file: origin(of: "broker.segmentBytes"), key: "broker.segmentBytes",
                                     reason: "a segment must be at least 1 MiB (\(PipelineConfiguration.smallestSegmentBytes) bytes); got \(bytes)")
        }
        return bytes
    }

    /// `broker.retention.*`, checked against the segment size: a byte limit (0 for none) must hold
    /// at least one segment, an age (0 for none) must be positive, and keeping unread records
    /// needs the consumers to wait for.
    public func retention(segmentBytes: Int64) throws -> RetentionSettings {
        var settings = RetentionSettings()
        let bytes = Int64(try int("broker.retention.bytes"))
        if bytes != 0 {
            guard bytes >= segmentBytes else {
                throw ConfigurationError(file: origin(of: "broker.retention.bytes"), key: "broker.retention.bytes",
                                         reason: "a retention of \(bytes) bytes is below one segment (broker.segmentBytes = \(segmentBytes)); "
                                             + "use 0 for no limit or at least one segment")
            }
            settings.bytes = bytes
        }
        let seconds = try double("broker.retention.seconds")
        if seconds != 0 {
            guard seconds > 0, seconds <= 100 * 365 * 86_400 else {
                throw ConfigurationError(file: origin(of: "broker.retention.seconds"), key: "broker.retention.seconds",
                                         reason: "must be 0 (no limit) or a positive number of seconds up to 100 years; got \(seconds)")
            }
            settings.seconds = seconds
        }
        settings.keepUnread = try bool("broker.retention.keepUnread")
        settings.consumers = try string("broker.retention.consumers").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        if settings.keepUnread, settings.consumers.isEmpty {
            throw ConfigurationError(file: origin(of: "broker.retention.keepUnread"), key: "broker.retention.consumers",
                                     reason: "broker.retention.keepUnread is on but no consumer is named (e.g. \"aggregator,snapshot\")")
        }
        return settings
    }

    /// A consumer's name for its `CONSUMED` reports (`aggregator.consumerName`, `snapshot.consumerName`):
    /// 1 to 255 bytes.
    public func consumerName(_ key: String) throws -> String {
        let name = try string(key)
        guard !name.isEmpty, name.utf8.count <= 255, !name.contains(",") else {
            throw ConfigurationError(file: origin(of: key), key: key, reason: "a consumer name must be 1 to 255 bytes, without commas; got '\(name)'")
        }
        return name
    }
}
