import Hummingbird
import TrellisCore
import TrellisStore

/// Read-your-writes across replicas for the administration API: before an authenticated admin call, the
/// stored catalog generation is compared with the snapshot's, and the catalog reloaded when another replica
/// (or the CLI) changed it since. So an upstream registered through one replica can be named by a model written
/// through the next one a load balancer picks, without waiting for the change notification. One small read
/// per admin call (admin calls are rare); inference never pays it. With the store away the call goes on with
/// the loaded catalog, and a write then fails on the store as it would anyway.
struct CatalogFreshness: RouterMiddleware {
    typealias Context = TrellisRequestContext
    let gateway: Gateway

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let stored = try await gateway.store.catalogGeneration()
            if stored > gateway.snapshot.generation { try await gateway.reloadCatalog() }
        } catch  where StoreFailure.isUnavailable(error) {
            // Answered from the loaded catalog; the gateway's readiness already says the store is away.
        }
        return try await next(request, context)
    }
}
