import CoreMetrics
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import TimelinePipeline

/// The dashboard's own figures: its browsers and what slow ones cost them.
public struct DashboardServerFigures: Sendable, Equatable, Codable {
    /// Event streams open now.
    public var clients = 0
    /// Event streams opened since the start.
    public var connections = 0
    /// Times a client's queue overflowed and was dropped for a resync.
    public var resyncs = 0
    /// Messages dropped for slow clients (the resyncs' states made up for them).
    public var droppedMessages = 0
}

/// Pushes the dashboard to browsers as Server-Sent Events (`GET /events`) and serves its page
/// (`GET /`). A service: every `flushInterval` it takes a copy of the model the consumer folds
/// into, makes the new events' messages (and the statistics', at most every `statsInterval`) from
/// the copy outside any lock, and appends them to each client's bounded queue (`SSEClientQueue`);
/// each client's response writes its queue out at its own pace. At graceful shutdown every
/// stream ends.
public final class DashboardHub: Service, Sendable {
    let dashboard: Dashboard
    let clientLimitBytes: Int
    let flushInterval: Duration
    let statsInterval: Duration
    /// Streams open at once; `/events` answers 503 beyond.
    let maxClients: Int
    /// How long a client's queue may stay dropped (it does not read) before its connection is closed.
    let stalledClientTimeout: Duration
    let logger: Logger
    private let state: Mutex<HubState>
    private let stateBodies = StateBodyCache()
    /// The figures `/metrics` last passed on, so counters grow by the difference.
    private let reported = Mutex(DashboardServerFigures())

    private struct Client {
        var queue: SSEClientQueue
        var waiter: CheckedContinuation<Void, Never>?
        /// Closed at shutdown: a client that stopped reading leaves its writer waiting for room.
        let channel: (any Channel)?
        /// Since when its queue has been dropped with the resync not yet taken.
        var stalledSince: ContinuousClock.Instant?
    }

    private struct HubState {
        /// The model as of the last flush. A state made from it is followed by exactly what the
        /// flushes after it push: the copy is replaced in the same lock as the messages are queued.
        var flushed: DashboardModel
        var clients: [Int: Client] = [:]
        var nextID = 0
        var closed = false
        /// The last `PipelineHealth`, as JSON.
        var pipeline: String?
        /// Resyncs and drops of clients gone.
        var retired = DashboardServerFigures()

        var figures: DashboardServerFigures {
            var figures = retired
            figures.clients = clients.count
            for client in clients.values {
                figures.resyncs += client.queue.resyncs
                figures.droppedMessages += client.queue.droppedMessages
            }
            return figures
        }
    }

    public init(dashboard: Dashboard, clientLimitBytes: Int = 1 << 20, flushInterval: Duration = .milliseconds(50),
                statsInterval: Duration = .milliseconds(500), maxClients: Int = 64, stalledClientTimeout: Duration = .seconds(30),
                logger: Logger) {
        self.dashboard = dashboard
        self.clientLimitBytes = clientLimitBytes
        self.flushInterval = flushInterval
        self.statsInterval = statsInterval
        self.maxClients = maxClients
        self.stalledClientTimeout = stalledClientTimeout
        self.logger = logger
        let model = dashboard.model.withLock { model -> DashboardModel in
            _ = model.takeUnsent()
            return model
        }
        state = Mutex(HubState(flushed: model))
    }

    public var figures: DashboardServerFigures { state.withLock { $0.figures } }

    /// Serves the figures in `/metrics`: open streams, and counters of connections, resyncs and
    /// dropped messages.
    public func reportFigures(to metrics: DaemonMetrics) {
        let clients = Gauge(label: "timeline_dashboard_clients", factory: metrics.factory)
        let connections = Counter(label: "timeline_dashboard_connections_total", factory: metrics.factory)
        let resyncs = Counter(label: "timeline_dashboard_resyncs_total", factory: metrics.factory)
        let dropped = Counter(label: "timeline_dashboard_dropped_messages_total", factory: metrics.factory)
        metrics.onScrape { [self] in
            let now = figures
            reported.withLock { before in
                clients.record(now.clients)
                connections.increment(by: Int64(max(0, now.connections - before.connections)))
                resyncs.increment(by: Int64(max(0, now.resyncs - before.resyncs)))
                dropped.increment(by: Int64(max(0, now.droppedMessages - before.droppedMessages)))
                before = now
            }
        }
    }

    /// `/` (the page), `/events` (the stream); 404 for anything else.
    public func router() -> Router<DashboardRequestContext> {
        let router = Router(context: DashboardRequestContext.self)
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("events") { [self] _, context -> Response in
            guard admitsClient else {
                return Response(status: .serviceUnavailable, headers: [.cacheControl: "no-store", .retryAfter: "5"])
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                     body: ResponseBody { [self] writer in
                         // Full or closing since the check: the stream ends at once (the browser retries).
                         guard let id = connect(channel: context.channel) else {
                             try await writer.finish(nil)
                             return
                         }
                         defer { disconnect(id) }
                         while let next = await next(id) {
                             switch next {
                             case .resync:
                                 try await writer.write(ByteBuffer(bytes: await stateMessage(for: id)))
                             case .messages(let messages):
                                 var buffer = ByteBuffer()
                                 buffer.reserveCapacity(messages.reduce(0) { $0 + $1.count })
                                 for message in messages { buffer.writeBytes(message) }
                                 try await writer.write(buffer)
                             }
                         }
                         try await writer.finish(nil)
                     })
        }
        return router
    }

    /// Hands a health reading to every client (`health`) and to the states sent from now on.
    public func publish(_ health: PipelineHealth) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let pipeline = (try? encoder.encode(health)).map { String(decoding: $0, as: UTF8.self) }
        let message = state.withLock { state -> [UInt8] in
            state.pipeline = pipeline
            return serverSentEvent("health", data: Self.healthJSON(pipeline: pipeline, figures: state.figures))
        }
        broadcast(message)
    }

    /// The flusher: every `flushInterval`, what the model gathered goes to every client.
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var lastLogged = (at: ContinuousClock.now, resyncs: 0, dropped: 0)
                var pacing = StatsPacing()
                while true {
                    try await Task.sleep(for: self.flushInterval)
                    self.flush(&pacing)
                    self.closeStalledClients()
                    let figures = self.figures
                    // Slow clients, logged at most every 5 s with what happened since.
                    if figures.resyncs > lastLogged.resyncs, lastLogged.at.duration(to: .now) >= .seconds(5) {
                        self.logger.warning("Dropped the queues of slow dashboard clients; they get the whole state again", metadata: [
                            "dashboard.resyncs": "\(figures.resyncs - lastLogged.resyncs)",
                            "dashboard.droppedMessages": "\(figures.droppedMessages - lastLogged.dropped)",
                            "dashboard.clients": "\(figures.clients)",
                        ])
                        lastLogged = (.now, figures.resyncs, figures.droppedMessages)
                    }
                }
            }
        } catch is CancellationError {}
        close()
    }

    /// When the last `stats` went, and the model's version it held.
    struct StatsPacing {
        var sentAt: ContinuousClock.Instant?
        var version: UInt64?
    }

    /// Takes a copy of the model and queues what changed for every client: the new events, and the
    /// statistics when they changed and `statsInterval` passed since the last. With no client
    /// nothing is made; the copy is kept for the next state. Called by one flusher at a time.
    func flush(_ pacing: inout StatsPacing, now: ContinuousClock.Instant = .now) {
        let (model, unsent) = dashboard.model.withLock { model -> (DashboardModel, Int) in
            let unsent = model.takeUnsent()
            return (model, unsent)
        }
        var message: [UInt8] = []
        let hasClients = state.withLock { !$0.clients.isEmpty }
        if hasClients {
            for event in model.update(unsent: unsent)?.events ?? [] { message += serverSentEvent("event", data: event) }
            if model.version != pacing.version, pacing.sentAt.map({ $0.duration(to: now) >= statsInterval }) ?? true {
                message += serverSentEvent("stats", data: model.statsJSON())
                pacing = StatsPacing(sentAt: now, version: model.version)
            }
        }
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.flushed = model
            guard hasClients else {
                // A client came since the check: nothing was made for it, so it starts from this copy.
                for id in state.clients.keys { state.clients[id]!.queue.requireResync() }
                return Self.wake(&state)
            }
            return message.isEmpty ? [] : Self.push(message, to: &state)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Ends every stream; new ones are refused. A waiting writer ends at once; one blocked on a
    /// client that does not read ends when its connection is closed here.
    func close() {
        let clients = state.withLock { state in
            state.closed = true
            defer { for id in state.clients.keys { state.clients[id]!.waiter = nil } }
            return Array(state.clients.values)
        }
        for client in clients {
            client.waiter?.resume()
            client.channel?.close(promise: nil)
        }
    }

    /// Closes the connections of clients whose queue stayed dropped for `stalledClientTimeout`: a
    /// client that never reads holds its queue and what the kernel buffers for nothing.
    /// Returns how many it closed.
    @discardableResult
    func closeStalledClients(now: ContinuousClock.Instant = .now) -> Int {
        let stalled = state.withLock { state -> [(any Channel)?] in
            var stalled: [(any Channel)?] = []
            for id in state.clients.keys {
                guard state.clients[id]!.queue.needsResync else {
                    state.clients[id]!.stalledSince = nil
                    continue
                }
                let since = state.clients[id]!.stalledSince ?? now
                state.clients[id]!.stalledSince = since
                if since.duration(to: now) >= stalledClientTimeout { stalled.append(state.clients[id]!.channel) }
            }
            return stalled
        }
        guard !stalled.isEmpty else { return 0 }
        logger.info("Closed dashboard clients that stopped reading", metadata: ["dashboard.clients": "\(stalled.count)"])
        for channel in stalled { channel?.close(promise: nil) }
        return stalled.count
    }

    private func broadcast(_ message: [UInt8]) {
        let waiters = state.withLock { state in Self.push(message, to: &state) }
        for waiter in waiters { waiter.resume() }
    }

    /// Queues `message` for every client; returns the writers to wake.
    private static func push(_ message: [UInt8], to state: inout HubState) -> [CheckedContinuation<Void, Never>] {
        guard !state.closed else { return [] }
        for id in state.clients.keys { state.clients[id]!.queue.push(message) }
        return wake(&state)
    }

    /// The writers waiting, to be woken once the lock is let go.
    private static func wake(_ state: inout HubState) -> [CheckedContinuation<Void, Never>] {
        var waiters: [CheckedContinuation<Void, Never>] = []
        for id in state.clients.keys {
            if let waiter = state.clients[id]!.waiter {
                waiters.append(waiter)
                state.clients[id]!.waiter = nil
            }
        }
        return waiters
    }

    /// Whether a stream can be opened now: the hub is not closing and has room.
    var admitsClient: Bool {
        state.withLock { !$0.closed && $0.clients.count < maxClients }
    }

    /// Registers a client; nil when the hub is closing or full.
    func connect(channel: (any Channel)?) -> Int? {
        state.withLock { state -> Int? in
            guard !state.closed, state.clients.count < maxClients else { return nil }
            state.nextID += 1
            state.retired.connections += 1
            state.clients[state.nextID] = Client(queue: SSEClientQueue(limitBytes: clientLimitBytes), channel: channel)
            return state.nextID
        }
    }

    func disconnect(_ id: Int) {
        state.withLock { state in
            guard let client = state.clients.removeValue(forKey: id) else { return }
            state.retired.resyncs += client.queue.resyncs
            state.retired.droppedMessages += client.queue.droppedMessages
        }
    }

    /// What client `id` sends next, waiting until something is due; nil once the hub is closed.
    func next(_ id: Int) async -> SSEClientQueue.Next? {
        while true {
            let taken = state.withLock { state -> SSEClientQueue.Next?? in
                guard !state.closed, state.clients[id] != nil else { return .some(nil) }
                return state.clients[id]!.queue.take().map { .some($0) }
            }
            if let taken { return taken }
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    guard !state.closed, state.clients[id] != nil, state.clients[id]!.queue.isEmpty else { return true }
                    state.clients[id]!.waiter = waiter
                    return false
                }
                if ready { waiter.resume() }
            }
        }
    }

    /// The `state` message for client `id`: the model as of the last flush and the last health.
    /// What was queued for the client before is dropped (the state holds it), and what the next
    /// flushes queue comes after it, so no event comes twice and none is missing. The copy is
    /// taken under the lock; the JSON is made outside it, once per model version for all the
    /// clients that ask for it together.
    func stateMessage(for id: Int) async -> [UInt8] {
        let (model, health) = state.withLock { state in
            state.clients[id]?.queue.supersede()
            return (state.flushed, Self.healthJSON(pipeline: state.pipeline, figures: state.figures))
        }
        let body = await stateBodies.body(version: model.version) { model.stateBody() }
        return serverSentEvent("state", data: body + ",\"health\":\(health)}")
    }

    static func healthJSON(pipeline: String?, figures: DashboardServerFigures) -> String {
        "{\"pipeline\":\(pipeline ?? "null"),\"server\":{\"clients\":\(figures.clients),\"connections\":\(figures.connections),"
            + "\"resyncs\":\(figures.resyncs),\"droppedMessages\":\(figures.droppedMessages)}}"
    }
}

/// The latest state's model part, made once per model version: clients connecting together wait
/// for one build rather than each making its own.
final class StateBodyCache: Sendable {
    private let latest = Mutex<(version: UInt64, build: Task<String, Never>)?>(nil)

    func body(version: UInt64, build: @escaping @Sendable () -> String) async -> String {
        let task = latest.withLock { latest -> Task<String, Never> in
            if let latest, latest.version == version { return latest.build }
            let task = Task { build() }
            if latest.map({ $0.version < version }) ?? true { latest = (version, task) }
            return task
        }
        return await task.value
    }
}

/// A request's context that keeps its connection, so the hub can close a stream whose client
/// stopped reading.
public struct DashboardRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
