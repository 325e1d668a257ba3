import Hummingbird

/// Refuses the API's routes with 503 `store_unavailable` until the gateway has loaded its catalog (on
/// PostgreSQL, a database down at start is waited for; see `StoreStartup`), so that nothing is answered from,
/// or written against, an empty catalog: without it every key would look unknown (401) and every model missing.
/// Runs before authentication for that reason. Costs one lock read per request.
struct StartGate: RouterMiddleware {
    typealias Context = TrellisRequestContext
    let readiness: StoreReadiness

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard readiness.isStarted else { throw StoreReadiness.notStarted }
        return try await next(request, context)
    }
}
