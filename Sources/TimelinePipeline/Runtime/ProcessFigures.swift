import Foundation

/// The process's own figures, from `/proc/self` (Linux), under the names Prometheus's client
/// libraries give them. A figure the system does not give is left out, not reported as zero.
public struct ProcessFigures: Sendable {
    public var residentBytes: Double?
    public var virtualBytes: Double?
    public var openFiles: Double?
    public var maxFiles: Double?
    public var cpuSeconds: Double?
    public var startTimeSeconds: Double?

    /// The resident memory alone (one small read), for `STATS` and `STATUS`.
    public static func residentBytes() -> UInt64? {
        guard let statm = text("/proc/self/statm")?.split(separator: " "), statm.count >= 2, let pages = UInt64(statm[1]) else { return nil }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    public static func read() -> ProcessFigures {
        var figures = ProcessFigures()
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = text("/proc/self/statm")?.split(separator: " "), statm.count >= 2,
           let pages = Double(statm[0]), let resident = Double(statm[1]) {
            figures.virtualBytes = pages * pageSize
            figures.residentBytes = resident * pageSize
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            // The directory's own descriptor, open while it is listed, is not counted.
            figures.openFiles = Double(max(0, entries.count - 1))
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {
            figures.maxFiles = Double(limit.rlim_cur)
        }
        // /proc/self/stat: the fields after the command's closing parenthesis; utime and stime
        // are the 14th and 15th of the line, starttime the 22nd (in clock ticks since boot).
        if let stat = text("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]), let start = Double(fields[19]), ticks > 0 {
                figures.cpuSeconds = (user + system) / ticks
                if let boot = bootTime() { figures.startTimeSeconds = boot + start / ticks }
            }
        }
        return figures
    }

    /// The figures in the Prometheus text format, with HELP and TYPE lines.
    public func emit(into text: inout [UInt8]) {
        func metric(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            text.append(contentsOf: Array("# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n".utf8))
        }
        metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", residentBytes)
        metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtualBytes)
        metric("process_open_fds", "gauge", "Number of open file descriptors.", openFiles)
        metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", maxFiles)
        metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", cpuSeconds)
        metric("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.", startTimeSeconds)
    }

    private func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private static func text(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static func bootTime() -> Double? {
        guard let stat = text("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
