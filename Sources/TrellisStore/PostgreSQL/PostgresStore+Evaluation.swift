import Foundation
import OpenAIWire
import PostgresNIO
import TrellisCore

/// Evaluation sets, runs and results.
extension PostgresStore {
    public func insertEvalSet(tenantID: String?, name: String, items: [JSONValue], actor: String, now: Date) async throws -> EvalSet {
        let text = JSONWriter.string(.array(items))
        let namespace = tenantID ?? ""
        let id = EvalIDs.make("evs")
        let at = now.unixMilliseconds
        let count = items.count
        let version = try await write { connection in
            // One writer per set name at a time: the next version number is read and taken under the lock.
            _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(namespace + "/" + name)))", logger: Self.quiet)
            let latest = try await connection.query(
                "SELECT COALESCE(MAX(version), 0) FROM eval_sets WHERE COALESCE(tenant_id, '') = \(namespace) AND name = \(name)", logger: Self.quiet)
            var next = 1
            for try await (n) in latest.decode(Int.self) { next = n + 1 }
            _ = try await connection.query(
                """
                INSERT INTO eval_sets(id, tenant_id, name, version, items, item_count, created_at_ms, created_by)
                VALUES (\(id), \(tenantID), \(name), \(next), \(text), \(count), \(at), \(actor))
                """, logger: Self.quiet)
            return next
        }
        return EvalSet(id: id, tenantID: tenantID, name: name, version: version, items: items, createdAt: now, createdBy: actor)
    }

    public func evalSets(visibleTo tenantID: String?) async throws -> [EvalSetSummary] {
        var sql = BoundSQL()
        let visible = tenantID.map { "(s.tenant_id IS NULL OR s.tenant_id = \(sql.bind($0)))" } ?? "TRUE"
        let statement = sql.query(
            """
            SELECT s.id, s.tenant_id, s.name, s.version, s.item_count, s.created_at_ms FROM eval_sets s
            WHERE \(visible) AND s.version = (
                SELECT MAX(v.version) FROM eval_sets v WHERE COALESCE(v.tenant_id, '') = COALESCE(s.tenant_id, '') AND v.name = s.name)
            ORDER BY s.name, COALESCE(s.tenant_id, '')
            """)
        return try await read { connection in
            var out: [EvalSetSummary] = []
            let rows = try await connection.query(statement, logger: Self.quiet)
            for try await (id, tenant, name, version, count, created) in rows.decode((String, String?, String, Int, Int, Int64).self) {
                out.append(EvalSetSummary(id: id, tenantID: tenant, name: name, version: version, itemCount: count, createdAt: Date(unixMilliseconds: created)))
            }
            return out
        }
    }

    public func evalSet(name: String, tenantID: String?, version: Int?) async throws -> EvalSet? {
        var sql = BoundSQL()
        let namespace = sql.bind(tenantID ?? "")
        let named = sql.bind(name)
        let chosen = version.map { "AND version = \(sql.bind($0))" } ?? "ORDER BY version DESC LIMIT 1"
        let statement = sql.query(
            "SELECT id, version, items, created_at_ms, created_by FROM eval_sets WHERE COALESCE(tenant_id, '') = \(namespace) AND name = \(named) \(chosen)")
        return try await read { connection in
            var found: EvalSet?
            let rows = try await connection.query(statement, logger: Self.quiet)
            for try await (id, version, items, created, by) in rows.decode((String, Int, String, Int64, String).self) {
                found = EvalSet(
                    id: id, tenantID: tenantID, name: name, version: version, items: try JSONParser.parse(items).arrayValue ?? [],
                    createdAt: Date(unixMilliseconds: created), createdBy: by)
            }
            return found
        }
    }

    /// Milliseconds on the database's clock, for heartbeats every replica compares the same way.
    static let databaseNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint"

    public func insertEvalRun(_ run: EvalRunRecord, owner: String) async throws {
        let models = JSONWriter.string(.array(run.models.map { .string($0) }))
        let scorers = JSONWriter.string(run.scorers)
        let created = run.createdAt.unixMilliseconds
        let finished = run.finishedAt?.unixMilliseconds
        let summary = run.summary.map(JSONWriter.string)
        try await write { connection in
            _ = try await connection.query(
                """
                INSERT INTO eval_runs(id, tenant_id, key_id, set_id, set_name, set_version, models, scorers, concurrency, status, error, total,
                    created_at_ms, finished_at_ms, created_by, heartbeat_ms, owner, summary)
                VALUES (\(run.id), \(run.tenantID), \(run.keyID), \(run.setID), \(run.setName), \(run.setVersion), \(models), \(scorers),
                    \(run.concurrency), \(run.status.rawValue), \(run.error), \(run.total), \(created), \(finished), \(run.createdBy),
                    \(unescaped: Self.databaseNowMs), \(owner), \(summary))
                """, logger: Self.quiet)
        }
    }

    public func finishEvalRun(id: String, status: EvalRunRecord.Status, error: String?, summary: JSONValue?, now: Date) async throws -> Bool {
        let at = now.unixMilliseconds
        let text = summary.map(JSONWriter.string)
        return try await write { connection in
            let rows = try await connection.query(
                """
                UPDATE eval_runs SET status = \(status.rawValue), error = \(error), finished_at_ms = \(at), summary = \(text)
                WHERE id = \(id) AND status = 'running' RETURNING id
                """, logger: Self.quiet)
            var changed = false
            for try await _ in rows { changed = true }
            return changed
        }
    }

    public func evalRun(id: String, tenantID: String?) async throws -> EvalRunRecord? {
        var sql = BoundSQL()
        var condition = "id = \(sql.bind(id))"
        if let tenantID { condition += " AND tenant_id = \(sql.bind(tenantID))" }
        return try await evalRuns(sql.query("SELECT \(EvalRows.runColumns) FROM eval_runs WHERE \(condition)")).first
    }

    public func evalRuns(tenantID: String?, limit: Int) async throws -> [EvalRunRecord] {
        var sql = BoundSQL()
        let mine = tenantID.map { "WHERE tenant_id = \(sql.bind($0))" } ?? ""
        let bounded = sql.bind(limit)
        return try await evalRuns(sql.query("SELECT \(EvalRows.runColumns) FROM eval_runs \(mine) ORDER BY created_at_ms DESC, id DESC LIMIT \(bounded)"))
    }

    public func claimEvalRuns(owner: String, staleAfter: TimeInterval, now: Date) async throws -> [EvalRunRecord] {
        var sql = BoundSQL()
        let me = sql.bind(owner)
        let stale = sql.bind(Int64(staleAfter * 1000))
        // Row by row under its lock: a run another process claimed first no longer looks stale and is skipped. Both
        // sides of the comparison are the database's clock, whatever the replicas' clocks say.
        let statement = sql.query(
            """
            UPDATE eval_runs SET heartbeat_ms = \(Self.databaseNowMs), owner = \(me)
            WHERE status = 'running' AND heartbeat_ms < \(Self.databaseNowMs) - \(stale) RETURNING \(EvalRows.runColumns)
            """)
        return try await evalRuns(statement, writing: true)
    }

    public func touchEvalRun(id: String, owner: String, now: Date) async throws -> Bool {
        return try await write { connection in
            let rows = try await connection.query(
                """
                UPDATE eval_runs SET heartbeat_ms = \(unescaped: Self.databaseNowMs)
                WHERE id = \(id) AND owner = \(owner) AND status = 'running' RETURNING id
                """, logger: Self.quiet)
            var changed = false
            for try await _ in rows { changed = true }
            return changed
        }
    }

    func evalRuns(_ statement: PostgresQuery, writing: Bool = false) async throws -> [EvalRunRecord] {
        let decode = { @Sendable (connection: PostgresConnection) async throws -> [EvalRunRecord] in
            var out: [EvalRunRecord] = []
            let rows = try await connection.query(statement, logger: Self.quiet)
            for try await row in rows {
                let c = row.makeRandomAccess()
                let models = ((try? JSONParser.parse(try c[6].decode(String.self)))?.arrayValue ?? []).compactMap(\.stringValue)
                out.append(
                    EvalRunRecord(
                        id: try c[0].decode(String.self), tenantID: try c[1].decode(String.self), keyID: try c[2].decode(String.self),
                        setID: try c[3].decode(String.self), setName: try c[4].decode(String.self), setVersion: try c[5].decode(Int.self), models: models,
                        scorers: (try? JSONParser.parse(try c[7].decode(String.self))) ?? .array([]), concurrency: try c[8].decode(Int.self),
                        status: EvalRunRecord.Status(rawValue: try c[9].decode(String.self)) ?? .failed, error: try c[10].decode(String?.self),
                        total: try c[11].decode(Int.self), createdAt: Date(unixMilliseconds: try c[12].decode(Int64.self)),
                        finishedAt: try c[13].decode(Int64?.self).map { Date(unixMilliseconds: $0) }, createdBy: try c[14].decode(String.self),
                        summary: try c[15].decode(String?.self).flatMap { try? JSONParser.parse($0) }))
            }
            return out
        }
        return writing ? try await write(decode) : try await read(decode)
    }

    public func saveEvalResult(_ r: EvalResultRecord) async throws {
        let scores = JSONWriter.string(r.scores)
        let passed = r.passed ? 1 : 0
        try await write { connection in
            _ = try await connection.query(
                """
                INSERT INTO eval_results(run_id, item, model, answer, error, scores, passed, score, latency_ms, prompt_tokens, completion_tokens,
                    cost_micros)
                VALUES (\(r.runID), \(r.item), \(r.model), \(r.answer), \(r.error), \(scores), \(passed), \(r.score), \(r.latencyMs), \(r.promptTokens),
                    \(r.completionTokens), \(r.costMicros))
                ON CONFLICT (run_id, item, model) DO UPDATE SET answer = excluded.answer, error = excluded.error, scores = excluded.scores,
                    passed = excluded.passed, score = excluded.score, latency_ms = excluded.latency_ms, prompt_tokens = excluded.prompt_tokens,
                    completion_tokens = excluded.completion_tokens, cost_micros = excluded.cost_micros
                """, logger: Self.quiet)
        }
    }

    public func evalOutcomes(runID: String) async throws -> [EvalOutcome] {
        try await read { connection in
            var out: [EvalOutcome] = []
            let rows = try await connection.query(
                "SELECT \(unescaped: EvalRows.outcomeColumns) FROM eval_results WHERE run_id = \(runID)", logger: Self.quiet)
            for try await (item, model, score, passed, latency, tokens, cost) in rows.decode((Int, String, Double?, Int, Double, Int, Int).self) {
                out.append(EvalOutcome(item: item, model: model, score: score, passed: passed != 0, latencyMs: latency, tokens: tokens, costMicros: cost))
            }
            return out
        }
    }

    public func evalResultCount(runID: String) async throws -> Int {
        try await read { connection in
            try await connection.scalar("SELECT COUNT(*) FROM eval_results WHERE run_id = \(runID)", as: Int.self) ?? 0
        }
    }

    public func evalResults(runID: String, model: String?, failedOnly: Bool, offset: Int, limit: Int) async throws -> [EvalResultRecord] {
        var sql = BoundSQL()
        var conditions = ["run_id = " + sql.bind(runID)]
        if let model { conditions.append("model = " + sql.bind(model)) }
        if failedOnly { conditions.append("passed = 0") }
        let page = "LIMIT \(sql.bind(limit)) OFFSET \(sql.bind(offset))"
        let statement = sql.query(
            "SELECT \(EvalRows.resultColumns) FROM eval_results WHERE \(conditions.joined(separator: " AND ")) ORDER BY item, model COLLATE \"C\" \(page)")
        return try await read { connection in
            var out: [EvalResultRecord] = []
            let rows = try await connection.query(statement, logger: Self.quiet)
            for try await row in rows {
                let c = row.makeRandomAccess()
                out.append(
                    EvalResultRecord(
                        runID: try c[0].decode(String.self), item: try c[1].decode(Int.self), model: try c[2].decode(String.self),
                        answer: try c[3].decode(String?.self), error: try c[4].decode(String?.self),
                        scores: (try? JSONParser.parse(try c[5].decode(String.self))) ?? .array([]), passed: try c[6].decode(Int.self) != 0,
                        score: try c[7].decode(Double?.self), latencyMs: try c[8].decode(Double.self), promptTokens: try c[9].decode(Int.self),
                        completionTokens: try c[10].decode(Int.self), costMicros: try c[11].decode(Int.self)))
            }
            return out
        }
    }
}
