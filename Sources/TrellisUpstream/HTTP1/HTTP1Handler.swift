import NIOCore
import NIOHTTP1

/// The deadlines of one exchange once its request is sent.
struct HTTP1Timing: Sendable {
    /// The response head must arrive by then.
    var head: NIODeadline
    /// The whole exchange must end by then.
    var total: NIODeadline
    /// The longest the connection may stay silent while the reader waits for more of the body.
    var idle: TimeAmount
}

/// How a request's start ended: the head (with what came with it), an error, or a connection found closed before
/// anything was written (the pool's close was not seen yet; the caller takes another connection).
enum HTTP1Start: Sendable {
    case head(HTTPResponseHead, HTTP1Delivery)
    case failed(HTTP1Error)
    case stale
}

/// Drives the ``HTTP1Exchange`` of the connection's current request on its event loop, behind NIO's HTTP/1
/// client codec, with `autoRead` off: it reads while the head is awaited, while its reader waits with nothing
/// buffered, and while the connection idles in the pool (so a server's close or stray bytes are seen at once).
/// Timers: one for the head (or the total deadline, if earlier), one for the total deadline while the body is
/// read, one idle timer re-armed lazily (a read re-dates it without rescheduling), one for the rest of a body let go
/// of (``Discard``), and the pool's idle close.
final class HTTP1Handler: ChannelInboundHandler {
    /// How long, and how many more bytes, the rest of a body let go of before its end is read and dropped so that
    /// the connection can be reused; past either the connection is closed.
    struct Discard: Sendable {
        var window: TimeAmount
        var bytes: Int
    }

    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let pool: HTTP1Pool
    private let poolIdleTimeout: TimeAmount
    private let discard: Discard
    private var context: ChannelHandlerContext?
    private var exchange = HTTP1Exchange()
    /// The request the exchange belongs to; 0 while the connection idles.
    private var current: UInt64 = 0
    /// Requests cancelled before their start reached the loop (a handful at most).
    private var cancelledEarly: [UInt64] = []
    private var timing = HTTP1Timing(head: .distantFuture, total: .distantFuture, idle: .hours(1))
    private var request: (head: HTTPRequestHead, body: ByteBuffer)?
    private var headWaiter: UnsafeContinuation<HTTP1Start, Never>?
    private var reader: UnsafeContinuation<HTTP1Delivery, Never>?
    private var headTimer: Scheduled<Void>?
    private var totalTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var discardTimer: Scheduled<Void>?
    private var readIssuedAt = NIODeadline.distantPast
    private var poolTimer: Scheduled<Void>?
    private var idleSince = NIODeadline.distantPast

    init(pool: HTTP1Pool, poolIdleTimeout: TimeAmount, discard: Discard) {
        self.pool = pool
        self.poolIdleTimeout = poolIdleTimeout
        self.discard = discard
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        poolTimer?.cancel()
        self.context = nil
    }

    // MARK: Calls from the request's task (hopped onto the loop by `HTTP1Connection`)

    func start(
        request id: UInt64, head: HTTPRequestHead, body: ByteBuffer, timing: HTTP1Timing, _ waiter: UnsafeContinuation<HTTP1Start, Never>
    ) {
        guard let context, context.channel.isActive, current == 0, exchange.state == .idle else {
            context?.close(promise: nil)
            return waiter.resume(returning: .stale)
        }
        if let i = cancelledEarly.firstIndex(of: id) {
            cancelledEarly.remove(at: i)
            context.close(promise: nil)
            return waiter.resume(returning: .failed(.cancelled))
        }
        current = id
        self.timing = timing
        request = (head, body)
        headWaiter = waiter
        run(exchange.start(method: head.method, keepAlive: head.isKeepAlive))
    }

    func demand(request id: UInt64, _ waiter: UnsafeContinuation<HTTP1Delivery, Never>) {
        guard id == current, reader == nil else {
            return waiter.resume(returning: HTTP1Delivery(parts: [], end: .failed(.cancelled)))
        }
        reader = waiter
        run(exchange.demand())
    }

    /// Whether the reader of request `id` waits for more of its body (tests).
    func readerWaits(request id: UInt64) -> Bool { id == current && reader != nil }

    /// The request's task was cancelled: before its start arrived, or during it.
    func cancel(request id: UInt64) {
        guard id == current else {
            if cancelledEarly.count >= 4 { cancelledEarly.removeFirst() }
            cancelledEarly.append(id)
            return
        }
        run(exchange.cancel())
    }

    /// The body was let go of before its end: its rest is read and dropped for a moment, then the connection is
    /// reused, or closed if the end did not come.
    func abandon(request id: UInt64) {
        guard id == current else { return }
        let action = exchange.abandon(budget: discard.bytes)
        if exchange.discarding, let context {
            discardTimer = context.eventLoop.assumeIsolated().scheduleTask(in: discard.window) { [self] in
                discardTimer = nil
                guard current == id, exchange.discarding else { return }
                run(exchange.cancel())
            }
        }
        run(action)
    }

    // MARK: The pipeline

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): run(exchange.receivedHead(head))
        case .body(let buffer): run(exchange.receivedBody(buffer))
        case .end: run(exchange.receivedEnd())
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        run(exchange.readComplete())
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(exchange.inactive())
        cancelTimers()
        poolTimer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        run(exchange.fail(HTTP1Error.from(error)))
    }

    // MARK: Carrying out the exchange's answers

    private func run(_ action: HTTP1Exchange.Action) {
        switch action {
        case .none:
            return
        case .write:
            write()
        case .read:
            context?.read()
            if exchange.state == .streaming { armIdle() }
        case .deliverHead(let head, let delivery, let next):
            headTimer?.cancel()
            headTimer = nil
            if next == .keep { armTotal() }
            let waiter = headWaiter
            headWaiter = nil
            finish(next)
            waiter?.resume(returning: .head(head, delivery))
        case .deliver(let delivery, let next):
            let waiter = reader
            reader = nil
            finish(next)
            waiter?.resume(returning: delivery)
        case .failHead(let error):
            let waiter = headWaiter
            headWaiter = nil
            finish(.close)
            waiter?.resume(returning: .failed(error))
        case .close:
            finish(.close)
        case .release:
            finish(.release)
        }
    }

    /// The request's head, body and end in one flush, then a read for the head, under the head timer.
    private func write() {
        guard let context, let request else { return }
        self.request = nil
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if request.body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.read()
        let totalFirst = timing.total <= timing.head
        headTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: totalFirst ? timing.total : timing.head) { [self] in
            headTimer = nil
            guard exchange.state == .awaitingHead else { return }
            run(exchange.fail(totalFirst ? .totalTimeout : .headTimeout))
        }
    }

    /// Releases the connection to the pool (before the waiter is resumed, so its next request finds it) or closes it.
    private func finish(_ next: HTTP1Exchange.Next) {
        switch next {
        case .keep:
            return
        case .release:
            cancelTimers()
            exchange = HTTP1Exchange()
            current = 0
            guard let context, context.channel.isActive else { return }
            idleSince = .now()
            armPoolTimer()
            context.read()
            pool.release(HTTP1Connection(channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop)))
        case .close:
            cancelTimers()
            context?.close(promise: nil)
        }
    }

    // MARK: Timers

    private func armTotal() {
        guard let context, totalTimer == nil else { return }
        totalTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: timing.total) { [self] in
            totalTimer = nil
            guard exchange.state == .streaming else { return }
            run(exchange.fail(.totalTimeout))
        }
    }

    /// A read was issued while the reader waits: the idle timeout counts from now. The one timer is rescheduled
    /// only when it fires early (for a read issued after it was armed).
    private func armIdle() {
        readIssuedAt = .now()
        if idleTimer == nil { scheduleIdle(at: readIssuedAt + timing.idle) }
    }

    private func scheduleIdle(at deadline: NIODeadline) {
        guard let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            idleTimer = nil
            guard exchange.state == .streaming, exchange.reading else { return }
            let due = readIssuedAt + timing.idle
            if NIODeadline.now() >= due {
                run(exchange.fail(.idleTimeout))
            } else {
                scheduleIdle(at: due)
            }
        }
    }

    /// The connection idles in the pool: closed once it has idled for `poolIdleTimeout` (one timer, re-dated lazily).
    private func armPoolTimer() {
        guard poolTimer == nil else { return }
        schedulePoolTimer(at: idleSince + poolIdleTimeout)
    }

    private func schedulePoolTimer(at deadline: NIODeadline) {
        guard let context else { return }
        poolTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            poolTimer = nil
            guard current == 0, exchange.state == .idle else { return }
            let due = idleSince + poolIdleTimeout
            if NIODeadline.now() >= due {
                self.context?.close(promise: nil)
            } else {
                schedulePoolTimer(at: due)
            }
        }
    }

    private func cancelTimers() {
        headTimer?.cancel()
        totalTimer?.cancel()
        idleTimer?.cancel()
        discardTimer?.cancel()
        (headTimer, totalTimer, idleTimer, discardTimer) = (nil, nil, nil, nil)
    }
}

/// A pooled connection: its channel and its handler, reached from any thread by hopping onto the channel's loop.
/// The request's own task calls in directly when it already runs on that loop (a connection handled on its loop,
/// its upstream connection made there): it is then a job of the loop, never inside a channel handler's callback.
/// A cancellation or a body let go of always goes through the loop's queue: those may come from any callback.
struct HTTP1Connection: Sendable, HTTP1PoolMember {
    let channel: any Channel
    let handler: NIOLoopBound<HTTP1Handler>

    var id: ObjectIdentifier { ObjectIdentifier(channel) }

    /// The event loop the connection lives on.
    var home: ObjectIdentifier { ObjectIdentifier(channel.eventLoop) }

    /// Sends the request and waits for the response head. Cancelling the waiting task closes the connection.
    func send(request id: UInt64, head: HTTPRequestHead, body: ByteBuffer, timing: HTTP1Timing) async -> HTTP1Start {
        let handler = self.handler
        let loop = channel.eventLoop
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (waiter: UnsafeContinuation<HTTP1Start, Never>) in
                if loop.inEventLoop {
                    handler.value.start(request: id, head: head, body: body, timing: timing, waiter)
                } else {
                    loop.execute { handler.value.start(request: id, head: head, body: body, timing: timing, waiter) }
                }
            }
        } onCancel: {
            loop.execute { handler.value.cancel(request: id) }
        }
    }

    func demand(request id: UInt64, _ waiter: UnsafeContinuation<HTTP1Delivery, Never>) {
        let handler = self.handler
        let loop = channel.eventLoop
        if loop.inEventLoop {
            handler.value.demand(request: id, waiter)
        } else {
            loop.execute { handler.value.demand(request: id, waiter) }
        }
    }

    func cancel(request id: UInt64) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.cancel(request: id) }
    }

    func abandon(request id: UInt64) {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.abandon(request: id) }
    }

    /// Whether the reader of request `id` waits for more of its body (tests).
    func readerWaits(request id: UInt64) async -> Bool {
        let handler = self.handler
        return (try? await channel.eventLoop.submit { handler.value.readerWaits(request: id) }.get()) ?? false
    }
}
