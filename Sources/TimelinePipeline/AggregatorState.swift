import Foundation
import Timeline

/// Everything the aggregator must persist, and persists together: the statistics, the set of events
/// counted, and the stream position they reflect. Restoring them and replaying from the position
/// gives exactly the statistics of every event once.
public struct AggregatorState: Sendable {
    public static let fileName = "aggregator-state.bin"
    static let magic = Array("TLAGST01".utf8)

    public var statistics = Statistics()
    public var counted = Set<EventKey>()
    public var position = StreamPosition()
    public var duplicateEvents: UInt64 = 0
    public var rejected: UInt64 = 0
    /// Messages applied as they arrived live, and from the broker's log; repeats of a sequence
    /// already applied. Kept with the state, so they add up across restarts.
    public var live: UInt64 = 0
    public var replayed: UInt64 = 0
    public var duplicateSequences: UInt64 = 0

    public init() {}

    /// Counts an event unless an event with the same id was counted before; returns whether it counted.
    @discardableResult
    public mutating func apply(_ event: TimelineEvent) -> Bool {
        guard counted.insert(EventKey(id: event.id)).inserted else {
            duplicateEvents += 1
            return false
        }
        statistics.add(event)
        return true
    }

    /// `magic | u32 JSON length | JSON | u64 key count | keys (16 bytes each) | u32 CRC-32C of all before`.
    public func encoded() -> [UInt8] {
        var json = "{\"sequence\":\(position.sequence),\"duplicateEvents\":\(duplicateEvents),\"rejected\":\(rejected)"
        json += ",\"live\":\(live),\"replayed\":\(replayed),\"duplicateSequences\":\(duplicateSequences)"
        json += ",\"totalEvents\":\(statistics.totalEvents),\"producers\":{"
        json += position.producers.keys.sorted().map { key in
            var entry = ""
            EventJSON.appendString(key, to: &entry)
            return entry + ":\(position.producers[key]!)"
        }.joined(separator: ",")
        json += "},\"eventsByKind\":{"
        json += statistics.eventsByKind.keys.sorted().map { "\"\($0.rawValue)\":\(statistics.eventsByKind[$0]!)" }.joined(separator: ",")
        json += "},\"visitsByYear\":["
        json += statistics.visitsByYear.map { "[\($0.year),\"\($0.from)\",\"\($0.to)\",\($0.count)]" }.joined(separator: ",")
        json += "]}"
        let jsonBytes = Array(json.utf8)
        var bytes = AggregatorState.magic
        bytes.reserveCapacity(bytes.count + 4 + jsonBytes.count + 8 + counted.count * 16 + 4)
        bytes += ControlProtocol.u32(UInt32(jsonBytes.count))
        bytes += jsonBytes
        bytes += ControlProtocol.u64(UInt64(counted.count))
        for key in counted {
            bytes += ControlProtocol.u64(key.high)
            bytes += ControlProtocol.u64(key.low)
        }
        bytes += ControlProtocol.u32(CRC32C.checksum(bytes))
        return bytes
    }

    /// Reads a state written by `encoded()`; the error says what is wrong.
    public init(decoding bytes: [UInt8]) throws(StateError) {
        guard bytes.count >= AggregatorState.magic.count + 4 + 8 + 4, Array(bytes.prefix(8)) == AggregatorState.magic else {
            throw StateError("not an aggregator state file")
        }
        let body = bytes[..<(bytes.count - 4)]
        guard ControlProtocol.readU32(Array(bytes.suffix(4))) == CRC32C.checksum(Array(body)) else {
            throw StateError("the checksum does not match (the file is damaged)")
        }
        let jsonLength = Int(ControlProtocol.readU32(Array(bytes[8..<12]))!)
        guard 12 + jsonLength + 8 <= body.count else { throw StateError("truncated") }
        let jsonData = Data(bytes[12..<(12 + jsonLength)])
        guard let object = try? JSONSerialization.jsonObject(with: jsonData) as? [String: Any],
              let sequence = (object["sequence"] as? NSNumber)?.uint64Value,
              let totalEvents = (object["totalEvents"] as? NSNumber)?.intValue,
              let producers = object["producers"] as? [String: NSNumber],
              let kinds = object["eventsByKind"] as? [String: NSNumber],
              let years = object["visitsByYear"] as? [[Any]] else {
            throw StateError("the summary is malformed")
        }
        var eventsByKind: [EventKind: Int] = [:]
        for (name, count) in kinds {
            guard let kind = EventKind(rawValue: name) else { throw StateError("unknown kind '\(name)'") }
            eventsByKind[kind] = count.intValue
        }
        var visitsByYear: [YearCount] = []
        for entry in years {
            guard entry.count == 4, let year = (entry[0] as? NSNumber)?.intValue, let from = (entry[1] as? String).flatMap(CountryCode.init),
                  let to = (entry[2] as? String).flatMap(CountryCode.init), let count = (entry[3] as? NSNumber)?.intValue else {
                throw StateError("a malformed visits-per-year entry")
            }
            visitsByYear.append(YearCount(year: year, from: from, to: to, count: count))
        }
        statistics = Statistics(totalEvents: totalEvents, eventsByKind: eventsByKind, visitsByYear: visitsByYear)
        position = StreamPosition(sequence: sequence, producers: producers.mapValues(\.uint64Value))
        duplicateEvents = (object["duplicateEvents"] as? NSNumber)?.uint64Value ?? 0
        rejected = (object["rejected"] as? NSNumber)?.uint64Value ?? 0
        live = (object["live"] as? NSNumber)?.uint64Value ?? 0
        replayed = (object["replayed"] as? NSNumber)?.uint64Value ?? 0
        duplicateSequences = (object["duplicateSequences"] as? NSNumber)?.uint64Value ?? 0
        var offset = 12 + jsonLength
        let keyCount = Int(ControlProtocol.readU64(Array(bytes[offset..<(offset + 8)]))!)
        offset += 8
        guard offset + keyCount * 16 == body.count else { throw StateError("the key count does not match the file size") }
        counted.reserveCapacity(keyCount)
        for _ in 0..<keyCount {
            let high = ControlProtocol.readU64(Array(bytes[offset..<(offset + 8)]))!
            let low = ControlProtocol.readU64(Array(bytes[(offset + 8)..<(offset + 16)]))!
            counted.insert(EventKey(high: high, low: low))
            offset += 16
        }
    }

    /// Loads the state from a data folder: a fresh state when there is none yet.
    public static func load(from folder: String) throws -> AggregatorState {
        let path = (folder as NSString).appendingPathComponent(fileName)
        guard let bytes = try AtomicFile.read(path) else { return AggregatorState() }
        do {
            return try AggregatorState(decoding: bytes)
        } catch {
            throw PipelineError.state(path: path, reason: error.reason)
        }
    }

    public func save(to folder: String) throws {
        try AtomicFile.write(encoded(), to: (folder as NSString).appendingPathComponent(AggregatorState.fileName))
    }
}

public struct StateError: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
