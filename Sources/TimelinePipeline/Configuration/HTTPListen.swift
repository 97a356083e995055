/// Where a daemon serves HTTP (`metrics.listen`, `--metrics-listen`): `host:port`, `[v6]:port`, or
/// a wildcard port (`host:*` or `host:0`) that the system picks and the daemon writes to its
/// `endpoints.json`.
public struct HTTPListen: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    /// 0 for a port the system picks.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `text`; the reason names what is wrong with it.
    public static func parse(_ text: String) -> Result<HTTPListen, ParseError> {
        let host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return .failure(ParseError("'\(text)' is not [address]:port"))
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                return .failure(ParseError("'\(text)' is not host:port (an IPv6 address goes in brackets: [::1]:9101)"))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else { return .failure(ParseError("'\(text)' names no host (127.0.0.1 for this machine only, 0.0.0.0 for every interface)")) }
        if portText == "*" { return .success(HTTPListen(host: String(host), port: 0)) }
        guard let port = Int(portText), (0...65_535).contains(port) else {
            return .failure(ParseError("'\(portText)' is not a port (0 to 65535, or * for one the system picks)"))
        }
        return .success(HTTPListen(host: String(host), port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public struct ParseError: Error, Sendable {
        public let reason: String
        init(_ reason: String) { self.reason = reason }
    }
}

extension PipelineConfiguration {
    /// The HTTP address of `key` (`metrics.listen`), nil when it is empty (off).
    public func httpListen(_ key: String) throws -> HTTPListen? {
        let text = try string(key)
        guard !text.isEmpty else { return nil }
        switch HTTPListen.parse(text) {
        case .success(let listen): return listen
        case .failure(let error): throw ConfigurationError(file: origin(of: key), key: key, reason: error.reason)
        }
    }
}
