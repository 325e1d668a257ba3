import HTTPTypes
import Hummingbird
import NIOCore
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

    /// Checks every quarter of the deadline (10 ms to 1 s) until cancelled or a write stalls; then calls `onStall`
    /// once and returns.
    func watch(deadline: Duration, onStall: @Sendable () -> Void) async {
        let interval = max(min(deadline / 4, .seconds(1)), .milliseconds(10))
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            if stalled(at: .now, deadline: deadline) {
                onStall()
                return
            }
        }
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

extension ResponseBody {
    /// The same body, holding `slot` until its last byte is written or writing it fails. With a channel, every
    /// write is bounded by `stallDeadline`: a client that takes no bytes for that long (its socket buffers
    /// full, never read) has its connection closed, which fails the waiting write and so ends the response and
    /// gives its slots back, instead of holding them for as long as the client keeps the socket open.
    func holding(
        _ slot: InFlightSlot, stallDeadline: Duration? = nil, channel: (any Channel)? = nil, onStall: @escaping @Sendable () -> Void = {}
    ) -> ResponseBody {
        let body = self
        return ResponseBody { writer in
            defer { slot.release() }
            guard let stallDeadline, let channel else {
                try await body.write(writer)
                return
            }
            let watch = WriteWatch()
            let watchdog = Task {
                await watch.watch(deadline: stallDeadline) {
                    onStall()
                    channel.close(promise: nil)
                }
            }
            defer { watchdog.cancel() }
            try await body.write(StallGuardedWriter(inner: writer, watch: watch))
        }
    }
}
