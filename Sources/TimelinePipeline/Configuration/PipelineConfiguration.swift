import Configuration
import Foundation
import SystemPackage

/// The daemons' settings: a JSON file (`Config/timeline.json` by default), overridden by
/// `TIMELINE_*` environment variables, overridden by command-line flags.
///
/// Keys are dotted paths such as `endpoints.frontend` or `broker.fsyncIntervalSeconds`; the
/// environment variable for a key is `TIMELINE_` and the key in upper snake case
/// (`TIMELINE_ENDPOINTS_FRONTEND`, `TIMELINE_BROKER_FSYNC_INTERVAL_SECONDS`). The file is checked
/// against the schema below before anything starts: an unknown key or a value of the wrong type
/// stops the daemon with a message naming the key and the file.
public struct PipelineConfiguration: Sendable {
    public enum ValueType: String, Sendable {
        /// `endpoints`: one ZeroMQ endpoint or a list, as a comma-separated string or, in the
        /// file, a JSON array of strings.
        case string, integer, number, boolean, endpoints

        /// How swift-configuration reads a value of this type.
        var configType: ConfigType {
            switch self {
            case .string, .endpoints: .string
            case .integer: .int
            case .number: .double
            case .boolean: .bool
            }
        }

        /// "an integer", "a number": for messages.
        var article: String {
            switch self {
            case .string: "a string"
            case .endpoints: "an endpoint, a comma-separated list of them or an array of strings"
            case .integer: "an integer"
            case .number: "a number"
            case .boolean: "true or false (also yes/no, 1/0)"
            }
        }

        func accepts(_ value: Any) -> Bool {
            switch self {
            case .string: return value is String
            case .endpoints:
                if value is String { return true }
                guard let list = value as? [Any], !list.isEmpty else { return false }
                return list.allSatisfy { $0 is String }
            case .integer:
                guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return false }
                return number.doubleValue == number.doubleValue.rounded()
            case .number:
                guard let number = value as? NSNumber else { return false }
                return String(cString: number.objCType) != "c"
            case .boolean:
                guard let number = value as? NSNumber else { return false }
                return String(cString: number.objCType) == "c"
            }
        }
    }

    /// Every key the configuration knows, with its type and default.
    public static let schema: [(key: String, type: ValueType, defaultValue: ConfigContent)] = [
        ("endpoints.frontend", .endpoints, .string(PipelineDefaults.frontend)),
        ("endpoints.backend", .endpoints, .string(PipelineDefaults.backend)),
        ("endpoints.replay", .endpoints, .string(PipelineDefaults.replay)),
        ("endpoints.query", .string, .string(PipelineDefaults.query)),
        ("endpoints.peer", .string, .string("")),
        ("endpoints.peerListen", .string, .string(PipelineDefaults.peerListen)),
        ("broker.ha", .string, .string("none")),
        ("broker.replication", .string, .string(PairSettings.Replication.sync.rawValue)),
        ("broker.peerTimeoutSeconds", .number, .double(PipelineDefaults.peerTimeoutSeconds)),
        ("broker.segmentBytes", .integer, .int(Int(EventLog.defaultSegmentBytes))),
        ("broker.retention.bytes", .integer, .int(0)),
        ("broker.retention.seconds", .number, .double(0)),
        ("broker.retention.keepUnread", .boolean, .bool(false)),
        ("broker.retention.consumers", .string, .string("")),
        ("broker.fsyncIntervalSeconds", .number, .double(PipelineDefaults.fsyncIntervalSeconds)),
        ("broker.maxMessageBytes", .integer, .int(PipelineDefaults.maxMessageBytes)),
        ("broker.sendHighWaterMark", .integer, .int(PipelineDefaults.sendHighWaterMark)),
        ("producer.workers", .integer, .int(PipelineDefaults.producerWorkers)),
        ("producer.rate", .number, .double(PipelineDefaults.producerRate)),
        ("producer.eventsPerMessage", .integer, .int(PipelineDefaults.eventsPerMessage)),
        ("producer.connectTimeoutSeconds", .number, .double(PipelineDefaults.connectTimeoutSeconds)),
        ("producer.acknowledgeTimeoutSeconds", .number, .double(PipelineDefaults.acknowledgeTimeoutSeconds)),
        ("consumer.feed", .string, .string(ConsumerFeed.follow.rawValue)),
        ("aggregator.checkpointEvery", .integer, .int(PipelineDefaults.checkpointEvery)),
        ("aggregator.checkpointIntervalSeconds", .number, .double(PipelineDefaults.checkpointIntervalSeconds)),
        ("aggregator.bootstrapSnapshot", .string, .string("")),
        ("aggregator.consumerName", .string, .string("aggregator")),
        ("snapshot.consumerName", .string, .string("snapshot")),
        ("snapshot.everyEvents", .integer, .int(PipelineDefaults.snapshotEveryEvents)),
        ("snapshot.everySeconds", .number, .double(PipelineDefaults.snapshotEverySeconds)),
        ("snapshot.keep", .integer, .int(PipelineDefaults.snapshotKeep)),
        ("monitor.statsIntervalSeconds", .number, .double(PipelineDefaults.monitorStatsIntervalSeconds)),
        ("log.format", .string, .string(LogFormat.text.rawValue)),
        ("security.enabled", .boolean, .bool(false)),
        ("security.serverSecretKey", .string, .string("")),
        ("security.serverPublicKey", .string, .string("")),
        ("security.clientSecretKey", .string, .string("")),
        ("security.authorizedKeys", .string, .string("")),
        ("security.peerPublicKey", .string, .string("")),
        ("security.peerSecretKey", .string, .string("")),
        ("metrics.listen", .string, .string("")),
        ("dashboard.listen", .string, .string(PipelineDefaults.dashboardListen)),
    ]

    public let reader: ConfigReader
    /// The file the settings came from, for messages.
    public let file: String?
    /// Where each key set by a flag or an environment variable came from, for messages.
    let origins: [String: String]

    /// Reads the file (when given), the environment and the flag overrides (key -> value text).
    public static func load(file: String?, overrides: [String: String] = [:],
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> PipelineConfiguration {
        var providers: [any ConfigProvider] = []
        var flagValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, text) in overrides {
            guard let entry = schema.first(where: { $0.key == key }) else {
                throw ConfigurationError(file: "command line", key: key, reason: "unknown key")
            }
            flagValues[AbsoluteConfigKey(ConfigKey(key))] = ConfigValue(try parse(text, as: entry.type, key: key, file: "command line"), isSecret: false)
        }
        providers.append(InMemoryProvider(name: "flags", values: flagValues))
        // TIMELINE_ + the key in upper snake case: swift-configuration's own mapping, under a prefix.
        let environmentProvider = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ConfigKey("timeline"))
        var origins: [String: String] = [:]
        for entry in schema {
            // Each variable that is set is checked now, so a bad one stops the daemon at start,
            // naming the variable as the provider spells it.
            let key = AbsoluteConfigKey(ConfigKey(entry.key))
            let lookup = try environmentProvider.value(forKey: key, type: .string)
            guard case .string(let text)? = lookup.value?.content else { continue }
            let variable = lookup.encodedKey
            do {
                _ = try environmentProvider.value(forKey: key, type: entry.type.configType)
            } catch {
                throw ConfigurationError(file: "environment", key: variable, reason: "'\(text)' is not \(entry.type.article)")
            }
            origins[entry.key] = "environment (\(variable))"
        }
        providers.append(environmentProvider)
        if let file {
            try validate(file: file)
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
            } catch {
                throw ConfigurationError(file: file, key: nil, reason: "\(error)")
            }
        }
        var defaults: [AbsoluteConfigKey: ConfigValue] = [:]
        for entry in schema { defaults[AbsoluteConfigKey(ConfigKey(entry.key))] = ConfigValue(entry.defaultValue, isSecret: false) }
        providers.append(InMemoryProvider(name: "defaults", values: defaults))
        for key in overrides.keys { origins[key] = "command line" }
        return PipelineConfiguration(reader: ConfigReader(providers: providers), file: file, origins: origins)
    }

    static func parse(_ text: String, as type: ValueType, key: String, file: String) throws -> ConfigContent {
        switch type {
        case .string, .endpoints: return .string(text)
        case .integer:
            guard let value = Int(text) else { throw ConfigurationError(file: file, key: key, reason: "'\(text)' is not an integer") }
            return .int(value)
        case .number:
            guard let value = Double(text), value.isFinite else { throw ConfigurationError(file: file, key: key, reason: "'\(text)' is not a number") }
            return .double(value)
        case .boolean:
            switch text.lowercased() {
            // What swift-configuration reads from the environment, and on/off as flags always took.
            case "true", "1", "yes", "on": return .bool(true)
            case "false", "0", "no", "off": return .bool(false)
            default: throw ConfigurationError(file: file, key: key, reason: "'\(text)' is not \(type.article)")
            }
        }
    }

    /// Checks a configuration file against the schema: JSON, only known keys, right types.
    public static func validate(file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError(file: file, key: nil, reason: "cannot read the file")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw ConfigurationError(file: file, key: nil, reason: "not valid JSON")
        }
        guard let root = object as? [String: Any] else { throw ConfigurationError(file: file, key: nil, reason: "the top level must be an object") }
        func walk(_ object: [String: Any], prefix: String) throws {
            for key in object.keys.sorted() {
                let path = prefix.isEmpty ? key : prefix + "." + key
                let value = object[key]!
                if let nested = value as? [String: Any] {
                    guard schema.contains(where: { $0.key.hasPrefix(path + ".") }) else {
                        throw ConfigurationError(file: file, key: path, reason: "unknown key")
                    }
                    try walk(nested, prefix: path)
                    continue
                }
                guard let entry = schema.first(where: { $0.key == path }) else {
                    throw ConfigurationError(file: file, key: path, reason: "unknown key")
                }
                guard entry.type.accepts(value) else {
                    if entry.type == .endpoints { throw ConfigurationError(file: file, key: path, reason: "must be \(entry.type.article)") }
                    throw ConfigurationError(file: file, key: path, reason: "must be a\(entry.type == .integer ? "n" : "") \(entry.type.rawValue)")
                }
                if entry.type == .endpoints {
                    _ = try endpointList(value as? [String] ?? [value as! String], key: path, origin: file)
                } else if path.hasPrefix("endpoints."), let endpoint = value as? String, !PipelineConfiguration.isEndpoint(endpoint) {
                    throw ConfigurationError(file: file, key: path, reason: "'\(endpoint)' is not a ZeroMQ endpoint (tcp://host:port, ipc://path or inproc://name)")
                }
            }
        }
        try walk(root, prefix: "")
    }

    /// The value of `key`. For an endpoint key, exactly one endpoint: a list, which only the
    /// clients of a broker pair take (see `endpoints(_:)`), is refused naming the key.
    public func string(_ key: String) throws -> String {
        if Self.schema.first(where: { $0.key == key })?.type == .endpoints {
            let list = try endpoints(key)
            guard list.count == 1 else {
                throw ConfigurationError(file: origin(of: key), key: key, reason: "lists \(list.count) endpoints (\(list.joined(separator: ","))), "
                    + "but one is bound here: a list is for the clients of a broker pair (produce, aggregate, snapshot, monitor)")
            }
            return list[0]
        }
        let value = try wrap(key) { try reader.requiredString(forKey: ConfigKey(key)) }
        if key.hasPrefix("endpoints."), !PipelineConfiguration.isEndpoint(value) {
            throw ConfigurationError(file: origin(of: key), key: key,
                                     reason: "'\(value)' is not a ZeroMQ endpoint (tcp://host:port, ipc://path or inproc://name)")
        }
        return value
    }

    /// The endpoints of `key` (`endpoints.frontend`, `.backend`, `.replay`): one, or the list of a
    /// broker pair, given as a comma-separated string (flags, environment, file) or as a JSON
    /// array of strings in the file. Each must be a ZeroMQ endpoint, and none may repeat.
    public func endpoints(_ key: String) throws -> [String] {
        let configKey = ConfigKey(key)
        let values: [String]
        if let text = try? reader.requiredString(forKey: configKey) {
            values = [text]
        } else {
            values = try wrap(key) { try reader.requiredStringArray(forKey: configKey) }
        }
        return try PipelineConfiguration.endpointList(values, key: key, origin: origin(of: key))
    }

    /// A consumer's endpoints: one broker's, or lists naming both brokers of a pair.
    public func consumerEndpoints() throws -> ConsumerEndpoints {
        let feedText = try string("consumer.feed")
        guard let feed = ConsumerFeed(rawValue: feedText) else {
            throw ConfigurationError(file: origin(of: "consumer.feed"), key: "consumer.feed",
                                     reason: "'\(feedText)' is not a feed: follow (ask the broker's log, the default) or subscribe (a SUB socket on the backend)")
        }
        return ConsumerEndpoints(backends: try endpoints("endpoints.backend"), replays: try endpoints("endpoints.replay"), feed: feed)
    }

    /// A producer's frontends and replay endpoints, which must name the same brokers in the same
    /// order: the producer sends to the frontend paired with the replay endpoint that answers.
    public func producerEndpoints() throws -> (frontends: [String], replays: [String]) {
        let frontends = try endpoints("endpoints.frontend"), replays = try endpoints("endpoints.replay")
        guard frontends.count == replays.count else {
            throw ConfigurationError(file: origin(of: "endpoints.frontend"), key: "endpoints.frontend",
                                     reason: "lists \(frontends.count) endpoint(s) but endpoints.replay lists \(replays.count): "
                                         + "a producer pairs them by position, one of each per broker")
        }
        return (frontends, replays)
    }

    /// Endpoints given as strings, each of which may hold several separated by commas: split,
    /// trimmed and checked.
    public static func endpointList(_ values: [String], key: String, origin: String) throws -> [String] {
        let list = values.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !list.isEmpty, !list.contains(where: \.isEmpty) else {
            throw ConfigurationError(file: origin, key: key, reason: "'\(values.joined(separator: ","))' has an empty endpoint")
        }
        for endpoint in list where !isEndpoint(endpoint) {
            throw ConfigurationError(file: origin, key: key,
                                     reason: "'\(endpoint)' is not a ZeroMQ endpoint (tcp://host:port, ipc://path or inproc://name)")
        }
        if let repeated = list.first(where: { endpoint in list.filter { $0 == endpoint }.count > 1 }) {
            throw ConfigurationError(file: origin, key: key, reason: "'\(repeated)' is listed twice")
        }
        return list
    }

    public func bool(_ key: String) throws -> Bool {
        try wrap(key) { try reader.requiredBool(forKey: ConfigKey(key)) }
    }

    /// The security settings (`security.*`); relative key paths are taken from the working folder.
    public func security() throws -> SecuritySettings {
        var settings = SecuritySettings()
        settings.enabled = try bool("security.enabled")
        settings.serverSecretKeyFile = try string("security.serverSecretKey")
        settings.serverPublicKeyFile = try string("security.serverPublicKey")
        settings.clientSecretKeyFile = try string("security.clientSecretKey")
        settings.authorizedKeysFolder = try string("security.authorizedKeys")
        return settings
    }

    /// `tcp://host:port` (port may be `*`), `ipc://path`, `inproc://name`.
    public static func isEndpoint(_ text: String) -> Bool {
        for scheme in ["tcp://", "ipc://", "inproc://"] where text.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            guard !rest.isEmpty else { return false }
            if scheme == "tcp://" {
                guard let colon = rest.lastIndex(of: ":") else { return false }
                let port = rest[rest.index(after: colon)...]
                return !rest[..<colon].isEmpty && (port == "*" || (UInt16(port).map { $0 > 0 } ?? false))
            }
            return true
        }
        return false
    }

    public func int(_ key: String) throws -> Int {
        try wrap(key) { try reader.requiredInt(forKey: ConfigKey(key)) }
    }

    public func double(_ key: String) throws -> Double {
        try wrap(key) {
            if let value = try? reader.requiredDouble(forKey: ConfigKey(key)) { return value }
            return Double(try reader.requiredInt(forKey: ConfigKey(key)))
        }
    }

    /// A key in seconds (`…Seconds`), as a duration: a finite number from 0 to a million seconds.
    public func duration(_ key: String) throws -> Duration {
        try PipelineConfiguration.duration(seconds: try double(key), key: key, origin: origin(of: key))
    }

    /// Seconds given for `key` (from `origin`) as a duration: a finite number from 0 to a million.
    public static func duration(seconds: Double, key: String, origin: String) throws -> Duration {
        guard seconds.isFinite, seconds >= 0, seconds <= 1_000_000 else {
            throw ConfigurationError(file: origin, key: key, reason: "\(seconds) is not a number of seconds from 0 to 1000000")
        }
        return .seconds(seconds)
    }

    func wrap<T>(_ key: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            throw ConfigurationError(file: origin(of: key), key: key, reason: "\(error)")
        }
    }

    /// Where the value of `key` came from: the command line, an environment variable, the file, or
    /// the built-in defaults.
    public func origin(of key: String) -> String {
        origins[key] ?? file ?? "defaults"
    }
}

/// A configuration problem, naming the file (or "environment", "command line") and the key.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let key: String?
    public let reason: String

    public var description: String {
        if let key { return "\(file): key '\(key)': \(reason)" }
        return "\(file): \(reason)"
    }
}
