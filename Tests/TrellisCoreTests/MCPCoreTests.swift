import OpenAIWire
import Testing
import TrellisCore

@Suite("MCP: JSON-RPC messages and the session table")
struct MCPCoreTests {
    @Test("requests, notifications and responses are told apart; malformed messages are invalid requests with their id")
    func messages() throws {
        #expect(
            try JSONRPC.message(["jsonrpc": "2.0", "id": "a", "method": "tools/list"]) == .request(id: "a", method: "tools/list", params: [:]))
        #expect(
            try JSONRPC.message(["jsonrpc": "2.0", "method": "notifications/initialized"]) == .notification(method: "notifications/initialized", params: [:]))
        #expect(try JSONRPC.message(["jsonrpc": "2.0", "id": 3, "result": [:]]) == .response(id: 3))
        #expect(throws: JSONRPC.Failure(code: -32600, message: "'jsonrpc' must be \"2.0\".", id: 4)) {
            try JSONRPC.message(["id": 4, "method": "ping"])
        }
        #expect(throws: JSONRPC.Failure(code: -32600, message: "'id' must be a string or an integer.")) {
            try JSONRPC.message(["jsonrpc": "2.0", "id": 1.5, "method": "ping"])
        }
        #expect(throws: JSONRPC.Failure(code: -32602, message: "'params' must be an object.", id: 1)) {
            try JSONRPC.message(["jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]])
        }
    }

    @Test("a session is its key's only, closes when idle too long, and a key's sessions are capped (least recently used first)")
    func sessions() {
        let t0 = ContinuousClock.now
        var table = MCPSessionTable(maxPerKey: 2, idle: .seconds(60))
        table.open(id: "a", keyID: "k1", protocolVersion: "2025-11-25", now: t0)
        table.open(id: "b", keyID: "k1", protocolVersion: "2025-11-25", now: t0 + .seconds(1))
        let foreign = table.use("a", keyID: "k2", now: t0 + .seconds(2))
        #expect(foreign == nil, "another key's session is not found")
        let own = table.use("a", keyID: "k1", now: t0 + .seconds(2))
        #expect(own?.protocolVersion == "2025-11-25")
        // "b" is now the least recently used of k1's two.
        let evicted = table.open(id: "c", keyID: "k1", protocolVersion: "2025-06-18", now: t0 + .seconds(3))
        #expect(evicted == "b")
        #expect(table.count(keyID: "k1") == 2)
        table.open(id: "d", keyID: "k2", protocolVersion: "2025-06-18", now: t0 + .seconds(3))
        let idle = table.use("c", keyID: "k1", now: t0 + .seconds(64))
        #expect(idle == nil, "idle for 61 s")
        let swept = table.sweep(now: t0 + .seconds(70))
        #expect(swept == 2, "a and d")
        #expect(table.count == 0)
        table.open(id: "e", keyID: "k1", protocolVersion: "2025-06-18", now: t0)
        let closes = [table.close("e", keyID: "k2"), table.close("e", keyID: "k1"), table.close("e", keyID: "k1")]
        #expect(closes == [false, true, false])
    }
}
