import Foundation
import GRDB
import OpenAIWire
import TrellisCore

/// Evaluation sets, runs and results.
extension SQLiteStore {
    public func insertEvalSet(tenantID: String?, name: String, items: [JSONValue], actor: String, now: Date) async throws -> EvalSet {
        let text = JSONWriter.string(.array(items))
        return try await pool.write { db in
            let latest = try Int.fetchOne(
                db, sql: "SELECT MAX(version) FROM eval_sets WHERE COALESCE(tenant_id, '') = ? AND name = ?", arguments: [tenantID ?? "", name])
            let set = EvalSet(
                id: EvalIDs.make("evs"), tenantID: tenantID, name: name, version: (latest ?? 0) + 1, items: items, createdAt: now, createdBy: actor)
            try db.execute(
                sql: """
                    INSERT INTO eval_sets(id, tenant_id, name, version, items, item_count, created_at_ms, created_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [set.id, tenantID, name, set.version, text, items.count, now.unixMilliseconds, actor])
            return set
        }
    }

    public func evalSets(visibleTo tenantID: String?) async throws -> [EvalSetSummary] {
        try await pool.read { db in
            let visible = tenantID == nil ? "1" : "(s.tenant_id IS NULL OR s.tenant_id = ?)"
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT s.id, s.tenant_id, s.name, s.version, s.item_count, s.created_at_ms FROM eval_sets s
                    WHERE \(visible) AND s.version = (
                        SELECT MAX(v.version) FROM eval_sets v WHERE COALESCE(v.tenant_id, '') = COALESCE(s.tenant_id, '') AND v.name = s.name)
                    ORDER BY s.name, COALESCE(s.tenant_id, '')
                    """, arguments: StatementArguments(tenantID.map { [$0] } ?? []))
            return rows.map {
                EvalSetSummary(
                    id: $0[0], tenantID: $0[1], name: $0[2], version: $0[3], itemCount: $0[4], createdAt: Date(unixMilliseconds: $0[5]))
            }
        }
    }

    public func evalSet(name: String, tenantID: String?, version: Int?) async throws -> EvalSet? {
        try await pool.read { db in
            let chosen = version == nil ? "ORDER BY version DESC LIMIT 1" : "AND version = ?"
            var arguments: [(any DatabaseValueConvertible)?] = [tenantID ?? "", name]
            if let version { arguments.append(version) }
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT id, version, items, created_at_ms, created_by FROM eval_sets
                        WHERE COALESCE(tenant_id, '') = ? AND name = ? \(chosen)
                        """, arguments: StatementArguments(arguments))
            else { return nil }
            return EvalSet(
                id: row[0], tenantID: tenantID, name: name, version: row[1], items: try JSONParser.parse(row[2] as String).arrayValue ?? [],
                createdAt: Date(unixMilliseconds: row[3]), createdBy: row[4])
        }
    }

    public func insertEvalRun(_ run: EvalRunRecord, owner: String) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO eval_runs(id, tenant_id, key_id, set_id, set_name, set_version, models, scorers, concurrency, status, error, total,
                        created_at_ms, finished_at_ms, created_by, heartbeat_ms, owner, summary)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    run.id, run.tenantID, run.keyID, run.setID, run.setName, run.setVersion, JSONWriter.string(.array(run.models.map { .string($0) })),
                    JSONWriter.string(run.scorers), run.concurrency, run.status.rawValue, run.error, run.total, run.createdAt.unixMilliseconds,
                    run.finishedAt?.unixMilliseconds, run.createdBy, Date().unixMilliseconds, owner, run.summary.map(JSONWriter.string),
                ])
        }
    }

    public func finishEvalRun(id: String, status: EvalRunRecord.Status, error: String?, summary: JSONValue?, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE eval_runs SET status = ?, error = ?, finished_at_ms = ?, summary = ? WHERE id = ? AND status = 'running'",
                arguments: [status.rawValue, error, now.unixMilliseconds, summary.map(JSONWriter.string), id])
            return db.changesCount > 0
        }
    }

    public func evalRun(id: String, tenantID: String?) async throws -> EvalRunRecord? {
        try await pool.read { db in
            let mine = tenantID == nil ? "" : " AND tenant_id = ?"
            return try Row.fetchOne(
                db, sql: "SELECT \(EvalRows.runColumns) FROM eval_runs WHERE id = ?\(mine)", arguments: StatementArguments([id] + (tenantID.map { [$0] } ?? []))
            ).map(Self.evalRun)
        }
    }

    public func evalRuns(tenantID: String?, limit: Int) async throws -> [EvalRunRecord] {
        try await pool.read { db in
            let mine = tenantID == nil ? "" : "WHERE tenant_id = ?"
            return try Row.fetchAll(
                db, sql: "SELECT \(EvalRows.runColumns) FROM eval_runs \(mine) ORDER BY created_at_ms DESC, id DESC LIMIT ?",
                arguments: StatementArguments(((tenantID.map { [$0] } ?? []) as [any DatabaseValueConvertible]) + [limit])
            ).map(Self.evalRun)
        }
    }

    public func claimEvalRuns(owner: String, staleAfter: TimeInterval, now: Date) async throws -> [EvalRunRecord] {
        let at = now.unixMilliseconds
        let staleBefore = at - Int64(staleAfter * 1000)
        return try await pool.write { db in
            let stale = try Row.fetchAll(
                db, sql: "SELECT \(EvalRows.runColumns) FROM eval_runs WHERE status = 'running' AND heartbeat_ms <= ? ORDER BY created_at_ms",
                arguments: [staleBefore]
            ).map(Self.evalRun)
            for run in stale {
                try db.execute(sql: "UPDATE eval_runs SET heartbeat_ms = ?, owner = ? WHERE id = ?", arguments: [at, owner, run.id])
            }
            return stale
        }
    }

    public func touchEvalRun(id: String, owner: String, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE eval_runs SET heartbeat_ms = ? WHERE id = ? AND owner = ? AND status = 'running'", arguments: [now.unixMilliseconds, id, owner])
            return db.changesCount > 0
        }
    }

    public func saveEvalResult(_ r: EvalResultRecord) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO eval_results(run_id, item, model, answer, error, scores, passed, score, latency_ms, prompt_tokens,
                        completion_tokens, cost_micros)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    r.runID, r.item, r.model, r.answer, r.error, JSONWriter.string(r.scores), r.passed, r.score, r.latencyMs, r.promptTokens,
                    r.completionTokens, r.costMicros,
                ])
        }
    }

    public func evalOutcomes(runID: String) async throws -> [EvalOutcome] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(EvalRows.outcomeColumns) FROM eval_results WHERE run_id = ?", arguments: [runID]).map {
                EvalOutcome(item: $0[0], model: $0[1], score: $0[2], passed: $0[3], latencyMs: $0[4], tokens: $0[5], costMicros: $0[6])
            }
        }
    }

    public func evalResultCount(runID: String) async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM eval_results WHERE run_id = ?", arguments: [runID]) ?? 0 }
    }

    public func evalResults(runID: String, model: String?, failedOnly: Bool, offset: Int, limit: Int) async throws -> [EvalResultRecord] {
        var conditions = ["run_id = ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [runID]
        if let model {
            conditions.append("model = ?")
            arguments.append(model)
        }
        if failedOnly { conditions.append("passed = 0") }
        arguments += [limit, offset]
        let sql = "SELECT \(EvalRows.resultColumns) FROM eval_results WHERE \(conditions.joined(separator: " AND ")) ORDER BY item, model LIMIT ? OFFSET ?"
        let bound = StatementArguments(arguments)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map {
                EvalResultRecord(
                    runID: $0[0], item: $0[1], model: $0[2], answer: $0[3], error: $0[4], scores: (try? JSONParser.parse($0[5] as String)) ?? .array([]),
                    passed: $0[6], score: $0[7], latencyMs: $0[8], promptTokens: $0[9], completionTokens: $0[10], costMicros: $0[11])
            }
        }
    }

    static func evalRun(_ row: Row) -> EvalRunRecord {
        let models = ((try? JSONParser.parse(row[6] as String))?.arrayValue ?? []).compactMap(\.stringValue)
        return EvalRunRecord(
            id: row[0], tenantID: row[1], keyID: row[2], setID: row[3], setName: row[4], setVersion: row[5], models: models,
            scorers: (try? JSONParser.parse(row[7] as String)) ?? .array([]), concurrency: row[8],
            status: EvalRunRecord.Status(rawValue: row[9]) ?? .failed, error: row[10], total: row[11], createdAt: Date(unixMilliseconds: row[12]),
            finishedAt: (row[13] as Int64?).map { Date(unixMilliseconds: $0) }, createdBy: row[14],
            summary: (row[15] as String?).flatMap { try? JSONParser.parse($0) })
    }
}

/// What both engines share about evaluation rows: the columns read, in order, and new ids.
enum EvalRows {
    static let runColumns =
        "id, tenant_id, key_id, set_id, set_name, set_version, models, scorers, concurrency, status, error, total, created_at_ms, finished_at_ms, created_by, summary"
    static let outcomeColumns = "item, model, score, passed, latency_ms, prompt_tokens + completion_tokens, cost_micros"
    static let resultColumns =
        "run_id, item, model, answer, error, scores, passed, score, latency_ms, prompt_tokens, completion_tokens, cost_micros"
}

/// Identifiers of evaluation sets and runs: a prefix and 16 random hex digits.
public enum EvalIDs {
    public static func make(_ prefix: String) -> String {
        var random = SystemRandomNumberGenerator()
        return prefix + "_" + String(format: "%016llx", random.next() as UInt64)
    }
}
