import Logging
import OpenAIWire
import ServiceLifecycle
import Synchronization
import TrellisCore
import TrellisStore

/// Buffers usage rows in memory and writes them to the store in batches, so no request waits for SQLite.
/// The buffer is bounded: when the store cannot keep up, new rows are dropped and counted rather than letting
/// memory grow without limit. On graceful shutdown the service returns only after a final flush; by then the
/// HTTP server (shut down first) has finished its requests.
///
/// What a crash can lose: rows recorded in the last `flushInterval` (and at most `capacity` rows).
///
/// A shutdown cut short (a second signal, or `server.shutdown_grace_seconds` run out) cancels this service
/// while requests are still unwinding, and a stream's row is recorded by its relay as its response ends:
/// each request that will still record a row holds an ``OpenRow``, and the final flush waits up to
/// `openRowsWait` for them before it writes.
public final class UsageRecorder: Service, Sendable {
    struct State {
        var buffer: [UsageEvent] = []
        var captures: [CapturedInteraction] = []
        var dropped = 0
        var written = 0
        /// Batches taken from the buffer and not yet written (by any flush), kept until they are, so that a
        /// row is always either here, in `buffer`, or in the store.
        var writing: [Int: [UsageEvent]] = [:]
        var nextBatch = 0
        /// Flushes writing the captured interactions they took, so that a flush returns only once captures
        /// another flush took before it are written too.
        var captureWriters = 0
        /// `dropped` when the last warning was logged, and when.
        var warnedDropped = 0
        var warnedAt: ContinuousClock.Instant?
    }

    /// What was dropped, for the metrics (`onDrop`).
    public enum Dropped: Sendable {
        case usage
        case interaction
    }

    private let state = Mutex(State())
    /// Requests that will still record a row (``OpenRow``s not yet closed).
    private let open = Atomic<Int>(0)
    /// Whether the final flush has begun (for tests).
    private let finalFlushBegun = Atomic<Bool>(false)
    /// How long the final flush waits for open rows.
    private let openRowsWait: Duration
    private let store: any UsageStore & FlywheelStore
    private let capacity: Int
    private let batchSize: Int
    private let flushInterval: Duration
    private let logger: Logger
    private let wake: AsyncStream<Void>.Continuation
    private let wakeups: AsyncStream<Void>
    /// Told of rows lost past the bound, except those `record` refuses (its caller counts them).
    private let onDrop: @Sendable (Int, Dropped) -> Void

    public init(
        store: any UsageStore & FlywheelStore, capacity: Int, batchSize: Int, flushInterval: Duration, logger: Logger,
        openRowsWait: Duration = .seconds(2), onDrop: @escaping @Sendable (Int, Dropped) -> Void = { _, _ in }
    ) {
        self.onDrop = onDrop
        self.openRowsWait = openRowsWait
        self.store = store
        self.capacity = capacity
        self.batchSize = batchSize
        self.flushInterval = flushInterval
        self.logger = logger
        (self.wakeups, self.wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Adds a row; never blocks. Returns false when the buffer is full and the row was dropped.
    @discardableResult
    public func record(_ event: UsageEvent) -> Bool {
        let (accepted, full) = state.withLock { s -> (Bool, Bool) in
            guard s.buffer.count < capacity else {
                s.dropped += 1
                return (false, true)
            }
            s.buffer.append(event)
            return (true, s.buffer.count >= batchSize)
        }
        if full { wake.yield() }
        return accepted
    }

    /// Keeps an interaction for the flywheel; written with the next flush. Dropped (and counted) when the
    /// buffer is full.
    func capture(_ interaction: CapturedInteraction) {
        let accepted = state.withLock { s -> Bool in
            guard s.captures.count < capacity else {
                s.dropped += 1
                return false
            }
            s.captures.append(interaction)
            return true
        }
        if !accepted { onDrop(1, .interaction) }
    }

    /// A request that will record a row: the final flush waits (a bounded time) until every one is closed.
    /// Closed once, by `close()` after the row is recorded, or when the last copy of it goes away.
    final class OpenRow: Sendable {
        private let recorder: UsageRecorder
        private let closed = Atomic<Bool>(false)

        fileprivate init(_ recorder: UsageRecorder) { self.recorder = recorder }

        func close() {
            if !closed.exchange(true, ordering: .acquiringAndReleasing) { recorder.open.subtract(1, ordering: .releasing) }
        }

        deinit { close() }
    }

    /// Marks a request that will record a row later; close what this returns once it has.
    func openRow() -> OpenRow {
        open.add(1, ordering: .relaxed)
        return OpenRow(self)
    }

    /// Requests that will still record a row.
    var openRows: Int { open.load(ordering: .acquiring) }
    /// Whether the final flush has begun.
    var finalFlushStarted: Bool { finalFlushBegun.load(ordering: .acquiring) }

    public var pendingCount: Int { state.withLock { $0.buffer.count } }
    /// Captured interactions waiting to be written.
    var pendingCaptures: Int { state.withLock { $0.captures.count } }

    /// The row of `requestID` while it is still in memory (buffered, or in a batch being written), else nil:
    /// then it is in the store, or there is no such request. Looked up without writing anything, so that
    /// asking about unknown ids costs a scan of what is buffered and no write to the store.
    func buffered(requestID: String) -> UsageEvent? {
        state.withLock { s in
            if let e = s.buffer.last(where: { $0.requestID == requestID }) { return e }
            for batch in s.writing.values {
                if let e = batch.last(where: { $0.requestID == requestID }) { return e }
            }
            return nil
        }
    }
    public var droppedCount: Int { state.withLock { $0.dropped } }
    public var writtenCount: Int { state.withLock { $0.written } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                // The ticker: wakes the flusher every interval; ends when the flusher does.
                group.addTask { [wake, flushInterval] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: flushInterval)
                        wake.yield()
                    }
                }
                for await _ in wakeups {
                    await flush()
                    if Task.isShuttingDownGracefully { break }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [wake] in
            wake.yield()
        }
        // Final flush: rows recorded while the server drained. Written from a task of its own, so that it
        // happens even when this one has been cancelled.
        await Task { await self.flushFinal() }.value
        if droppedCount > 0 {
            logger.warning("usage rows dropped because the buffer was full", metadata: ["dropped": "\(droppedCount)"])
        }
    }

    /// Writes everything buffered in one go, captured interactions too: for shutdown only. Waits first, up to
    /// `openRowsWait`, for requests that will still record a row (cut requests unwinding, a stream's relay).
    func flushFinal() async {
        finalFlushBegun.store(true, ordering: .releasing)
        await waitForOpenRows()
        await writeCapturesFinal()
        let all: [UsageEvent] = state.withLock { s in
            let all = s.buffer
            s.buffer.removeAll()
            return all
        }
        guard !all.isEmpty else { return }
        do {
            try await store.insertUsage(all)
            state.withLock { $0.written += all.count }
        } catch {
            state.withLock { $0.dropped += all.count }
            onDrop(all.count, .usage)
            logger.error("final usage write failed", metadata: ["rows": "\(all.count)", "error": "\(type(of: error))"])
        }
    }

    private func waitForOpenRows() async {
        guard openRows > 0 else { return }
        logger.notice(
            "final usage flush: waiting for requests still recording their usage",
            metadata: ["requests": "\(openRows)", "wait_ms": "\(Int(openRowsWait.milliseconds))"])
        let deadline = ContinuousClock.now + openRowsWait
        // Polled: the wait is bounded and short, and happens once, at shutdown.
        while openRows > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let left = openRows
        if left > 0 {
            logger.warning("final usage flush: requests still running were not recorded", metadata: ["requests": "\(left)"])
        }
    }

    /// The captured interactions waiting, taken out of the buffer.
    private func takeCaptures() -> [CapturedInteraction] {
        state.withLock { s in
            defer { s.captures.removeAll() }
            return s.captures
        }
    }

    private func write(_ c: CapturedInteraction) async throws {
        try await store.insertInteraction(
            requestID: c.requestID, tenantID: c.tenantID, model: c.model, modelVersion: c.modelVersion, messages: c.messages, answer: c.answer,
            retentionDays: c.retentionDays)
    }

    /// Writes every captured interaction; those the store refuses are dropped and counted, and once it is
    /// unreachable the rest are (nothing retries after the final flush).
    private func writeCapturesFinal() async {
        let captures = takeCaptures()
        for (index, c) in captures.enumerated() {
            do {
                try await write(c)
            } catch {
                let lost = StoreFailure.isUnavailable(error) ? captures.count - index : 1
                state.withLock { $0.dropped += lost }
                onDrop(lost, .interaction)
                logger.error("final interaction capture write failed", metadata: ["interactions": "\(lost)", "error": "\(type(of: error))"])
                if lost > 1 || StoreFailure.isUnavailable(error) { return }
            }
        }
    }

    /// Writes everything buffered, in batches, and returns once every row buffered before the call is written
    /// (including a batch a concurrent flush had already taken). A failed batch is put back at the front and
    /// retried on the next flush.
    ///
    /// Rows recorded while it writes wait for the next flush (the interval, or a full batch): a flush that took
    /// them too would, under steady traffic, never end and write a few rows per transaction, each one a round
    /// trip to the store.
    public func flush() async {
        await writeCaptures()
        guard await writeUsageBatches() else { return }
        // A batch (or captures) another flush took before this one started may still be on its way to the store:
        // return only once everything buffered before this call is written.
        while state.withLock({ !$0.writing.isEmpty || $0.captureWriters > 0 }), !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(1))
        }
        warnAboutDrops()
    }

    /// Writes the captured interactions waiting, one by one. Those the store refuses are dropped and counted;
    /// once it is unreachable, the rest go back in front (within the bound) for the next flush.
    private func writeCaptures() async {
        let captures = state.withLock { s in
            defer { s.captures.removeAll() }
            if !s.captures.isEmpty { s.captureWriters += 1 }
            return s.captures
        }
        guard !captures.isEmpty else { return }
        defer { state.withLock { $0.captureWriters -= 1 } }
        for (index, c) in captures.enumerated() {
            do {
                try await write(c)
            } catch {
                guard StoreFailure.isUnavailable(error) else {
                    // Refused for itself (not an outage): retrying would not help.
                    state.withLock { $0.dropped += 1 }
                    onDrop(1, .interaction)
                    logger.error("interaction capture write failed", metadata: ["error": "\(type(of: error))"])
                    continue
                }
                let rest = captures[index...]
                let lost = state.withLock { s -> Int in
                    let room = max(0, capacity - s.captures.count)
                    s.captures.insert(contentsOf: rest.prefix(room), at: 0)
                    let lost = rest.count - min(room, rest.count)
                    s.dropped += lost
                    return lost
                }
                if lost > 0 { onDrop(lost, .interaction) }
                logger.error("interaction capture write failed; will retry", metadata: ["interactions": "\(rest.count)", "error": "\(type(of: error))"])
                return
            }
        }
    }

    /// Writes the usage rows buffered when it began, in batches. Returns false when the store went away and the
    /// rest wait for the next flush.
    private func writeUsageBatches() async -> Bool {
        var toWrite = state.withLock { $0.buffer.count }
        while toWrite > 0 {
            let (batchID, batch): (Int, [UsageEvent]) = state.withLock { s in
                let n = min(batchSize, toWrite, s.buffer.count)
                let batch = Array(s.buffer.prefix(n))
                s.buffer.removeFirst(n)
                s.nextBatch += 1
                if !batch.isEmpty { s.writing[s.nextBatch] = batch }
                return (s.nextBatch, batch)
            }
            if batch.isEmpty { break }
            toWrite -= batch.count
            do {
                try await store.insertUsage(batch)
                state.withLock { s in
                    s.written += batch.count
                    s.writing[batchID] = nil
                }
            } catch  where !StoreFailure.isUnavailable(error) && !(error is CancellationError) {
                // The store is there but refused the batch: retrying it whole would fail forever and block
                // every later row. Its rows are written one by one; a row the store refuses is dropped and counted
                // (rows left when the store goes away meanwhile wait in the buffer as usual).
                if await !writeRefusedBatch(batch, id: batchID, error: error) { return false }
            } catch {
                let lost = state.withLock { s -> Int in
                    let room = max(0, capacity - s.buffer.count)
                    s.buffer.insert(contentsOf: batch.prefix(room), at: 0)
                    let lost = batch.count - min(room, batch.count)
                    s.dropped += lost
                    s.writing[batchID] = nil
                    return lost
                }
                if lost > 0 { onDrop(lost, .usage) }
                logger.error("usage batch write failed; will retry", metadata: ["rows": "\(batch.count)", "error": "\(type(of: error))"])
                warnAboutDrops()
                return false
            }
        }
        return true
    }

    /// Writes a batch the store refused row by row; returns false when the store went away meanwhile (the rows
    /// not tried wait in the buffer).
    private func writeRefusedBatch(_ batch: [UsageEvent], id batchID: Int, error: any Error) async -> Bool {
        let (refused, left) = await writeOneByOne(batch)
        let lost = state.withLock { s -> Int in
            let kept = min(left.count, max(0, capacity - s.buffer.count))
            s.written += batch.count - refused - left.count
            s.dropped += refused + left.count - kept
            s.buffer.insert(contentsOf: left.prefix(kept), at: 0)
            s.writing[batchID] = nil
            return refused + left.count - kept
        }
        if lost > 0 { onDrop(lost, .usage) }
        if refused > 0 {
            logger.error("usage rows refused by the store; dropped", metadata: ["rows": "\(refused)", "error": "\(type(of: error))"])
        }
        return left.isEmpty
    }

    /// Writes each row of a batch the store refused on its own; returns how many it refused again, and the rows
    /// not tried because the store became unreachable.
    private func writeOneByOne(_ batch: [UsageEvent]) async -> (refused: Int, left: [UsageEvent]) {
        var refused = 0
        for (i, event) in batch.enumerated() {
            do {
                try await store.insertUsage([event])
            } catch  where StoreFailure.isUnavailable(error) || error is CancellationError {
                return (refused, Array(batch[i...]))
            } catch {
                refused += 1
            }
        }
        return (refused, [])
    }

    /// A warning with the count of rows dropped since the last one, at most every 10 seconds, so that a full
    /// buffer is never silent (the metrics count them too).
    private func warnAboutDrops() {
        let now = ContinuousClock.now
        let (total, new): (Int, Int) = state.withLock { s in
            guard s.dropped > s.warnedDropped, s.warnedAt.map({ now - $0 >= .seconds(10) }) ?? true else { return (s.dropped, 0) }
            defer {
                s.warnedDropped = s.dropped
                s.warnedAt = now
            }
            return (s.dropped, s.dropped - s.warnedDropped)
        }
        guard new > 0 else { return }
        logger.warning(
            "usage rows or interactions dropped: the buffer (usage.buffer_capacity) was full while the store could not keep up",
            metadata: ["dropped": "\(new)", "dropped_total": "\(total)", "capacity": "\(capacity)"])
    }
}

/// An interaction kept for the data flywheel: the final messages sent upstream and the answer.
struct CapturedInteraction: Sendable {
    var requestID: String
    var tenantID: String
    var model: String
    var modelVersion: Int?
    var messages: JSONValue
    var answer: String
    var retentionDays: Int
}
