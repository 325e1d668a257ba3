import Foundation
import OpenAIWire
import Testing
import TrellisCore
import TrellisStore

@testable import TrellisServer

@Suite struct UsageTests {
    @Test func oneRowPerRequestWithWhatHappened() async throws {
        try await TestGateway.withStandardSetup { gw, upstream, key in
            let ok = try await gw.request(
                .POST, "/v1/chat/completions", key: key,
                json: ["model": "echo", "messages": [["role": "user", "content": "x"]], "user": "张三", "max_tokens": 5])
            let estimated = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "no-usage", "messages": [["role": "user", "content": "hello there"]]])
            let failed = try await gw.request(
                .POST, "/v1/chat/completions", key: key, json: ["model": "fail-500", "messages": [["role": "user", "content": "x"]]])
            #expect(ok.status == 200 && estimated.status == 200 && failed.status == 502)
            await gw.flushUsage()
            let rows = try await gw.gateway.store.usageEvents()
            #expect(rows.count == 3)
            let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.requestID, $0) })
            let okRow = try #require(byID[ok.headers.first(name: "x-request-id") ?? ""])
            #expect(okRow.model == "echo" && okRow.modelVersion == 1 && okRow.upstream == "mock")
            #expect(okRow.endUser == "张三")
            #expect(okRow.promptTokens == 7 && okRow.completionTokens == 5 && !okRow.estimated)
            #expect(okRow.status == 200 && okRow.errorCode == nil && !okRow.stream && okRow.endpoint == "chat")
            let tenantID = gw.gateway.snapshot.tenant(named: "acme")?.id
            #expect(okRow.tenantID == tenantID)
            let estRow = try #require(byID[estimated.headers.first(name: "x-request-id") ?? ""])
            #expect(estRow.estimated && estRow.promptTokens > 0 && estRow.completionTokens > 0)
            let failRow = try #require(byID[failed.headers.first(name: "x-request-id") ?? ""])
            #expect(failRow.status == 502 && failRow.errorCode == "upstream_error")
            #expect(failRow.promptTokens == 0 && failRow.completionTokens == 0)
        }
    }

    @Test func gracefulShutdownFinishesInFlightStreamsAndFlushesUsage() async throws {
        let dataDir = TestGateway.makeDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        try await withMockUpstream { upstream in
            var requestID = ""
            var events: [String] = []
            try await TestGateway.run(dataDir: dataDir, configure: { $0.usageFlushIntervalMs = 60_000 }) { gw in
                let key = try await gw.standardSetup(upstream: upstream)
                // Rows buffered but not yet written (the flush interval is a minute).
                for _ in 0..<5 {
                    _ = try await gw.request(.POST, "/v1/chat/completions", key: key, json: ["model": "echo", "messages": [["role": "user", "content": "x"]]])
                }
                #expect(gw.gateway.usage.pendingCount >= 5)
                // A stream of 10 chunks, 50 ms apart, is in flight when shutdown begins.
                let response = try await gw.stream(
                    "/v1/chat/completions", key: key,
                    json: ["model": "slow-stream", "stream": true, "max_tokens": 10, "messages": [["role": "user", "content": "x"]]])
                requestID = response.headers.first(name: "x-request-id") ?? ""
                var parser = SSEParser()
                var iterator = response.body.makeAsyncIterator()
                var shutdownStarted = false
                while let buffer = try await iterator.next() {
                    events += try parser.feed(buffer.readableBytesView).map(\.data)
                    if !shutdownStarted && !events.isEmpty {
                        shutdownStarted = true
                        await gw.beginShutdown()
                    }
                }
            }
            #expect(events.last == "[DONE]", "the in-flight stream was finished, not cut")
            #expect(events.filter { $0.contains("tok") }.count == 10)
            // After shutdown every row is in the store, the stream's included.
            #expect(try await TestGateway.usageCount(dataDir: dataDir) == 6)
            #expect(try await TestGateway.usageCount(dataDir: dataDir, where: "request_id = '\(requestID)' AND status = 200") == 1)
        }
    }
}
