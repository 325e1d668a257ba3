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
            readiness()
        }
        router.get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: gateway.metrics.render())))
        }
    }

    /// Ready: the store prepared, the catalog and the knowledge indexes loaded (`StoreStartup` marks the start
    /// done only after both), the store answering the catalog refresher's last check, and no shutdown begun.
    /// Read from memory: probes cost the store nothing. Not ready: 503 with `status` for probes and the
    /// OpenAI-shaped `error` for clients (`server_shutting_down` while draining, else `store_unavailable`; the
    /// cause is in the gateway's log).
    func readiness() -> Response {
        let snapshot = gateway.snapshot
        var body: JSONObject = ["status": "unavailable"]
        let error: TrellisError
        if gateway.drain.isDraining {
            body["status"] = "draining"
            error = Self.draining
        } else if !gateway.readiness.isStarted || snapshot.generation == 0 {
            // The start loads the catalog, then the knowledge indexes, the usage roll-ups and the month's quotas.
            body["catalog"] = snapshot.generation == 0 ? "not loaded" : "loaded"
            body["start"] = "not finished"
            error = StoreReadiness.notStarted
        } else if !gateway.readiness.isReady {
            body["store"] = "error"
            error = StoreFailure.unavailable("The gateway cannot reach its store; it answers inference from the catalog it has loaded.")
        } else {
            return Response.json(["status": "ready", "catalog_generation": .int(Int(snapshot.generation))])
        }
        body["error"] = error.openAI.json["error"] ?? .null
        var response = Response.json(.object(body), status: .serviceUnavailable)
        response.headers[.retryAfter] = "2"
        return response
    }

    /// What `/readyz` answers once a shutdown has begun: requests are still served for a while, but a load
    /// balancer should send new ones elsewhere.
    static let draining = TrellisError(
        status: 503, type: "server_error", code: "server_shutting_down",
        message: "This gateway replica is shutting down; requests are still answered until it stops, send new ones to another replica.")
}
