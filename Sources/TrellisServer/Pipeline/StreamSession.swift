import AsyncHTTPClient
import NIOCore
import OpenAIWire
import TrellisCore
import TrellisUpstream

/// One upstream stream being relayed: the body iterator, the SSE parser and the rewriter, plus frames read
/// ahead of the response (the first events, read before the response head is committed).
///
/// `@unchecked Sendable`: its mutable state is used by one task at a time, never concurrently. The request's own
/// task creates and primes it (``AdmittedCall/stream(_:)``; it crosses an isolation boundary there only as the
/// return value of the dispatcher's read step, inside that task; the same task then sets ``beforeTail`` once, before
/// anything else holds the session) and hands it, inside a ``PrimedStream``, to the
/// response body, which relays it (``PrimedStream/relay(send:)``) only after the handler has returned (in
/// Hummingbird, in the same connection task). `PrimedStream` lets one relay use it, or its `deinit` when none ran,
/// once every other reference is gone. Other threads (the connection watcher, the shutdown drain) only call
/// ``stopReading()``, which reads a constant and stops the upstream body under that body's own lock.
final class StreamSession: @unchecked Sendable {
    private var body: TimedBody
    /// The same body as `body` reads, to stop from outside the reading task.
    private let upstreamBody: UpstreamBody
    private var parser: SSEParser
    /// The upstream sent an event over the parser's limit (`upstream.max_event_bytes`).
    private var oversizedEvent = false
    private(set) var rewriter: ChatStreamRewriter
    /// Frames the rewritten events for the client's API (chat chunks, or the Responses API's events).
    private(set) var encoder: any StreamEncoder
    /// Runs once the stream has ended (properly, broken, or cut at shutdown), before its last frames are sent: the
    /// Responses API keeps the finished response here, so it can be read and continued once the client has it.
    var beforeTail: (@Sendable (any StreamEncoder) async -> Void)?
    private var pending: [UInt8] = []
    private var upstreamEnded = false
    private var sawContent = false
    let upstream: String
    let oneTokenPerChunk: Bool

    init(
        response: UpstreamResponse, upstream: Upstream, rewriter: ChatStreamRewriter, encoder: any StreamEncoder = ChatStreamEncoder(),
        maxEventBytes: Int = SSEParser.defaultMaxEventBytes
    ) {
        self.encoder = encoder
        self.body = response.timedBody(upstream: upstream.name)
        self.upstreamBody = response.body
        self.parser = SSEParser(maxEventBytes: maxEventBytes)
        self.upstream = upstream.name
        self.oneTokenPerChunk = upstream.kind == .llamacpp
        self.rewriter = rewriter
        self.rewriter.relaysBytes = encoder.takesChunkBytes
    }

    /// Reads until at least one frame is ready for the client, or the upstream ends.
    func prime() async throws(UpstreamFailure) {
        while pending.isEmpty && !upstreamEnded && !rewriter.sawDone {
            try await readMore()
        }
        if pending.isEmpty && !rewriter.completed {
            // Ended before sending anything usable.
            throw UpstreamFailure(kind: .protocolError, upstream: upstream)
        }
    }

    /// Stops the upstream read from any thread: a read waiting on a silent upstream, or the next one, fails as
    /// cancelled, and the upstream call is cancelled, releasing its connection.
    func stopReading() {
        upstreamBody.stop()
    }

    /// Reads one buffer from the upstream and appends the frames it completes to `pending`.
    private func readMore() async throws(UpstreamFailure) {
        guard let buffer = try await body.next() else {
            upstreamEnded = true
            return
        }
        let events: [SSEEvent]
        do {
            events = try parser.feed(buffer.readableBytesView)
        } catch {
            // The parser has let go of the oversized event; the stream ends here.
            oversizedEvent = true
            throw UpstreamFailure(kind: .protocolError, upstream: upstream)
        }
        for event in events {
            let (rewritten, hasContent) = rewriter.rewrite(event)
            if hasContent { sawContent = true }
            // The rewriter's error only, not the rewriter: passing a copy of it cost a retain of each of its members per chunk.
            pending.append(contentsOf: encoder.encode(rewritten, upstreamError: rewriter.upstreamError))
            if rewriter.sawDone { break }
        }
    }

    /// Relays everything to the client: pending frames, then the rest as it arrives, then `[DONE]`. A stream
    /// the upstream breaks ends with an error event and `[DONE]`, and is recorded as an error; that failure is
    /// returned, for the upstream's health.
    ///
    /// `send` is the response body's write: the next upstream read waits for it, so the client's socket paces the
    /// upstream. `shouldCut` is asked between frames: when it is true (the gateway is shutting down and its drain
    /// window has closed) the stream ends at once with a `server_shutting_down` error event and `[DONE]`. A stream
    /// waiting on a silent upstream at that moment has its read stopped (``stopReading()``), and ``PrimedStream``
    /// ends it the same way.
    @discardableResult
    func relay(
        accounting: inout Accounting, shouldCut: () -> Bool = { false }, send: (ByteBuffer) async throws -> Void
    ) async throws
        -> UpstreamFailure?
    {
        var failure: UpstreamFailure?
        while true {
            if !pending.isEmpty {
                if sawContent && accounting.firstTokenAt == nil { accounting.firstTokenAt = .now }
                try await send(ByteBuffer(bytes: pending))
                pending.removeAll(keepingCapacity: true)
            }
            if upstreamEnded || rewriter.sawDone { break }
            if shouldCut() {
                try await sendCut(&accounting, send: send)
                return nil
            }
            do {
                try await readMore()
            } catch {
                if error.kind == .cancelled { throw CancellationError() }
                failure = error
                break
            }
        }
        let (tail, outcome) = end(after: failure, accounting: &accounting)
        await beforeTail?(encoder)
        try await send(ByteBuffer(bytes: tail))
        return outcome
    }

    /// The stream's last frames, and the failure to report for the upstream's health. The end is recorded
    /// before the last frames go out, so the row exists once the client has the whole stream.
    private func end(after failure: UpstreamFailure?, accounting: inout Accounting) -> (tail: [UInt8], failure: UpstreamFailure?) {
        if let failure {
            return (errorTail(streamError(failure), accounting: &accounting), failure)
        }
        if !rewriter.completed && rewriter.upstreamError == nil {
            // (An upstream that sent an error event and then closed has said why already: it ends as below.)
            let error = TrellisError.upstream("The model server ended the stream without finishing the answer.", code: "upstream_stream_broken")
            return (errorTail(error, accounting: &accounting), UpstreamFailure(kind: .protocolError, upstream: upstream))
        }
        let tail = encoder.finish(rewriter: rewriter, estimatedUsage: estimatedUsage(accounting))
        if let upstreamError = rewriter.upstreamError {
            recordEnd(&accounting, status: 502, errorCode: upstreamError.code ?? "upstream_error")
        } else {
            recordEnd(&accounting, status: 200, errorCode: nil)
        }
        return (tail, nil)
    }

    /// The error's last frames (chat: an error event and `[DONE]`), the stream recorded as ended by `error`.
    private func errorTail(_ error: TrellisError, accounting: inout Accounting) -> [UInt8] {
        recordEnd(&accounting, status: error.status, errorCode: error.code)
        return encoder.fail(error.openAI, rewriter: rewriter, estimatedUsage: estimatedUsage(accounting))
    }

    /// The error event for a stream the upstream broke.
    private func streamError(_ failure: UpstreamFailure) -> TrellisError {
        if failure.kind == .timeout {
            return TrellisError.upstreamTimeout(
                failure.phase == .total
                    ? "The model server did not finish the answer within its time limit (total timeout)."
                    : "The model server stopped sending in the middle of the answer.")
        }
        if oversizedEvent {
            return TrellisError.upstream(
                "The model server sent an event larger than the gateway accepts (\(parser.maxEventBytes) bytes); the answer was cut short.",
                code: "upstream_event_too_large")
        }
        return TrellisError.upstream("The model server ended the stream early.", code: "upstream_stream_broken")
    }

    /// Ends the stream for shutdown: a `server_shutting_down` error event (chat: and `[DONE]`), recorded as 503.
    private func sendCut(_ accounting: inout Accounting, send: (ByteBuffer) async throws -> Void) async throws {
        recordEnd(&accounting, status: Self.shutdownError.status, errorCode: Self.shutdownError.code)
        let tail = shutdownTail(accounting)
        await beforeTail?(encoder)
        try await send(ByteBuffer(bytes: tail))
    }

    /// The shutdown error's last frames.
    func shutdownTail(_ accounting: Accounting) -> [UInt8] {
        encoder.fail(Self.shutdownError.openAI, rewriter: rewriter, estimatedUsage: estimatedUsage(accounting))
    }

    static let shutdownError = TrellisError(
        status: 503, type: "server_error", code: "server_shutting_down",
        message: "The gateway is shutting down; the answer was cut short. Send the request again.")

    func recordEnd(_ accounting: inout Accounting, status: Int, errorCode: String?) {
        if sawContent && accounting.firstTokenAt == nil { accounting.firstTokenAt = .now }
        accounting.finish(
            status: status, usage: rewriter.usage, estimatedCompletion: rewriter.estimatedCompletion(oneTokenPerChunk: oneTokenPerChunk),
            errorCode: errorCode, answer: rewriter.keepText ? rewriter.text : nil)
    }

    func estimatedUsage(_ accounting: Accounting) -> TokenUsage {
        TokenUsage(promptTokens: accounting.promptEstimate, completionTokens: rewriter.estimatedCompletion(oneTokenPerChunk: oneTokenPerChunk))
    }
}
