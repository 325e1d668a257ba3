import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// Whether a write is waiting on its client, and since when. The write side marks each write's start and end;
/// a watchdog asks whether the write in progress has waited longer than the deadline. Times are passed in.
final class WriteWatch: Sendable {
    private let origin: ContinuousClock.Instant
    /// Nanoseconds from `origin` to the start of the write in progress; -1 while no write is waiting.
    private let pendingSince = Atomic<Int64>(-1)

    init(origin: ContinuousClock.Instant = .now) {
        self.origin = origin
    }

    func begin(at now: ContinuousClock.Instant = .now) {
        pendingSince.store(Self.nanoseconds(now - origin), ordering: .relaxed)
    }

    func end() {
        pendingSince.store(-1, ordering: .relaxed)
    }

    /// True when a write began more than `deadline` before `now` and has not finished.
    func stalled(at now: ContinuousClock.Instant, deadline: Duration) -> Bool {
        let since = pendingSince.load(ordering: .relaxed)
        return since >= 0 && Self.nanoseconds(now - origin) - since > Self.nanoseconds(deadline)
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A response body writer whose every write is watched by a `WriteWatch`.
struct StallGuardedWriter: ResponseBodyWriter {
    var inner: any ResponseBodyWriter
    let watch: WriteWatch

    mutating func write(_ buffer: ByteBuffer) async throws {
        watch.begin()
        defer { watch.end() }
        try await inner.write(buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        watch.begin()
        defer { watch.end() }
        try await inner.finish(trailingHeaders)
    }
}

/// Watches the writes of every streamed response (and the reading of every request body) from one task, instead of a task per stream (a timer per
/// stream cost about 50 µs of CPU per streamed request): every quarter of the deadline (10 ms to 1 s) it looks
/// at the registered streams and calls `onStall` once for each whose write in progress has waited longer than
/// the deadline. Runs as a service until the server has shut down (it is registered before the others, so it
/// stops after them).
final class StallWatchdog: Service, Sendable {
    let deadline: Duration
    /// How often it looks: a quarter of the shortest deadline it watches for, 10 ms to 1 s.
    let interval: Duration
    private struct Watched {
        var watch: WriteWatch
        var deadline: Duration
        var onStall: @Sendable () -> Void
    }
    private let watched = Mutex<(next: Int, entries: [Int: Watched])>((0, [:]))

    /// `deadline` for response writes; `otherDeadlines` for anything else watched with a deadline of its own.
    init(deadline: Duration, otherDeadlines: [Duration] = []) {
        self.deadline = deadline
        let shortest = ([deadline] + otherDeadlines).min() ?? deadline
        self.interval = max(min(shortest / 4, .seconds(1)), .milliseconds(10))
    }

    /// Starts watching (for `deadline`, else the watchdog's own); returns the id to stop watching with.
    func watch(_ watch: WriteWatch, deadline: Duration? = nil, onStall: @escaping @Sendable () -> Void) -> Int {
        watched.withLock { state in
            state.next += 1
            state.entries[state.next] = Watched(watch: watch, deadline: deadline ?? self.deadline, onStall: onStall)
            return state.next
        }
    }

    func forget(_ id: Int) {
        _ = watched.withLock { $0.entries.removeValue(forKey: id) }
    }

    var count: Int { watched.withLock { $0.entries.count } }

    /// Calls `onStall` for (and stops watching) every stream whose write has waited longer than the deadline.
    func check(at now: ContinuousClock.Instant) {
        let stalled: [Watched] = watched.withLock { state in
            let ids = state.entries.filter { $0.value.watch.stalled(at: now, deadline: $0.value.deadline) }.map(\.key)
            return ids.compactMap { state.entries.removeValue(forKey: $0) }
        }
        for entry in stalled { entry.onStall() }
    }

    func run() async throws {
        let interval = self.interval
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: interval)
                self.check(at: .now)
            }
        }
    }
}

extension ResponseBody {
    /// The same body, holding `slot` until its last byte is written or writing it fails. With a watchdog and a
    /// channel, every write is watched: a client that takes no bytes for the watchdog's deadline (its socket
    /// buffers full, never read) has its connection closed, which fails the waiting write and so ends the
    /// response and gives its slots back, instead of holding them for as long as the client keeps the socket open.
    func holding(
        _ slot: InFlightSlot, watchdog: StallWatchdog? = nil, channel: (any Channel)? = nil, onStall: @escaping @Sendable () -> Void = {}
    ) -> ResponseBody {
        let body = self
        return ResponseBody { writer in
            defer { slot.release() }
            guard let watchdog, let channel else {
                try await body.write(writer)
                return
            }
            let watch = WriteWatch()
            let id = watchdog.watch(watch) {
                onStall()
                channel.close(promise: nil)
            }
            defer { watchdog.forget(id) }
            try await body.write(StallGuardedWriter(inner: writer, watch: watch))
        }
    }
}

/// A request body whose reading is watched: from the first read to its end it may take at most the watchdog
/// deadline it was registered with (`server.body_read_ms`), so a client that sends its body a byte at a time
/// (each byte resets the connection's idle timer) cannot hold a request, and its slots, for ever.
struct WatchedRequestBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let watch: WriteWatch

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let watch: WriteWatch
        var started = false

        mutating func next() async throws -> ByteBuffer? {
            if !started {
                started = true
                watch.begin()
            }
            let buffer = try await base.next()
            if buffer == nil { watch.end() }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), watch: watch) }
}

extension Request {
    /// Whether the request says it has a body (a non-zero Content-Length, or a transfer encoding).
    var announcesBody: Bool {
        if let length = headers.value(.contentLength) { return length != "0" }
        return headers.contains(.transferEncoding)
    }
}
