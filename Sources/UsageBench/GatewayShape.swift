import Foundation
import TrellisCore
import TrellisStore

/// The CPU the store's write path costs per usage row when the rows look like the load benchmark's: one
/// tenant, key and model, no end user, every row written now, in the usage recorder's batches. The gateway
/// pays this in the background for every request it answers.
func writeGatewayShaped(_ options: Options, store: any UsageStore) async throws {
    print("writing \(options.rows) gateway-shaped usage rows in batches of \(options.batch)")
    var batch: [UsageEvent] = []
    batch.reserveCapacity(options.batch)
    let started = ContinuousClock.now
    let cpuBefore = processCPUSeconds()
    for i in 0..<options.rows {
        batch.append(
            UsageEvent(
                requestID: requestID(random: options.randomIDs), at: Date(), endpoint: "chat", tenantID: "tnt_bench", keyID: "key_bench",
                endUser: nil, model: "bench-model", modelVersion: 1, upstream: "bench-upstream", promptTokens: 20, completionTokens: 9,
                estimated: false, latencyMs: Double(i % 50) / 10 + 0.5, ttftMs: nil, status: 200, errorCode: nil, stream: false))
        if batch.count == options.batch || i == options.rows - 1 {
            try await store.insertUsage(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    let cpu = processCPUSeconds() - cpuBefore
    let elapsed = ContinuousClock.now - started
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(String(format: "%d rows in %.2f s; this process's CPU: %.3f s, %.2f µs per row", options.rows, seconds, cpu, cpu * 1e6 / Double(options.rows)))
}

/// A request id shaped like the gateway's (`RequestIDs.make`: the second, then 64 random bits), or with
/// `--random-ids` 96 random bits, the shape ids had before.
private func requestID(random fully: Bool) -> String {
    if fully { return String(format: "req_%016llx%08x", UInt64.random(in: 0...UInt64.max), UInt32.random(in: 0...UInt32.max)) }
    return String(format: "req_%08x%016llx", UInt32(Date().timeIntervalSince1970), UInt64.random(in: 0...UInt64.max))
}

/// User plus system CPU time of this process, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
