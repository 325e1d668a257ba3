import HTTPTypes
import Hummingbird
import Logging
import OpenAIWire
import TrellisCore
import TrellisStore

/// The outermost middleware: gives every request its id (in the `x-request-id` header of every response,
/// errors included), turns every error into an OpenAI-shaped JSON body with the right status, answers 405 for
/// known paths with the wrong method, and counts requests by route and status.
struct GatewayMiddleware: RouterMiddleware {
    typealias Context = TrellisRequestContext
    let metrics: GatewayMetrics
    /// The registered routes, for 405 with `Allow`; installed once every route is registered.
    let routes: RouteIndex
    let maxBodyBytes: Int
    let inFlight: InFlightLimit
    /// Cuts off streamed responses whose client takes no bytes for `server.write_stall_ms`, and requests whose
    /// body takes longer than `server.body_read_ms` to arrive.
    let stallWatchdog: StallWatchdog
    let bodyReadDeadline: Duration
    /// Once a shutdown has begun, every response closes its connection (see `closingConnection`).
    let drain: DrainState

    /// Health, readiness and metrics answer even when the gateway is full: they are how operators see it.
    static func isExempt(_ path: String) -> Bool {
        path == "/healthz" || path == "/readyz" || path == "/metrics"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestID = RequestIDs.make()
        context.requestID = requestID
        context.logger[metadataKey: "request_id"] = .string(requestID)
        let counted = !Self.isExempt(request.uri.path)
        if counted && !inFlight.enter() {
            metrics.overloadRefused()
            var response = Response.error(
                TrellisError(
                    status: 503, type: "server_error", code: "server_overloaded",
                    message: "The gateway is at its limit of \(inFlight.limit) requests in flight; try again shortly.",
                    headers: [("Retry-After", "1")]))
            response.headers[.requestID] = requestID
            metrics.httpRequest(route: "overloaded", status: 503)
            return closingConnection(response, context: context)
        }
        var request = request
        var bodyWatch: Int?
        if counted, request.announcesBody, let channel = context.channel {
            // A body that trickles in holds this request's slots: its reading is bounded like a stalled write.
            let watch = WriteWatch()
            let logger = context.logger
            bodyWatch = stallWatchdog.watch(watch, deadline: bodyReadDeadline) {
                logger.notice("request body not received within server.body_read_ms; connection closed")
                channel.close(promise: nil)
            }
            request.body = RequestBody(asyncSequence: WatchedRequestBody(base: request.body, watch: watch))
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = Response.error(translate(error, request: request, context: context))
        }
        if let bodyWatch { stallWatchdog.forget(bodyWatch) }
        if counted {
            if response.body.contentLength == nil {
                // A stream: the slot is held until its last byte is written (or the write fails), and a client
                // that stops reading is cut off after `writeStall`, so it cannot hold the slot forever.
                let metrics = self.metrics
                let logger = context.logger
                response.body = response.body.holding(InFlightSlot(inFlight), watchdog: stallWatchdog, channel: context.channel) {
                    metrics.writeStalled()
                    logger.notice("client stopped reading a streamed response; connection closed")
                }
            } else {
                inFlight.leave()
            }
        }
        response.headers[.requestID] = requestID
        metrics.httpRequest(route: context.endpointPath ?? "unmatched", status: Int(response.status.code))
        return closingConnection(response, context: context)
    }

    /// While the gateway drains, an HTTP/1.1 response says `Connection: close`, so that the client (a load
    /// balancer's keep-alive pool) opens its next connection elsewhere instead of reusing this one until the
    /// listener closes and racing that close. HTTP/2 forbids the header: a stream's channel is the child of
    /// its connection's, which is itself the listener's child, and is left alone (HTTP/2 clients are told by
    /// GOAWAY when the listener closes).
    func closingConnection(_ response: Response, context: Context) -> Response {
        guard drain.isDraining, context.channel?.parent?.parent == nil else { return response }
        var response = response
        response.headers[.connection] = "close"
        return response
    }

    func translate(_ error: any Error, request: Request, context: Context) -> TrellisError {
        switch error {
        case let e as TrellisError:
            return e
        case is CancellationError:
            // The client went away (or the server is stopping): nobody reads this answer, and it is not a fault.
            context.logger.debug("request cancelled")
            return .clientClosed()
        case let e as HTTPError:
            switch e.status {
            case .notFound:
                let allowed = routes.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    return .methodNotAllowed(request.method.rawValue, allowed: allowed.map(\.rawValue))
                }
                return .routeNotFound(request.method.rawValue, request.uri.path)
            case .contentTooLarge:
                return .tooLarge(limit: maxBodyBytes)
            default:
                let status = Int(e.status.code)
                if status >= 500 {
                    context.logger.error("request failed", metadata: ["status": "\(status)"])
                    return .internalError
                }
                return TrellisError(status: status, type: "invalid_request_error", code: nil, message: e.status.reasonPhrase)
            }
        default:
            context.logger.error("unexpected error", metadata: ["error_type": "\(type(of: error))"])
            return .internalError
        }
    }
}

/// Resolves the bearer token to a principal. Missing or unknown tokens are refused here (401); the groups
/// behind it turn the context into an ``AuthenticatedContext``, where the caller is not optional.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = TrellisRequestContext
    let gateway: Gateway

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers.value(.authorization) else { throw TrellisError.missingKey }
        let token: Substring
        if header.count > 7, header.prefix(7).lowercased() == "bearer " {
            token = header.dropFirst(7).drop(while: { $0 == " " })
        } else {
            throw TrellisError.missingKey
        }
        guard !token.isEmpty, token.utf8.count <= 1024, let principal = gateway.authenticate(token: String(token)) else {
            throw TrellisError.invalidKey
        }
        var context = context
        context.principal = principal
        guard case .tenantKey(let key) = principal else { return try await next(request, context) }
        // One tenant may hold only its share of the gateway's in-flight slots (streams until their last byte).
        guard let slot = gateway.tenantInFlight.slot(key.tenantID) else {
            gateway.metrics.tenantInFlightRefused()
            throw TrellisError(
                status: 429, type: "rate_limit_error", code: "tenant_in_flight_limit",
                message: "This tenant has \(gateway.tenantInFlight.limit) requests in flight, its limit on this gateway; try again shortly.",
                headers: [("Retry-After", "1")])
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            slot.release()
            throw error
        }
        if response.body.contentLength == nil {
            response.body = response.body.holding(slot)
        } else {
            slot.release()
        }
        return response
    }
}
