import PostgresNIO
import TrellisCore

/// The limits replicas share (see `LimitStore`): one transaction per sync locks the reported buckets' pools in
/// key order (so that replicas syncing overlapping buckets never deadlock), reads their leases, applies
/// `LeaseLedger` to each report on the database's clock, and writes the pools, the leases and the heartbeat back.
extension PostgresStore: LimitStore {
    public var sharesLimits: Bool { true }

    public func syncLeases(_ request: LeaseSync) async throws -> LeaseSyncAnswer {
        let reports = Dictionary(request.reports.map { ($0.bucket.id, $0) }, uniquingKeysWith: { first, _ in first })
        let ids = reports.keys.sorted()
        // New pools first, each insert committed at once: a transaction that created a row and then waited for
        // another's lock could deadlock with one holding that lock and waiting for the new row.
        let fresh = ids.compactMap { reports[$0] }.filter(\.fresh).map(\.bucket)
        if !fresh.isEmpty {
            try await read { connection in try await Self.createPools(fresh, connection) }
        }
        return try await write { connection in
            let (pools, nowMs) = try await Self.lockPools(ids, connection)
            let missing = ids.filter { pools[$0] == nil }.compactMap { reports[$0]?.bucket }
            var created = pools
            if !missing.isEmpty {
                // Deleted since the replica first synced it (housekeeping): made again, as a new one would be.
                try await Self.createPools(missing, connection)
                created = try await Self.lockPools(ids, connection).0
            }
            let holdings = try await Self.leases(ids, connection)
            let live = try await Self.heartbeat(request, nowMs: nowMs, connection)
            var writes = LeaseWrites()
            var grants: [LeaseGrant] = []
            for id in ids {
                guard let report = reports[id] else { continue }
                let outcome = request.ledger.sync(
                    pool: created[id], holdings: holdings[id] ?? [], report: report, replica: request.replica, nowMs: nowMs, replicas: live)
                writes.add(outcome, bucket: id, replica: request.replica)
                grants.append(outcome.grant)
            }
            try await writes.save(connection)
            if request.housekeeping { try await Self.sweep(nowMs: nowMs, connection) }
            return LeaseSyncAnswer(grants: grants, liveReplicas: live)
        }
    }

    /// Inserts the pools that do not exist yet, full; a month's quota less the tokens its tenant used that month.
    static func createPools(_ buckets: [LimitBucket], _ connection: PostgresConnection) async throws {
        let sorted = buckets.sorted { $0.id < $1.id }
        var sql = BoundSQL()
        let ids = sql.bind(sorted.map(\.id))
        let capacities = sql.bind(sorted.map(\.capacity))
        let rates = sql.bind(sorted.map(\.refillPerSecond))
        let tenants = sql.bind(NullableArray(sorted.map { $0.usageSeed?.tenantID }))
        let months = sql.bind(NullableArray(sorted.map { $0.usageSeed?.month }))
        try await connection.query(
            sql.query(
                """
                INSERT INTO limit_pools (bucket, level, capacity, refill_per_second, updated_ms)
                SELECT b.id, b.capacity - COALESCE((
                        SELECT SUM(d.prompt_tokens + d.completion_tokens) FROM usage_daily d
                        WHERE b.tenant IS NOT NULL AND d.tenant_id = b.tenant AND d.day LIKE b.month || '-%'), 0),
                    b.capacity, b.rate, (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT
                FROM unnest(\(ids)::TEXT[], \(capacities)::FLOAT8[], \(rates)::FLOAT8[], \(tenants)::TEXT[], \(months)::TEXT[])
                    AS b(id, capacity, rate, tenant, month)
                ORDER BY b.id
                ON CONFLICT (bucket) DO NOTHING
                """), logger: quiet)
    }

    /// Locks the pools of `ids` in key order; answers them and the database's time once they are locked.
    static func lockPools(_ ids: [String], _ connection: PostgresConnection) async throws -> ([String: LeasePool], Int64) {
        var pools: [String: LeasePool] = [:]
        let rows = try await connection.query(
            """
            SELECT bucket, level, capacity, refill_per_second, updated_ms FROM limit_pools
            WHERE bucket = ANY(\(ids)) ORDER BY bucket FOR UPDATE
            """, logger: quiet)
        for try await (bucket, level, capacity, rate, updated) in rows.decode((String, Double, Double, Double, Int64).self) {
            pools[bucket] = LeasePool(level: level, capacity: capacity, refillPerSecond: rate, updatedMs: updated)
        }
        let now = try await connection.scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT", as: Int64.self) ?? 0
        return (pools, now)
    }

    /// Every replica's lease on the buckets `ids`.
    static func leases(_ ids: [String], _ connection: PostgresConnection) async throws -> [String: [LeaseHolding]] {
        var out: [String: [LeaseHolding]] = [:]
        let rows = try await connection.query("SELECT bucket, replica, held, seen_ms FROM limit_leases WHERE bucket = ANY(\(ids))", logger: quiet)
        for try await (bucket, replica, held, seen) in rows.decode((String, String, Double, Int64).self) {
            out[bucket, default: []].append(LeaseHolding(replica: replica, held: held, seenMs: seen))
        }
        return out
    }

    /// Records the replica as seen now; answers how many replicas were seen within `liveWithinMs`.
    static func heartbeat(_ request: LeaseSync, nowMs: Int64, _ connection: PostgresConnection) async throws -> Int {
        try await connection.query(
            """
            INSERT INTO replicas (id, started_ms, seen_ms) VALUES (\(request.replica), \(request.startedMs), \(nowMs))
            ON CONFLICT (id) DO UPDATE SET seen_ms = EXCLUDED.seen_ms
            """, logger: quiet)
        let live = try await connection.scalar("SELECT COUNT(*) FROM replicas WHERE seen_ms >= \(nowMs - request.liveWithinMs)", as: Int64.self)
        return max(1, Int(live ?? 1))
    }

    /// Deletes replicas gone for a day, and pools nobody leases that were not touched for a day (a rate pool is
    /// full by then, and a quota pool is made again from the stored usage).
    static func sweep(nowMs: Int64, _ connection: PostgresConnection) async throws {
        let dayAgo = nowMs - 86_400_000
        try await connection.query("DELETE FROM replicas WHERE seen_ms < \(dayAgo)", logger: quiet)
        try await connection.query(
            """
            DELETE FROM limit_pools p WHERE p.updated_ms < \(dayAgo)
            AND NOT EXISTS (SELECT 1 FROM limit_leases l WHERE l.bucket = p.bucket)
            """, logger: quiet)
    }
}

/// The rows one sync changes, written as one statement per kind whatever the number of buckets.
struct LeaseWrites {
    var pools: [(String, LeasePool)] = []
    var kept: [(String, LeaseHolding)] = []
    var dropped: [(String, String)] = []

    mutating func add(_ outcome: LeaseLedger.Outcome, bucket: String, replica: String) {
        pools.append((bucket, outcome.pool))
        if let lease = outcome.lease {
            kept.append((bucket, lease))
        } else {
            dropped.append((bucket, replica))
        }
        dropped += outcome.forfeited.map { (bucket, $0) }
    }

    func save(_ connection: PostgresConnection) async throws {
        if !pools.isEmpty {
            var sql = BoundSQL()
            let (ids, levels, capacities) = (sql.bind(pools.map(\.0)), sql.bind(pools.map(\.1.level)), sql.bind(pools.map(\.1.capacity)))
            let (rates, updated) = (sql.bind(pools.map(\.1.refillPerSecond)), sql.bind(pools.map(\.1.updatedMs)))
            try await connection.query(
                sql.query(
                    """
                    UPDATE limit_pools p SET level = u.level, capacity = u.capacity, refill_per_second = u.rate, updated_ms = u.updated
                    FROM unnest(\(ids)::TEXT[], \(levels)::FLOAT8[], \(capacities)::FLOAT8[], \(rates)::FLOAT8[], \(updated)::BIGINT[])
                        AS u(bucket, level, capacity, rate, updated)
                    WHERE p.bucket = u.bucket
                    """), logger: PostgresStore.quiet)
        }
        if !dropped.isEmpty {
            var sql = BoundSQL()
            let (buckets, replicas) = (sql.bind(dropped.map(\.0)), sql.bind(dropped.map(\.1)))
            try await connection.query(
                sql.query(
                    """
                    DELETE FROM limit_leases l USING unnest(\(buckets)::TEXT[], \(replicas)::TEXT[]) AS d(bucket, replica)
                    WHERE l.bucket = d.bucket AND l.replica = d.replica
                    """), logger: PostgresStore.quiet)
        }
        if !kept.isEmpty {
            var sql = BoundSQL()
            let (buckets, replicas) = (sql.bind(kept.map(\.0)), sql.bind(kept.map(\.1.replica)))
            let (held, seen) = (sql.bind(kept.map(\.1.held)), sql.bind(kept.map(\.1.seenMs)))
            try await connection.query(
                sql.query(
                    """
                    INSERT INTO limit_leases (bucket, replica, held, seen_ms)
                    SELECT * FROM unnest(\(buckets)::TEXT[], \(replicas)::TEXT[], \(held)::FLOAT8[], \(seen)::BIGINT[])
                    ON CONFLICT (bucket, replica) DO UPDATE SET held = EXCLUDED.held, seen_ms = EXCLUDED.seen_ms
                    """), logger: PostgresStore.quiet)
        }
    }
}
