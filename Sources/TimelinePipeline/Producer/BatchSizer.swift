/// How many events, and how many body bytes, a producer puts in one message to the broker.
///
/// Batches start at the configured limits. When sent events go missing (a broker that restarted,
/// or one whose maximum message size is below a batch, which drops the connection) both limits
/// halve, down to one event; after a run of batches without a loss they double again, up to the
/// configured limits.
struct BatchSizer: Equatable {
    let maxEvents: Int
    let maxBytes: Int
    private(set) var events: Int
    private(set) var bytes: Int
    private var deliveredSinceLoss = 0
    /// Batches delivered without a loss before the limits double.
    static let growAfter = 256

    init(maxEvents: Int, maxBytes: Int) {
        self.maxEvents = max(1, maxEvents)
        self.maxBytes = max(1, maxBytes)
        events = self.maxEvents
        bytes = self.maxBytes
    }

    /// Whether an event of `eventBytes` (its topic, body and framing) still fits a batch that
    /// holds `count` events in `batchBytes`. A batch always takes its first event, however large.
    func fits(count: Int, batchBytes: Int, eventBytes: Int) -> Bool {
        count == 0 || (count < events && batchBytes + eventBytes <= bytes)
    }

    /// Events went missing: halve the limits. Returns false when they were already at one event.
    mutating func lost() -> Bool {
        guard events > 1 else { return false }
        events = max(1, events / 2)
        bytes = max(1, bytes / 2)
        deliveredSinceLoss = 0
        return true
    }

    /// A batch was handed to the socket.
    mutating func delivered() {
        deliveredSinceLoss += 1
        guard deliveredSinceLoss >= BatchSizer.growAfter, events < maxEvents else { return }
        events = min(maxEvents, events * 2)
        bytes = min(maxBytes, bytes * 2)
        deliveredSinceLoss = 0
    }
}
