import CoreMetrics

/// A counter fed from a total the daemon keeps itself (its `STATS` counters): each update passes
/// on only the growth since the update before, so the hot path counts in plain integers and the
/// metrics see the same figures as `STATS`.
struct TotalCounter {
    private let counter: Counter
    private var passed: UInt64 = 0

    init(_ label: String, dimensions: [(String, String)] = [], factory: any MetricsFactory) {
        counter = Counter(label: label, dimensions: dimensions, factory: factory)
    }

    mutating func update(_ total: UInt64) {
        // Totals only grow while the process lives; a smaller one is ignored, not subtracted.
        guard total > passed else { return }
        counter.increment(by: Int64(clamping: total - passed))
        passed = total
    }
}

/// Gauges with one label, made the first time a value of the label is seen (a consumer's name).
/// A value no longer reported is set to zero rather than left at its last figure.
struct LabelledGauges {
    private let label: String
    private let dimension: String
    private let factory: any MetricsFactory
    private var gauges: [String: Gauge] = [:]

    init(_ label: String, dimension: String, factory: any MetricsFactory) {
        self.label = label
        self.dimension = dimension
        self.factory = factory
    }

    mutating func update(_ values: [String: Double]) {
        for (name, gauge) in gauges where values[name] == nil { gauge.record(0) }
        for (name, value) in values {
            let gauge = gauges[name] ?? Gauge(label: label, dimensions: [(dimension, name)], factory: factory)
            gauges[name] = gauge
            gauge.record(value)
        }
    }
}

extension Gauge {
    func record(_ flag: Bool) { record(flag ? 1 : 0) }
}
