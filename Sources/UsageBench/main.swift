import Foundation
import TrellisCore
import TrellisStore

// trellis-usage-bench: the usage report at a million rows, written the way the gateway writes them.
//
// Opens a SQLiteStore in a temporary directory (or, with `--store-url postgres://…` or `BENCH_STORE_URL`, a
// PostgresStore on an empty database), inserts usage rows through `insertUsage` in batches (so the daily
// roll-ups are built by the store's own write path, exactly as the gateway's usage recorder does), then times
// `usageReport` for the queries an operator runs over a month. Prints a Markdown table.
//
//   swift build -c release --product trellis-usage-bench
//   .build/release/trellis-usage-bench [--rows 1000000] [--batch 5000] [--runs 20] [--dir PATH] [--keep] [--store-url URL]
//
// The data: 30 days, 20 tenants (request volume skewed, Zipf-like), 10 keys per tenant (200), 30 models
// with 3 versions each (traffic 70/25/5), each tenant using 3 to 6 of the models, 5,000 end users (250 per
// tenant, each sticking to one of its tenant's keys; 10% of requests name no user), 2% errors, half the
// requests streamed (with a time to first token), latencies log-normal. Seeded: every run writes the same rows.

struct Options {
    var rows = 1_000_000
    var batch = 5_000
    var runs = 20
    var dir: String?
    var keep = false
    /// Rows shaped like the load benchmark's (one tenant, key and model, no end user, written now), and the
    /// process's CPU time per row printed instead of the report timings.
    var gatewayShape = false
    /// With `--gateway-shape`: fully random request ids instead of the gateway's time-ordered ones.
    var randomIDs = false
    var storeURL = ProcessInfo.processInfo.environment["BENCH_STORE_URL"].flatMap { $0.isEmpty ? nil : $0 }

    init(_ args: [String]) {
        var i = 1
        func next() -> String? {
            i += 1
            return i < args.count ? args[i] : nil
        }
        while i < args.count {
            switch args[i] {
            case "--rows": rows = next().flatMap(Int.init) ?? rows
            case "--batch": batch = next().flatMap(Int.init) ?? batch
            case "--runs": runs = next().flatMap(Int.init) ?? runs
            case "--dir": dir = next()
            case "--keep": keep = true
            case "--gateway-shape": gatewayShape = true
            case "--random-ids": randomIDs = true
            case "--store-url": storeURL = next()
            case "-h", "--help":
                print(
                    "usage: trellis-usage-bench [--rows N] [--batch N] [--runs N] [--dir PATH] [--keep] [--gateway-shape [--random-ids]]"
                        + " [--store-url postgres://…]")
                exit(0)
            default:
                FileHandle.standardError.write(Data("unknown argument \(args[i])\n".utf8))
                exit(2)
            }
            i += 1
        }
    }
}

/// Picks an index with probability proportional to `weights`.
struct WeightedPick {
    let cumulative: [Double]
    init(_ weights: [Double]) {
        var sum = 0.0
        cumulative = weights.map {
            sum += $0
            return sum
        }
    }
    func pick(_ rng: inout SeededGenerator) -> Int {
        let x = Double.random(in: 0..<(cumulative.last ?? 1), using: &rng)
        var lo = 0
        var hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

func logNormal(median: Double, sigma: Double, _ rng: inout SeededGenerator) -> Double {
    // Box–Muller.
    let u1 = Double.random(in: Double.ulpOfOne..<1, using: &rng)
    let u2 = Double.random(in: 0..<1, using: &rng)
    let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    return median * exp(sigma * z)
}

func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = max(1, Int((q * Double(sorted.count)).rounded(.up)))
    return sorted[min(rank, sorted.count) - 1]
}

func mib(_ bytes: Int64) -> String { String(format: "%.0f MiB", Double(bytes) / 1_048_576) }

let options = Options(CommandLine.arguments)
let tenants = 20
let keysPerTenant = 10
let models = 30
let usersPerTenant = 250
let days = 30

let target: BenchStore
let store: any UsageStore
do {
    target = try BenchStore(options: options)
    store = try await target.open()
} catch {
    FileHandle.standardError.write(Data("trellis-usage-bench: \(error)\n".utf8))
    exit(1)
}

// The month: 30 whole UTC days ending yesterday.
let dayMs: Int64 = 86_400_000
let todayStart = (Int64(Date().timeIntervalSince1970 * 1000) / dayMs) * dayMs
let startMs = todayStart - Int64(days) * dayMs
let fromDay = UsageQuery.day(ms: startMs)
let toDay = UsageQuery.day(ms: todayStart - 1)

var rng = SeededGenerator(seed: 0x7E11_15B3_4C4E)
let tenantPick = WeightedPick((0..<tenants).map { 1 / pow(Double($0 + 1), 0.8) })
// Each tenant uses 3 to 6 models, with a favourite.
let tenantModels: [[Int]] = (0..<tenants).map { t in
    let count = 3 + t % 4
    return (0..<count).map { (t * 7 + $0 * 5) % models }
}
let modelPicks = tenantModels.map { list in WeightedPick(list.indices.map { 1 / Double($0 + 1) }) }
let versionPick = WeightedPick([70, 25, 5])
let tenantIDs = (0..<tenants).map { String(format: "tnt_bench%02d", $0) }
let modelNames = (0..<models).map { String(format: "model-%02d", $0) }
let keyIDs = (0..<(tenants * keysPerTenant)).map { String(format: "key_bench%03d", $0) }

if options.gatewayShape {
    try await writeGatewayShaped(options, store: store)
    target.remove(keep: options.keep, explicitDirectory: options.dir != nil)
    (store as? PostgresStore)?.shutdown()
    exit(0)
}

print("writing \(options.rows) usage rows in batches of \(options.batch) to \(target.description)")
let insertStarted = ContinuousClock.now
var written = 0
var batch: [UsageEvent] = []
batch.reserveCapacity(options.batch)
let spacing = Double(Int64(days) * dayMs) / Double(options.rows)
for i in 0..<options.rows {
    let t = tenantPick.pick(&rng)
    let user = Int.random(in: 0..<usersPerTenant, using: &rng)
    let key = t * keysPerTenant + user % keysPerTenant
    let model = tenantModels[t][modelPicks[t].pick(&rng)]
    let version = versionPick.pick(&rng) + 1
    let failed = Double.random(in: 0..<1, using: &rng) < 0.02
    let stream = rng.next() & 1 == 0
    let prompt = failed ? 0 : Int(logNormal(median: 600, sigma: 0.8, &rng))
    let completion = failed ? 0 : Int(logNormal(median: 250, sigma: 0.7, &rng))
    let latency = failed ? logNormal(median: 40, sigma: 1, &rng) : logNormal(median: 900, sigma: 0.6, &rng)
    let at = Date(timeIntervalSince1970: (Double(startMs) + Double(i) * spacing + Double.random(in: 0..<spacing, using: &rng)) / 1000)
    var event = UsageEvent(
        requestID: String(format: "req_%016llx", rng.next()), at: at, endpoint: "chat", tenantID: tenantIDs[t], keyID: keyIDs[key],
        endUser: Int.random(in: 0..<10, using: &rng) == 0 ? nil : "user-\(t * usersPerTenant + user)", model: modelNames[model],
        modelVersion: version, upstream: "vllm-\(model % 4)", promptTokens: prompt, completionTokens: completion, estimated: false,
        latencyMs: latency, ttftMs: stream && !failed ? latency * Double.random(in: 0.05...0.3, using: &rng) : nil,
        status: failed ? 502 : 200, errorCode: failed ? "upstream_error" : nil, stream: stream)
    event.costMicros = (prompt * 150 + completion * 600) / 1000
    batch.append(event)
    if batch.count == options.batch || i == options.rows - 1 {
        try await store.insertUsage(batch)
        written += batch.count
        batch.removeAll(keepingCapacity: true)
        if written % 100_000 == 0 {
            let elapsed = (ContinuousClock.now - insertStarted)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "  %7d rows, %.0f rows/s", written, Double(written) / seconds))
        }
    }
}
let insertElapsed = ContinuousClock.now - insertStarted
let insertSeconds = Double(insertElapsed.components.seconds) + Double(insertElapsed.components.attoseconds) / 1e18

// Row counts of the roll-ups, and the size on disk.
let stats = try await target.stats()
let usageRows = stats.usage

struct Case {
    var name: String
    var query: UsageQuery
}

let cases = [
    Case(name: "(a) month, by model and day", query: .init(fromDay: fromDay, toDay: toDay, groupBy: [.model, .day])),
    Case(name: "(b) month, by tenant", query: .init(fromDay: fromDay, toDay: toDay, groupBy: [.tenant])),
    Case(name: "(c) month, one tenant, by user", query: .init(tenantID: tenantIDs[0], fromDay: fromDay, toDay: toDay, groupBy: [.user])),
    Case(name: "(d) month, by key and version", query: .init(fromDay: fromDay, toDay: toDay, groupBy: [.key, .version])),
]

print("")
print("| query | groups | p50 ms | p95 ms | max ms |")
print("|---|---:|---:|---:|---:|")
var totals: [String: Int] = [:]
for c in cases {
    var times: [Double] = []
    var groups = 0
    // One warm-up run, then the measured ones.
    for run in 0...options.runs {
        let started = ContinuousClock.now
        let rows = try await store.usageReport(c.query)
        let elapsed = ContinuousClock.now - started
        if run > 0 {
            times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        }
        groups = rows.count
        totals[c.name] = rows.reduce(0) { $0 + $1.requests }
    }
    times.sort()
    print(String(format: "| %@ | %d | %.1f | %.1f | %.1f |", c.name, groups, percentile(times, 0.5), percentile(times, 0.95), times.last ?? .nan))
}
print("")
print(
    String(
        format: "inserted %d rows in %.1f s (%.0f rows/s, batches of %d through insertUsage); usage_daily %d rows, usage_daily_users %d rows; database %@",
        usageRows, insertSeconds, Double(usageRows) / insertSeconds, options.batch, stats.daily, stats.users, mib(stats.bytes)))
print("requests counted by each query (all = \(usageRows), one tenant's for (c) excludes requests without a user):")
for c in cases { print("  \(c.name): \(totals[c.name] ?? 0)") }
target.remove(keep: options.keep, explicitDirectory: options.dir != nil)
(store as? PostgresStore)?.shutdown()
