import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TimelinePipeline

/// An HTTP server beside a daemon (Hummingbird, HTTP/1.1), run as a service of the daemon's
/// service group. It binds before the daemon's own services start (`startingAfter`): a port that
/// is taken stops the daemon at start with `HTTPEndpointError`, naming the configuration key.
public final class HTTPEndpoint: Service, Sendable {
    /// The configuration key of the address, for messages (`metrics.listen`).
    public let key: String
    public let listen: HTTPListen
    private let application: any Service
    private let readiness: Readiness
    private let logger: Logger

    public init<Context: RequestContext & InitializableFromSource<ApplicationRequestContextSource>>(
        key: String, listen: HTTPListen, router: Router<Context>, logger: Logger
    ) {
        self.key = key
        self.listen = listen
        self.logger = logger
        let readiness = Readiness()
        self.readiness = readiness
        application = Application(
            router: router,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "timeline"),
            onServerRunning: { channel in readiness.resolve(.success(channel.localAddress?.port ?? listen.port)) },
            logger: logger
        )
    }

    public func run() async throws {
        do {
            try await application.run()
        } catch {
            if readiness.listened {
                // After it listened, the daemon's work matters more than its HTTP side: it goes on.
                logger.error("The HTTP endpoint stopped; the daemon goes on without it", metadata: [
                    "http.key": "\(key)", "http.listen": "\(listen)", "error": "\(error)",
                ])
                try? await gracefulShutdown()
                return
            }
            let failure = HTTPEndpointError(key: key, listen: listen, reason: Self.describe(error))
            // Before it listened, the failure is the daemon's: it must not start without it.
            readiness.resolve(.failure(failure))
            throw failure
        }
        // Shut down before it listened (a signal at start): nothing failed, nothing is to start.
        readiness.resolve(.success(nil))
    }

    /// The port it listens on, once it does (the one the system picked for a wildcard port);
    /// nil when it was shut down before it listened.
    public func boundPort() async throws -> Int? {
        try await readiness.wait()
    }

    /// The address it listens on, once it does, as `host:port`.
    public func boundAddress() async throws -> String? {
        try await boundPort().map { HTTPListen(host: listen.host, port: $0).description }
    }

    /// Checks that `listen` can be bound now, by binding it and letting go: a daemon whose port is
    /// taken stops before it opens anything else (its log, its sockets). The endpoint binds for
    /// real when it starts, and a port taken in between still stops the daemon then.
    public static func probe(_ listen: HTTPListen, key: String) throws(HTTPEndpointError) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(listen.host, String(listen.port), &hints, &found)
        guard status == 0, let address = found else {
            throw HTTPEndpointError(key: key, listen: listen, reason: "cannot resolve '\(listen.host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(found) }
        let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
        guard fd >= 0 else { return }
        defer { close(fd) }
        // As the server will bind: SO_REUSEADDR, so a port left in TIME_WAIT is not taken for busy.
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let code = errno
            throw HTTPEndpointError(key: key, listen: listen, reason: code == EADDRINUSE
                ? "the address is in use (another process listens there)" : String(cString: strerror(code)))
        }
    }

    /// `service`, started only once every endpoint listens; when one cannot, `service` never
    /// starts and the endpoint's error is thrown instead.
    public static func startingAfter(_ endpoints: [HTTPEndpoint], _ service: any Service) -> any Service {
        endpoints.isEmpty ? service : AfterListening(endpoints: endpoints, service: service)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return error.errnoCode == EADDRINUSE ? "the address is in use (another process listens there)" : "\(error)"
        }
        return "\(error)"
    }
}

/// An HTTP address that could not be served; the daemon exits with the configuration status (78).
public struct HTTPEndpointError: Error, CustomStringConvertible, Sendable {
    public let key: String
    public let listen: HTTPListen
    public let reason: String

    public var description: String { "key '\(key)': cannot listen on \(listen): \(reason)" }
}

private struct AfterListening: Service {
    let endpoints: [HTTPEndpoint]
    let service: any Service

    func run() async throws {
        for endpoint in endpoints {
            guard try await endpoint.boundPort() != nil else { return }
        }
        try await service.run()
    }
}

/// A result set once, awaited by any number of tasks.
final class Readiness: Sendable {
    private let state = Mutex<(result: Result<Int?, HTTPEndpointError>?, waiting: [CheckedContinuation<Int?, any Error>])>((nil, []))

    func resolve(_ result: Result<Int?, HTTPEndpointError>) {
        let waiting = state.withLock { state -> [CheckedContinuation<Int?, any Error>] in
            guard state.result == nil else { return [] }
            state.result = result
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume(with: result.mapError { $0 as any Error }) }
    }

    /// Whether it listened (a port was resolved).
    var listened: Bool {
        state.withLock { state in
            if case .success(let port)? = state.result { return port != nil }
            return false
        }
    }

    func wait() async throws -> Int? {
        try await withCheckedThrowingContinuation { continuation in
            let known = state.withLock { state -> Result<Int?, HTTPEndpointError>? in
                if let result = state.result { return result }
                state.waiting.append(continuation)
                return nil
            }
            if let known { continuation.resume(with: known.mapError { $0 as any Error }) }
        }
    }
}
