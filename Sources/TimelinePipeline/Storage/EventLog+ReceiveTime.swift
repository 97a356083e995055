// Placeholder: replaced by the segmented log's time index on merge.
extension EventLog {
    /// The last sequence whose record the broker received before `milliseconds` (Unix time, ms):
    /// a replay from that time reads the records after it. 0 when every record was received at or after it.
    public func lastSequence(receivedBefore milliseconds: Int64) throws(StorageError) -> UInt64 {
        0
    }
}
