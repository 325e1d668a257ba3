import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import OpenAIWire
import Synchronization
import TrellisCore

/// Where one call goes and what it carries.
public struct UpstreamCall: Sendable {
    public var upstream: Upstream
    /// Where the call may connect, from the egress check.
    public var route: UpstreamRoute
    /// Appended to the upstream's base URL, e.g. `/chat/completions`.
    public var path: String
    public var body: [UInt8]
    public var stream: Bool
    public var requestID: String
    public var apiKey: String?

    public init(upstream: Upstream, route: UpstreamRoute, path: String, body: [UInt8], stream: Bool, requestID: String, apiKey: String?) {
        self.upstream = upstream
        self.route = route
        self.path = path
        self.body = body
        self.stream = stream
        self.requestID = requestID
        self.apiKey = apiKey
    }

    public var url: String {
        var base = upstream.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + path
    }
}

/// A successful (2xx) answer whose body has not been read yet.
public struct UpstreamResponse: Sendable {
    public var status: Int
    public var contentType: String?
    public var body: UpstreamBody
    /// The end of the upstream's `total_ms`, counted from when the call was sent.
    public var deadline: ContinuousClock.Instant = .now + .seconds(600)

    /// The body, read under the upstream's idle and total timeouts.
    public func timedBody(upstream: String) -> TimedBody {
        TimedBody(body: body, upstream: upstream, deadline: deadline)
    }

    /// Reads the whole body, up to `limit` bytes, under the upstream's idle and total timeouts.
    public func collect(upTo limit: Int, upstream: String) async throws(UpstreamFailure) -> ByteBuffer {
        var reader = timedBody(upstream: upstream)
        var out = ByteBuffer()
        while var buffer = try await reader.next() {
            guard out.readableBytes + buffer.readableBytes <= limit else { throw UpstreamFailure(kind: .protocolError, upstream: upstream) }
            out.writeBuffer(&buffer)
        }
        return out
    }
}

/// The OpenAI-compatible client every upstream call goes through: AsyncHTTPClient with a connection pool
/// sized for many concurrent streams per model server, no redirects (a redirect could lead outside the
/// network), no decompression surprises, and errors normalised into ``UpstreamFailure``. Every call, probe
/// and adapter load carries the ``UpstreamRoute`` the egress check gave it and connects along it only: a
/// pinned route by the checked address (`dnsOverride`, so `Host`, SNI and certificate checks keep the name).
public final class UpstreamClient: Sendable {
    /// The clients for the deployment's own timeouts, connecting to hosts as named: one per event loop, taken in
    /// turn. Calls reach them (and every other client) only through `execute(url:route:…)`, so each one connects
    /// along its egress route.
    ///
    /// Every AsyncHTTPClient client here runs on one event loop of the group, so its connections and the
    /// delegate calls of its requests share that loop: an upstream body's buffer is taken and more asked for
    /// before the connection reads again, and bytes an upstream sends before it breaks are never left in the
    /// connection (see `UpstreamBody`). Asking for the connection's loop per request instead
    /// (`.delegateAndChannel`) would make every connection a loop-bound one, which AsyncHTTPClient closes as
    /// soon as it is idle: a new connection (and TLS handshake) per call.
    private let defaults: [HTTPClient]
    private let loops: [any EventLoop]
    private let turn = Atomic<UInt>(0)
    public let maxErrorBodyBytes = 64 * 1024

    /// The next event loop of the group, in turn.
    private func nextLoop() -> any EventLoop {
        loops[Int(turn.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(loops.count))]
    }

    /// A client for the deployment's own timeouts: the one on the caller's event loop when it runs on one of the
    /// group's (a connection handled on its loop), so that the request and the upstream's socket share a thread;
    /// else one in turn.
    var http: HTTPClient {
        if let here = MultiThreadedEventLoopGroup.currentEventLoop, let i = loops.firstIndex(where: { $0 === here }) { return defaults[i] }
        return defaults[Int(turn.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(defaults.count))]
    }

    public struct Settings: Sendable {
        public var maxConnectionsPerHost: Int
        public var connectTimeoutMs: Int
        public var readTimeoutMs: Int
        public var idleConnectionSeconds: Int
        /// A PEM bundle of certificate authorities trusted for HTTPS upstreams in addition to the system's
        /// (a private network's own CA).
        public var caFile: String?
        /// Calls to plain-http upstreams go through the lean HTTP/1.1 client (``HTTP1Client``); off, through
        /// AsyncHTTPClient like HTTPS ones. Probes and adapter loads always use AsyncHTTPClient.
        public var leanHTTP1: Bool

        public init(
            maxConnectionsPerHost: Int = 1024, connectTimeoutMs: Int = 5_000, readTimeoutMs: Int = 120_000, idleConnectionSeconds: Int = 60,
            caFile: String? = nil, leanHTTP1: Bool = true
        ) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.connectTimeoutMs = connectTimeoutMs
            self.readTimeoutMs = readTimeoutMs
            self.idleConnectionSeconds = idleConnectionSeconds
            self.caFile = caFile
            self.leanHTTP1 = leanHTTP1
        }
    }

    public init(settings: Settings = Settings(), eventLoopGroup: any EventLoopGroup) {
        var config = HTTPClient.Configuration()
        if let caFile = settings.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(caFile)]
            config.tlsConfiguration = tls
        }
        config.connectionPool = .init(
            idleTimeout: .seconds(Int64(settings.idleConnectionSeconds)),
            concurrentHTTP1ConnectionsPerHostSoftLimit: settings.maxConnectionsPerHost)
        // Fail fast when a server refuses connections: the dispatcher moves on to the next deployment itself,
        // instead of AsyncHTTPClient retrying the same host until the connect timeout.
        config.connectionPool.retryConnectionEstablishment = false
        config.timeout = .init(connect: .milliseconds(Int64(settings.connectTimeoutMs)), read: .milliseconds(Int64(settings.readTimeoutMs)))
        config.redirectConfiguration = .disallow
        config.decompression = .disabled
        // The gateway installs no tracer. AsyncHTTPClient's default is the global no-op tracer, with which it
        // still builds a span and its attributes per request (about 3 % of the gateway's CPU); nil skips that.
        config.tracing.tracer = nil
        let loops = Array(eventLoopGroup.makeIterator())
        self.loops = loops.isEmpty ? [eventLoopGroup.next()] : loops
        // The default clients share the setting, so that the deployment's connections per host stay within it.
        var shared = config
        shared.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, settings.maxConnectionsPerHost / self.loops.count)
        self.defaults = self.loops.map { HTTPClient(eventLoopGroup: $0, configuration: shared) }
        self.configuration = config
        self.defaultConnectMs = settings.connectTimeoutMs
        self.defaultReadMs = settings.readTimeoutMs
        self.lean = HTTP1Client(
            eventLoopGroup: eventLoopGroup,
            settings: .init(maxConnectionsPerHost: settings.maxConnectionsPerHost, idleTimeout: .seconds(Int64(settings.idleConnectionSeconds))))
        self.useLean = settings.leanHTTP1
    }

    private let configuration: HTTPClient.Configuration
    private let defaultConnectMs: Int
    let defaultReadMs: Int
    /// The lean HTTP/1.1 client that plain-http calls go through (``sendLean``), unless `leanHTTP1` is off.
    let lean: HTTP1Client
    let useLean: Bool
    /// Call URLs and where they go on the lean client (nil: not a plain-http URL).
    let leanTargets = Mutex<[String: LeanTarget?]>([:])

    /// What a client is made for: its connect and read timeouts and, for a pinned route, the host name and
    /// the checked address it connects to for that name.
    struct ClientKey: Hashable {
        var connectMs: Int
        var readMs: Int
        var pin: Pin?
    }

    struct Pin: Hashable {
        /// The host as AsyncHTTPClient keys `dnsOverride` by (see `UpstreamRoute.overrideKey`).
        var host: String
        var address: String
    }

    struct Entry {
        var client: HTTPClient
        /// When a request last started on it, and the longest a request started on it may last.
        var lastUsed: NIODeadline
        var holdMs: Int64
    }

    /// AsyncHTTPClient sets its connect and read timeouts, and where a host name connects to (`dnsOverride`),
    /// per client, not per request: upstreams whose `connect_ms` or `idle_ms` differ from the deployment's get
    /// a client (and pool) per distinct pair, and a pinned route a client per (timeouts, name, address), all
    /// made on first use and kept, so connections are pooled across requests. The read timeout is the
    /// upstream's `idle_ms`, capped by `upstream.read_timeout_ms`. A pinned client unused for longer than any
    /// request on it may last (plus a minute) is shut down when another pinned client is made: a name whose
    /// addresses keep changing cannot pile up clients.
    private let clients = Mutex<(entries: [ClientKey: Entry], closed: Bool)>(([:], false))
    /// Per host name, the checked address that last accepted a connection, tried first next time.
    let preferred = Mutex<[String: String]>([:])
    /// Call URLs and the `dnsOverride` key of their host.
    private let overrideKeys = Mutex<[String: String]>([:])
    /// How many pinned clients were made (for tests).
    let pinnedClientsMade = Atomic<Int>(0)

    /// The client for an upstream's timeouts, connecting to hosts as named, or to the pinned address.
    private func client(connectMs: Int, idleMs: Int?, pin: Pin?, holdMs: Int64) -> HTTPClient {
        let readMs = min(idleMs ?? defaultReadMs, defaultReadMs)
        if pin == nil && connectMs == defaultConnectMs && readMs == defaultReadMs { return http }
        let key = ClientKey(connectMs: connectMs, readMs: readMs, pin: pin)
        let now = NIODeadline.now()
        var retired: [HTTPClient] = []
        let client = clients.withLock { state -> HTTPClient in
            if var entry = state.entries[key] {
                entry.lastUsed = now
                entry.holdMs = max(entry.holdMs, holdMs)
                state.entries[key] = entry
                return entry.client
            }
            // After shutdown no new client is made (it would never be shut down): the closed default client
            // fails the call instead.
            if state.closed { return http }
            var config = configuration
            config.timeout.connect = .milliseconds(Int64(connectMs))
            config.timeout.read = .milliseconds(Int64(readMs))
            if let pin {
                config.dnsOverride = [pin.host: pin.address]
                for (other, entry) in state.entries where other.pin != nil && now - entry.lastUsed > .milliseconds(entry.holdMs + 60_000) {
                    state.entries[other] = nil
                    retired.append(entry.client)
                }
                pinnedClientsMade.wrappingAdd(1, ordering: .relaxed)
            }
            let client = HTTPClient(eventLoopGroup: nextLoop(), configuration: config)
            state.entries[key] = Entry(client: client, lastUsed: now, holdMs: holdMs)
            return client
        }
        if !retired.isEmpty {
            Task { for old in retired { try? await old.shutdown() } }
        }
        return client
    }

    public func shutdown() async throws {
        let others = clients.withLock { state in
            state.closed = true
            return state.entries.values.map(\.client)
        }
        lean.shutdown()
        for client in others { try? await client.shutdown() }
        for client in defaults.dropLast() { try? await client.shutdown() }
        try await defaults.last?.shutdown()
    }

    /// Performs a request to `url` along `route` (`perform` sends it on the client given and waits for its
    /// head): as named on the timeouts' client, or on the pinned client of one checked address after another
    /// (the one that last accepted a connection first), moving on only when a connection could not be made, so
    /// nothing was sent.
    func execute<Answer>(
        url: String, route: UpstreamRoute, connectMs: Int, idleMs: Int?, holdMs: Int64, _ perform: (HTTPClient) async throws -> Answer
    ) async throws -> Answer {
        guard case .pinned(let addresses) = route else {
            return try await perform(client(connectMs: connectMs, idleMs: idleMs, pin: nil, holdMs: holdMs))
        }
        // Nothing to connect to: a connect failure, never a lookup of the name.
        guard let key = overrideKey(forURL: url), !addresses.isEmpty else { throw NoAddress() }
        var candidates = addresses.prefix(Self.maxAddressesTried).map(\.description)
        if let first = preferred.withLock({ $0[key] }), let i = candidates.firstIndex(of: first), i > 0 {
            candidates.insert(candidates.remove(at: i), at: 0)
        }
        for (i, address) in candidates.enumerated() {
            let pinned = client(connectMs: connectMs, idleMs: idleMs, pin: Pin(host: key, address: address), holdMs: holdMs)
            do {
                let response = try await perform(pinned)
                if i > 0 {
                    preferred.withLock { map in
                        if map.count >= 4096 { map.removeAll() }
                        map[key] = address
                    }
                }
                return response
            } catch  where i < candidates.count - 1 && Self.isConnectFailure(error) {
                continue
            }
        }
        throw NoAddress()  // not reached: the last candidate's error is thrown above
    }

    /// The `dnsOverride` key for `url`'s host, parsed as AsyncHTTPClient parses it; remembered per URL (a
    /// handful per upstream), so the hot path does not parse each call's URL twice.
    private func overrideKey(forURL url: String) -> String? {
        if let known = overrideKeys.withLock({ $0[url] }) { return known }
        guard let host = UpstreamRoute.host(ofURL: url) else { return nil }
        let key = UpstreamRoute.overrideKey(forHost: host)
        overrideKeys.withLock { keys in
            if keys.count >= 4096 { keys.removeAll() }
            keys[url] = key
        }
        return key
    }

    /// A pinned route with nothing to connect to (classified as a connect failure).
    struct NoAddress: Error {}

    /// At most this many of a name's addresses are tried for one call.
    static let maxAddressesTried = 4

    /// True for errors raised while the connection was being made (refused, unreachable, connect timeout):
    /// nothing of the request was sent, so another address may be tried.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if let e = error as? HTTPClientError { return e == .connectTimeout }
        if let e = error as? ChannelError, case .connectTimeout = e { return true }
        if let e = error as? IOError {
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ENETDOWN].contains(e.errnoCode)
        }
        return false
    }

    /// Sends the call and waits for the response head. A non-2xx answer is read (up to 64 KiB) and thrown as
    /// a failure carrying the upstream's error; the caller reads a 2xx body itself.
    static let quietLogger = Logger(label: "trellis.upstream", factory: { _ in SwiftLogNoOpLogHandler() })

    public func send(_ call: UpstreamCall, logger: Logger) async throws(UpstreamFailure) -> UpstreamResponse {
        let name = call.upstream.name
        let url = call.url
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Accept", value: call.stream ? "text/event-stream" : "application/json")
        // Not `X-Request-Id`: some servers (llama-cpp-python) refuse ids that are not UUIDs.
        headers.add(name: "X-Trellis-Request-Id", value: call.requestID)
        if let apiKey = call.apiKey {
            headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        }
        if useLean, let target = leanTarget(forURL: url) {
            return try await sendLean(call, target: target, headers: headers)
        }
        let sent = ContinuousClock.now
        let timeouts = call.upstream.timeouts
        let deadline = NIODeadline.now() + .milliseconds(Int64(min(timeouts.firstByteMs, timeouts.totalMs)))
        let response: (head: HTTPResponseHead, body: UpstreamBody)
        do {
            // The delegate API, not the async one: see `UpstreamBody` (the async body loses bytes at a break).
            let request = try HTTPClient.Request(url: url, method: .POST, headers: headers, body: .bytes(call.body))
            // AsyncHTTPClient logs only at debug and trace, yet sets its per-request metadata on whatever logger it
            // is given (each setter copies the handler): below debug it gets the no-op logger instead.
            let clientLogger = logger.logLevel <= .debug ? logger : Self.quietLogger
            response = try await execute(
                url: url, route: call.route, connectMs: timeouts.connectMs, idleMs: timeouts.idleMs,
                holdMs: Int64(timeouts.totalMs) + Int64(timeouts.idleMs)
            ) { client in
                try await UpstreamBody.send(request, on: client, headDeadline: deadline, logger: clientLogger)
            }
        } catch {
            throw Self.classify(error, upstream: name, phase: .firstByte)
        }
        let status = Int(response.head.status.code)
        if (200..<300).contains(status) {
            return UpstreamResponse(
                status: status, contentType: response.head.headers.first(name: "Content-Type"), body: response.body,
                deadline: sent + .milliseconds(timeouts.totalMs))
        }
        var failure = UpstreamFailure(kind: .status, upstream: name, status: status, retryAfter: response.head.headers.first(name: "Retry-After"))
        if let buffer = try? await response.body.collect(upTo: maxErrorBodyBytes) {
            failure.upstreamError = OpenAIError.parse(upstreamBody: buffer.readableBytesView)
        }
        throw failure
    }

    /// Maps AsyncHTTPClient and NIO errors to failure kinds without keeping their text (which can hold URLs).
    public static func classify(_ error: any Error, upstream: String, phase: UpstreamFailure.Phase) -> UpstreamFailure {
        if error is CancellationError {
            return UpstreamFailure(kind: .cancelled, upstream: upstream)
        }
        if let e = error as? HTTP1Error {
            return e.upstreamFailure(upstream: upstream)
        }
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .writeTimeout {
                return UpstreamFailure(kind: .timeout, upstream: upstream, phase: phase)
            }
            if e == .readTimeout {
                return UpstreamFailure(kind: .timeout, upstream: upstream, phase: .idle)
            }
            if e == .connectTimeout {
                return UpstreamFailure(kind: .timeout, upstream: upstream, phase: .connect)
            }
            if e == .cancelled {
                return UpstreamFailure(kind: .cancelled, upstream: upstream)
            }
            if e == .remoteConnectionClosed || e == .bodyLengthMismatch || e == .invalidProxyResponse {
                return UpstreamFailure(kind: .protocolError, upstream: upstream)
            }
        }
        return UpstreamFailure(kind: .connect, upstream: upstream)
    }
}

extension UpstreamClient {
    /// The active health check: `GET {base_url}/models` along `route`, within `timeoutMs`.
    public func probe(upstream: Upstream, route: UpstreamRoute, apiKey: String?, timeoutMs: Int) async -> ProbeOutcome {
        do {
            let response = try await models(upstream: upstream, route: route, apiKey: apiKey, timeoutMs: timeoutMs)
            _ = try? await response.body.collect(upTo: 1 << 20)
            let status = Int(response.status.code)
            return (200..<300).contains(status) ? .healthy : .status(status)
        } catch {
            return .unreachable(Self.classify(error, upstream: upstream.name, phase: .probe).label)
        }
    }

    /// `GET {base_url}/models` along `route`, within `timeoutMs`: the response, for the caller to read.
    func models(upstream: Upstream, route: UpstreamRoute, apiKey: String?, timeoutMs: Int) async throws -> HTTPClientResponse {
        var base = upstream.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        let url = base + "/models"
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        let deadline = NIODeadline.now() + .milliseconds(Int64(timeoutMs))
        return try await execute(url: url, route: route, connectMs: upstream.timeouts.connectMs, idleMs: nil, holdMs: Int64(timeoutMs)) { client in
            try await client.execute(request, deadline: deadline, logger: Self.quietLogger)
        }
    }

    /// Loads a LoRA adapter into a vLLM server (`POST /v1/load_lora_adapter`). A server that says it already
    /// has the adapter counts as success only when it lists that name as loaded from this path.
    public func loadLoRAAdapter(
        upstream: Upstream, route: UpstreamRoute, name: String, path: String, apiKey: String?, logger: Logger
    ) async throws(UpstreamFailure) {
        let body: JSONValue = ["lora_name": .string(name), "lora_path": .string(path)]
        let call = UpstreamCall(
            upstream: upstream, route: route, path: "/load_lora_adapter", body: JSONWriter.encode(body), stream: false, requestID: "adapter-load",
            apiKey: apiKey)
        do {
            let response = try await send(call, logger: logger)
            _ = try? await response.body.collect(upTo: maxErrorBodyBytes)
        } catch {
            if error.kind == .status, error.status == 400, error.upstreamError?.message.lowercased().contains("already") == true,
                await isLoaded(name: name, path: path, upstream: upstream, route: route, apiKey: apiKey)
            {
                return
            }
            throw error
        }
    }
}
