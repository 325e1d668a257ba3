import Foundation
import OpenAIWire
import Synchronization
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

/// Outages of the database are not outages of the gateway: each case runs a gateway on a PostgreSQL cluster of
/// its own (scripts/postgres.sh) and stops and starts that cluster under it. Waits are polls with generous
/// deadlines (the machine is shared); nothing passes by sleeping.
@Suite("PostgreSQL outages", .serialized)
struct StoreOutageTests {
    static let chat: JSONValue = ["model": "echo", "messages": [["role": "user", "content": "hello"]]]

    @Test("down at start: listening unready (readyz and the API 503 store_unavailable), ready once the database is up, no restart")
    func startsWithTheDatabaseDown() async throws {
        try await PrivateCluster.with { cluster in
            try await cluster.pause()
            try await withMockUpstream { upstream in
                let logs = LogCapture()
                try await TestGateway.onStore(cluster.settings, logs: logs) { gw in
                    let ready = try await gw.request(.GET, "/readyz")
                    #expect(ready.status == 503)
                    #expect(ready.json["status"]?.stringValue == "unavailable")
                    #expect(ready.errorCode == "store_unavailable")
                    #expect(ready.json["error"]?["type"]?.stringValue == "server_error")
                    // Nothing acts on the empty catalog: no 401 for every key, no 404 for every model.
                    let chat = try await gw.request(.POST, "/v1/chat/completions", key: "sk-not-checked-yet", json: Self.chat)
                    #expect(chat.status == 503 && chat.errorCode == "store_unavailable", "\(chat.text)")
                    let admin = try await gw.admin(.POST, "/tenants", ["name": "acme"])
                    #expect(admin.status == 503 && admin.errorCode == "store_unavailable", "\(admin.text)")
                    // At least one more attempt after the first, each logged on one line.
                    try await waitUntil(timeout: .seconds(60)) { gw.gateway.readiness.failedStarts >= 2 }
                    let attempts = logs.lines.filter { $0.contains("store unreachable") }
                    #expect(attempts.count >= 2)
                    #expect(attempts.allSatisfy { $0.contains("attempt=") && $0.contains("retry_in_ms=") && !$0.contains("trellis-test") })

                    try await cluster.resume()
                    try await waitUntil(timeout: .seconds(90)) { try await gw.request(.GET, "/readyz").status == 200 }
                    let key = try await gw.standardSetup(upstream: upstream)
                    let answer = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat)
                    #expect(answer.status == 200, "\(answer.text)")
                    #expect(logs.lines.contains { $0.contains("store ready") })
                }
            }
        }
    }

    @Test("restarted under chat load: every request answered, and every answered request's usage row stored afterwards")
    func restartUnderLoad() async throws {
        try await PrivateCluster.with { cluster in
            try await withMockUpstream { upstream in
                try await TestGateway.onStore(cluster.settings) { gw in
                    let key = try await gw.standardSetup(upstream: upstream)
                    let answered = Shared<[String]>([])
                    let refused = Shared<[String]>([])
                    let stop = Shared(false)
                    let workers = Task {
                        await withTaskGroup(of: Void.self) { group in
                            for _ in 0..<4 {
                                group.addTask {
                                    while !stop.value {
                                        do {
                                            let reply = try await gw.request(.POST, "/v1/chat/completions", key: key, json: Self.chat)
                                            if reply.status == 200, let id = reply.headers.first(name: "x-request-id") {
                                                answered.withLock { $0.append(id) }
                                            } else {
                                                refused.withLock { $0.append("\(reply.status) \(reply.text.prefix(200))") }
                                            }
                                        } catch {
                                            refused.withLock { $0.append("\(error)") }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    func answeredCount() -> Int { answered.withLock { $0.count } }
                    try await waitUntil { answeredCount() >= 20 }
                    try await cluster.pause()
                    try await waitUntil(timeout: .seconds(90)) { try await gw.request(.GET, "/readyz").status == 503 }
                    // Chat goes on from the loaded catalog while the database is away; the rows wait in memory.
                    let atOutage = answeredCount()
                    try await waitUntil { answeredCount() >= atOutage + 20 }
                    #expect(gw.gateway.usage.pendingCount > 0)
                    try await cluster.resume()
                    try await waitUntil(timeout: .seconds(90)) { try await gw.request(.GET, "/readyz").status == 200 }
                    let afterOutage = answeredCount()
                    try await waitUntil { answeredCount() >= afterOutage + 20 }
                    stop.withLock { $0 = true }
                    await workers.value

                    // Bounded from outside as well: a store write stuck past its own deadline fails the test here.
                    try await withDeadline(.seconds(120)) {
                        PrivateCluster.Problem(description: "the usage rows were not written within 120 s of the database's return")
                    } operation: {
                        try await waitUntil(timeout: .seconds(90)) {
                            await gw.flushUsage()
                            return gw.gateway.usage.pendingCount == 0
                        }
                    }
                    #expect(refused.withLock { $0 }.isEmpty, "\(refused.withLock { $0.prefix(5) })")
                    #expect(gw.gateway.usage.droppedCount == 0)
                    let ids = answered.withLock { $0 }
                    var missing: [String] = []
                    for id in ids where try await gw.gateway.store.usageOwner(requestID: id) == nil { missing.append(id) }
                    #expect(missing.isEmpty, "\(missing.count) of \(ids.count) answered requests have no usage row")
                }
            }
        }
    }

    @Test("captured interactions wait for the store: put back after a failed write within the bound, the overflow counted")
    func capturesWaitForTheStore() async throws {
        try await PrivateCluster.with { cluster in
            let store = try PostgresStore(settings: cluster.settings, operationTimeout: .seconds(3))
            defer { store.shutdown() }
            try await store.migrate()
            let dropped = Shared(0)
            let recorder = UsageRecorder(
                store: store, capacity: 3, batchSize: 10, flushInterval: .seconds(3_600), logger: LogCapture().logger,
                onDrop: { count, kind in if kind == .interaction { dropped.withLock { $0 += count } } })
            func interaction(_ i: Int) -> CapturedInteraction {
                CapturedInteraction(
                    requestID: "req_capture_\(i)", tenantID: "tenant-1", model: "m", modelVersion: 1, messages: ["hello"], answer: "hi", retentionDays: 30)
            }
            try await cluster.pause()
            for i in 0..<3 { recorder.capture(interaction(i)) }
            await recorder.flush()
            #expect(recorder.pendingCaptures == 3, "a failed write keeps what it could not write")
            recorder.capture(interaction(3))
            #expect(dropped.value == 1 && recorder.droppedCount == 1, "past the bound: counted, never silent")
            try await cluster.resume()
            try await waitUntil(timeout: .seconds(90)) {
                await recorder.flush()
                return recorder.pendingCaptures == 0
            }
            // All three were written: purging as if a year had passed finds them.
            #expect(try await store.purgeInteractions(now: Date().addingTimeInterval(365 * 86_400)) == 3)
        }
    }

    @Test("a wrong password: unready, one log line naming store.url and store.password_env, never the password")
    func wrongPassword() async throws {
        try await PrivateCluster.with { cluster in
            var settings = cluster.settings
            let wrong = "wrong-password-7f3a9c"
            settings.password = wrong
            let logs = LogCapture()
            try await TestGateway.onStore(settings, logs: logs, configure: { $0.storeRetryMaxMs = 200 }) { gw in
                // Several attempts, so that a line repeated per attempt would show.
                try await waitUntil(timeout: .seconds(60)) { gw.gateway.readiness.failedStarts >= 4 }
                let ready = try await gw.request(.GET, "/readyz")
                #expect(ready.status == 503 && ready.errorCode == "store_unavailable")
                let refusals = logs.lines.filter { $0.contains("store refused the gateway") }
                #expect(refusals.count == 1, "\(refusals)")
                let line = try #require(refusals.first)
                #expect(line.hasPrefix("error"))
                #expect(line.contains("store.url") && line.contains("store.password_env"))
                #expect(line.contains("28P01"))
                for logged in logs.lines {
                    #expect(!logged.contains(wrong) && !logged.contains(cluster.settings.password ?? "-"))
                    #expect(!logged.contains("\n"), "one line each, no stack trace: \(logged)")
                }
            }
        }
    }

    @Test("vanishing mid-write: administrative writes answer 503 store_unavailable, OpenAI-shaped, and nothing is half-written")
    func vanishesMidWrite() async throws {
        try await PrivateCluster.with { cluster in
            try await TestGateway.onStore(cluster.settings) { gw in
                let paused = Shared(false)
                let replies = Shared<[(name: String, reply: TestGateway.Reply, afterPause: Bool)]>([])
                let writers = Task {
                    await withTaskGroup(of: Void.self) { group in
                        for worker in 0..<6 {
                            group.addTask {
                                var i = 0
                                // Each writer goes on until a write fails after the database went away.
                                while true {
                                    let name = "w\(worker)-\(i)"
                                    i += 1
                                    let started = ContinuousClock.now
                                    let reply: TestGateway.Reply
                                    do {
                                        reply = try await gw.admin(.POST, "/tenants", ["name": .string(name)])
                                    } catch {
                                        // No answer within the client's 30 s: the store's deadline was not kept.
                                        reply = TestGateway.Reply(status: -1, headers: [:], body: Array("\(error) after \(ContinuousClock.now - started)".utf8))
                                    }
                                    let afterPause = paused.value
                                    replies.withLock { $0.append((name, reply, afterPause)) }
                                    if reply.status != 201, afterPause { return }
                                }
                            }
                        }
                        await group.waitForAll()
                    }
                }
                try await waitUntil { replies.withLock { $0.filter { $0.reply.status == 201 }.count } >= 12 }
                try await cluster.pause(immediate: true)
                paused.withLock { $0 = true }
                await writers.value

                let all = replies.withLock { $0 }
                for (name, reply, _) in all where reply.status != 201 {
                    #expect(reply.status == 503, "\(name): \(reply.status) \(reply.text)")
                    #expect(reply.errorCode == "store_unavailable")
                    #expect(reply.json["error"]?["type"]?.stringValue == "server_error")
                    #expect(reply.json["error"]?["message"]?.stringValue?.isEmpty == false)
                }
                #expect(all.contains { $0.reply.status == 503 })

                try await cluster.resume()
                try await waitUntil(timeout: .seconds(90)) { try await gw.request(.GET, "/readyz").status == 200 }
                // Every tenant stored has its audit row, and every audit row its tenant: each write whole or absent.
                let tenants = Set(try await gw.gateway.store.tenants().map { "tenant:\($0.name)" })
                var filter = AuditFilter()
                filter.action = "tenant.create"
                let audited = Set(try await gw.gateway.store.auditEntries(tenantID: nil, limit: 10_000, beforeID: nil, filter: filter).map(\.target))
                #expect(tenants == audited)
                for (name, reply, _) in all where reply.status == 201 { #expect(tenants.contains("tenant:\(name)")) }
                // The catalog the gateway serves catches up with what was committed.
                try await waitUntil(timeout: .seconds(60)) { gw.gateway.snapshot.tenants.count == tenants.count }
            }
        }
    }
}

/// A value several tasks of a test share, behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    init(_ value: Value) {
        state = Mutex(value)
    }

    var value: Value { state.withLock { $0 } }

    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        state.withLock { body(&$0) }
    }
}
