import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A lean HTTP/1.1 client for plain-http upstreams, on SwiftNIO's own event loops and HTTP/1 codec: a pool of
/// keep-alive connections per host and port, no task per request, no logger, no tracing. A request that runs on one
/// of the client's loops takes an idle connection on that loop, else makes one there while under the limit, so that
/// it and its upstream's socket share a thread; only at the limit does it take one on another loop. A request waits for a
/// connection (FIFO, bounded), sends its head and body in one flush, and returns at the response head; its body is
/// read on demand (see ``HTTP1Body``). Each phase has its own timeout and error (``HTTP1Error``). A connection is
/// reused only after a clean end of a keep-alive HTTP/1.1 response with a known length; never after
/// `Connection: close`, HTTP/1.0, a close-delimited body, an error, a timeout or a cancellation. A body let go of
/// before its end (a relay that stopped at a stream's last event) has its rest read and dropped, for a moment and up to
/// a bound in bytes (`abandonedBodyWindow`, `abandonedBodyBytes`), and its connection is reused if the end came.
public final class HTTP1Client: Sendable {
    public struct Settings: Sendable {
        /// Connections per host and port, open or being made: never more.
        public var maxConnectionsPerHost: Int
        /// Requests that may wait for a connection per host and port; beyond it a request fails with `poolFull`.
        public var maxWaitersPerHost: Int
        /// A connection idle in the pool this long is closed.
        public var idleTimeout: TimeAmount
        /// How long the rest of a body let go of before its end is read and dropped, waiting for its end so that
        /// the connection can be reused; then the connection is closed.
        public var abandonedBodyWindow: TimeAmount
        /// How many bytes of such a rest are read and dropped at most; past it the connection is closed.
        public var abandonedBodyBytes: Int

        public init(
            maxConnectionsPerHost: Int = 64, maxWaitersPerHost: Int = 4096, idleTimeout: TimeAmount = .seconds(60),
            abandonedBodyWindow: TimeAmount = .seconds(1), abandonedBodyBytes: Int = 65_536
        ) {
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.maxWaitersPerHost = maxWaitersPerHost
            self.idleTimeout = idleTimeout
            self.abandonedBodyWindow = abandonedBodyWindow
            self.abandonedBodyBytes = abandonedBodyBytes
        }
    }

    /// The timeouts of one request, each with its own error.
    public struct Timeouts: Sendable {
        /// Making a new connection (`connectTimeout`).
        public var connect: TimeAmount
        /// Waiting for a pooled connection to come free (`poolTimeout`).
        public var poolWait: TimeAmount
        /// From sending the request to its response head (`headTimeout`).
        public var head: TimeAmount
        /// Silence while the reader waits for more of the body (`idleTimeout`).
        public var idle: TimeAmount
        /// The whole request, from the call to the end of its body (`totalTimeout`); bounds every phase.
        public var total: TimeAmount

        public init(connect: TimeAmount, poolWait: TimeAmount, head: TimeAmount, idle: TimeAmount, total: TimeAmount) {
            self.connect = connect
            self.poolWait = poolWait
            self.head = head
            self.idle = idle
            self.total = total
        }
    }

    struct Key: Hashable {
        var host: String
        var port: Int
    }

    private let group: any EventLoopGroup
    private let settings: Settings
    private let observer: (@Sendable (HTTP1PoolEvent) -> Void)?
    private let pools = Mutex<(pools: [Key: HTTP1Pool], shutDown: Bool)>(([:], false))
    private let requests = Atomic<UInt64>(0)

    /// `observer` hears each connection opened and closed (tests, metrics); it is called on the event loops.
    public init(eventLoopGroup: any EventLoopGroup, settings: Settings = Settings(), observer: (@Sendable (HTTP1PoolEvent) -> Void)? = nil) {
        self.group = eventLoopGroup
        self.settings = settings
        self.observer = observer
    }

    /// Sends a request and waits for its response head; the body is read from the response. A request whose
    /// pooled connection turned out closed before anything was written is sent on another one.
    public func execute(
        host: String, port: Int, method: HTTPMethod, path: String, headers: HTTPHeaders = [:], body: [UInt8] = [],
        timeouts: Timeouts
    ) async throws(HTTP1Error) -> HTTP1Response {
        let start = NIODeadline.now()
        let total = start + timeouts.total
        let id = requests.wrappingAdd(1, ordering: .relaxed).newValue
        let pool = try hostPool(host: host, port: port)
        let head = Self.requestHead(host: host, port: port, method: method, path: path, headers: headers, bodyBytes: body.count)
        let buffer = ByteBuffer(bytes: body)
        // The caller's event loop, when it runs on one (a connection handled on its loop): its upstream connection
        // is taken or made there, so the request and the upstream's socket do not hand over between threads.
        let here = MultiThreadedEventLoopGroup.currentEventLoop
        for _ in 0..<4 {
            if Task.isCancelled { throw .cancelled }
            let connection: HTTP1Connection
            let waitUntil = start + timeouts.poolWait
            switch await pool.lease(request: id, on: here, deadline: min(waitUntil, total), timeout: total <= waitUntil ? .totalTimeout : .poolTimeout) {
            case .failure(let error):
                throw error
            case .success(.use(let pooled)):
                connection = pooled
            case .success(.connect):
                let connectUntil = NIODeadline.now() + timeouts.connect
                let made = await pool.connect(
                    on: here, deadline: min(connectUntil, total), timeout: total <= connectUntil ? .totalTimeout : .connectTimeout)
                switch made {
                case .success(let new): connection = new
                case .failure(let error): throw error
                }
            }
            let timing = HTTP1Timing(head: .now() + timeouts.head, total: total, idle: timeouts.idle)
            switch await connection.send(request: id, head: head, body: buffer, timing: timing) {
            case .stale:
                continue
            case .failed(let error):
                throw error
            case .head(let head, let first):
                let owner = first.end == nil ? HTTP1Body.Owner(connection: connection, request: id) : nil
                return HTTP1Response(head: head, body: HTTP1Body(first: first, owner: owner))
            }
        }
        throw .connectionClosed
    }

    /// The request head: `Host` unless given, and the body's `Content-Length` (never chunked).
    static func requestHead(host: String, port: Int, method: HTTPMethod, path: String, headers: HTTPHeaders, bodyBytes: Int) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        if !head.headers.contains(name: "host") {
            let name = host.contains(":") ? "[\(host)]" : host
            head.headers.add(name: "Host", value: port == 80 ? name : "\(name):\(port)")
        }
        head.headers.remove(name: "transfer-encoding")
        if bodyBytes > 0 || method == .POST || method == .PUT || method == .PATCH {
            head.headers.replaceOrAdd(name: "Content-Length", value: String(bodyBytes))
        }
        return head
    }

    func hostPool(host: String, port: Int) throws(HTTP1Error) -> HTTP1Pool {
        let key = Key(host: host, port: port)
        let pool = pools.withLock { state -> HTTP1Pool? in
            if state.shutDown { return nil }
            if let pool = state.pools[key] { return pool }
            let pool = HTTP1Pool(
                host: host, port: port, group: group, limit: settings.maxConnectionsPerHost, maxWaiters: settings.maxWaitersPerHost,
                idleTimeout: settings.idleTimeout,
                discard: HTTP1Handler.Discard(window: settings.abandonedBodyWindow, bytes: settings.abandonedBodyBytes), observer: observer)
            state.pools[key] = pool
            return pool
        }
        guard let pool else { throw .shutdown }
        return pool
    }

    /// Connections open or being made to a host, idle among them, and requests waiting (for tests and metrics).
    public func connections(host: String, port: Int) -> (open: Int, idle: Int, waiting: Int) {
        pools.withLock { $0.pools[Key(host: host, port: port)] }?.counts ?? (0, 0, 0)
    }

    /// Closes the idle connections and fails waiting and later requests with `shutdown`; requests in flight finish.
    public func shutdown() {
        let all = pools.withLock { state in
            state.shutDown = true
            return Array(state.pools.values)
        }
        for pool in all { pool.shutdown() }
    }
}
