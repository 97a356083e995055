import Configuration

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
}
