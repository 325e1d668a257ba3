import Hummingbird
import OpenAIWire
import TrellisCore
import TrellisStore

/// Liveness, readiness and metrics: no authentication, nothing tenant-specific beyond bounded labels.
struct OpsController {
    let gateway: Gateway

    func register(on router: Router<TrellisRequestContext>) {
        router.get("healthz") { _, _ in
            Response.json(["status": "ok"])
        }
        router.get("readyz") { _, _ in
            let snapshot = gateway.snapshot
            do {
                _ = try await gateway.store.catalogGeneration()
            } catch {
                return Response.json(["status": "unavailable", "store": "error"], status: .serviceUnavailable)
            }
            guard snapshot.generation > 0 else {
                return Response.json(["status": "unavailable", "catalog": "not loaded"], status: .serviceUnavailable)
            }
            return Response.json(["status": "ready", "catalog_generation": .int(Int(snapshot.generation))])
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: gateway.metrics.render())))
        }
    }
}
