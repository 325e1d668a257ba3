import PostgresNIO

/// The PostgreSQL schema, as append-only migrations: a migration is never edited once shipped. The first one
/// is SQLite's schema as of its `v8` migration, column for column (times as integers, JSON as text, histograms
/// and user sets as bytes), so rows move between the engines unchanged. Where SQLite keeps keyword terms in
/// FTS5 tables, PostgreSQL keeps them in a plain table: searches run on the in-memory index either way.
enum PostgresMigrations {
    struct Migration {
        var id: String
        var statements: [String]
    }

    /// An arbitrary constant key for `pg_advisory_lock`: "trellis" in ASCII.
    static let lockKey: Int64 = 0x7472_656C_6C69_73

    static let all: [Migration] = [
        Migration(id: "pg1-schema", statements: schemaV1),
        Migration(id: "pg2-cluster-limits", statements: clusterLimits),
        Migration(id: "pg3-responses", statements: responses),
        Migration(id: "pg4-routing", statements: routing),
        Migration(id: "pg5-evaluation", statements: evaluation),
    ]

    /// Evaluation sets, runs and their results (SQLite's v11).
    static let evaluation: [String] = [
        """
        CREATE TABLE eval_sets (
            id TEXT PRIMARY KEY NOT NULL,
            tenant_id TEXT,
            name TEXT NOT NULL,
            version BIGINT NOT NULL,
            items TEXT NOT NULL,
            item_count BIGINT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            created_by TEXT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX eval_sets_name ON eval_sets ((COALESCE(tenant_id, '')), name, version)",
        """
        CREATE TABLE eval_runs (
            id TEXT PRIMARY KEY NOT NULL,
            tenant_id TEXT NOT NULL,
            key_id TEXT NOT NULL,
            set_id TEXT NOT NULL,
            set_name TEXT NOT NULL,
            set_version BIGINT NOT NULL,
            models TEXT NOT NULL,
            scorers TEXT NOT NULL,
            concurrency BIGINT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            total BIGINT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            finished_at_ms BIGINT,
            created_by TEXT NOT NULL,
            heartbeat_ms BIGINT NOT NULL,
            owner TEXT NOT NULL,
            summary TEXT
        )
        """,
        "CREATE INDEX eval_runs_tenant ON eval_runs (tenant_id, created_at_ms)",
        "CREATE INDEX eval_runs_status ON eval_runs (status)",
        """
        CREATE TABLE eval_results (
            run_id TEXT NOT NULL,
            item BIGINT NOT NULL,
            model TEXT NOT NULL,
            answer TEXT,
            error TEXT,
            scores TEXT NOT NULL,
            passed BIGINT NOT NULL,
            score DOUBLE PRECISION,
            latency_ms DOUBLE PRECISION NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            cost_micros BIGINT NOT NULL,
            PRIMARY KEY (run_id, item, model)
        )
        """,
    ]

    /// A router model's requests: the child that answered, and what the router's default would have cost (SQLite's v10).
    static let routing: [String] = [
        "ALTER TABLE usage ADD COLUMN routed_to TEXT",
        "ALTER TABLE usage ADD COLUMN baseline_cost_micros BIGINT",
    ]

    /// Responses of the Responses API kept for their tenant (SQLite's v9).
    static let responses: [String] = [
        """
        CREATE TABLE responses (
            id TEXT PRIMARY KEY NOT NULL,
            tenant_id TEXT NOT NULL,
            model TEXT NOT NULL,
            created_at_ms BIGINT NOT NULL,
            expires_at_ms BIGINT NOT NULL,
            response TEXT NOT NULL,
            conversation TEXT NOT NULL
        )
        """,
        "CREATE INDEX responses_expiry ON responses(expires_at_ms)",
    ]

    /// The limits replicas share (`PostgresStore+Limits`): each bucket's pool, the leases replicas hold on it,
    /// and the replicas' heartbeats. Times are milliseconds on the database's clock.
    static let clusterLimits: [String] = [
        """
        CREATE TABLE limit_pools (
            bucket TEXT PRIMARY KEY NOT NULL,
            level DOUBLE PRECISION NOT NULL,
            capacity DOUBLE PRECISION NOT NULL,
            refill_per_second DOUBLE PRECISION NOT NULL,
            updated_ms BIGINT NOT NULL
        )
        """,
        "CREATE INDEX limit_pools_updated ON limit_pools (updated_ms)",
        """
        CREATE TABLE limit_leases (
            bucket TEXT NOT NULL REFERENCES limit_pools(bucket) ON DELETE CASCADE,
            replica TEXT NOT NULL,
            held DOUBLE PRECISION NOT NULL,
            seen_ms BIGINT NOT NULL,
            PRIMARY KEY (bucket, replica)
        )
        """,
        """
        CREATE TABLE replicas (
            id TEXT PRIMARY KEY NOT NULL,
            started_ms BIGINT NOT NULL,
            seen_ms BIGINT NOT NULL
        )
        """,
    ]

    /// Applies the pending migrations on `connection`, each in its own transaction, holding the advisory lock
    /// throughout; returns every applied migration's id, oldest first.
    static func apply(on connection: PostgresConnection) async throws -> [String] {
        let logger = PostgresStore.quiet
        // Another process's migration is waited for as long as it takes (the bulk deadline bounds the wait), not
        // the session's `lock_timeout`. Each answer is read to its end: a query's error arrives with its rows, so
        // a lock not taken is an error here, never a migration run without it.
        do {
            _ = try await connection.query("SELECT set_config('lock_timeout', '0', false)", logger: logger).collect()
            _ = try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger).collect()
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS trellis_migrations (id TEXT PRIMARY KEY NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                logger: logger)
            var applied: [String] = []
            for try await id in try await connection.query("SELECT id FROM trellis_migrations ORDER BY applied_at, id", logger: logger).decode(String.self) {
                applied.append(id)
            }
            for migration in all where !applied.contains(migration.id) {
                try await connection.withTransaction(logger: logger) { transaction in
                    for statement in migration.statements {
                        try await transaction.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await transaction.query("INSERT INTO trellis_migrations (id) VALUES (\(migration.id))", logger: logger)
                }
                applied.append(migration.id)
            }
            _ = try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger).collect()
            _ = try await connection.query("RESET lock_timeout", logger: logger).collect()
            return applied
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger).collect()
            _ = try? await connection.query("RESET lock_timeout", logger: logger).collect()
            throw error
        }
    }

    static let schemaV1: [String] = [
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY NOT NULL,
            value BIGINT NOT NULL
        )
        """,
        "INSERT INTO meta (key, value) VALUES ('catalog_generation', 1), ('knowledge_generation', 1)",
        """
        CREATE TABLE tenants (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            settings TEXT NOT NULL DEFAULT '{}'
        )
        """,
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY NOT NULL,
            tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            prefix TEXT NOT NULL,
            digest TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            models TEXT NOT NULL,
            rpm BIGINT,
            tpm BIGINT,
            expires_at BIGINT,
            created_at BIGINT NOT NULL,
            revoked_at BIGINT,
            concurrency BIGINT
        )
        """,
        "CREATE INDEX api_keys_tenant ON api_keys(tenant_id)",
        """
        CREATE TABLE upstreams (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL UNIQUE,
            base_url TEXT NOT NULL,
            kind TEXT NOT NULL,
            labels TEXT NOT NULL,
            api_key_env TEXT,
            timeouts TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            pricing TEXT
        )
        """,
        """
        CREATE TABLE models (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
            description TEXT,
            traffic TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX models_shared_name ON models(name) WHERE tenant_id IS NULL",
        "CREATE UNIQUE INDEX models_tenant_name ON models(tenant_id, name) WHERE tenant_id IS NOT NULL",
        """
        CREATE TABLE model_versions (
            model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            version BIGINT NOT NULL,
            spec TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (model_id, version)
        )
        """,
        """
        CREATE TABLE usage (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            request_id TEXT NOT NULL,
            at_ms BIGINT NOT NULL,
            endpoint TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            key_id TEXT NOT NULL,
            end_user TEXT,
            model TEXT NOT NULL,
            model_version BIGINT,
            upstream TEXT,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            estimated BIGINT NOT NULL,
            latency_ms DOUBLE PRECISION NOT NULL,
            ttft_ms DOUBLE PRECISION,
            status BIGINT NOT NULL,
            error_code TEXT,
            stream BIGINT NOT NULL,
            retrieval_ms DOUBLE PRECISION,
            cost_micros BIGINT NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX usage_at ON usage(at_ms)",
        "CREATE INDEX usage_tenant_at ON usage(tenant_id, at_ms)",
        "CREATE INDEX usage_request ON usage(request_id)",
        """
        CREATE TABLE audit_log (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at_ms BIGINT NOT NULL,
            actor TEXT NOT NULL,
            tenant_id TEXT,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT
        )
        """,
        "CREATE INDEX audit_at ON audit_log(at_ms)",
        """
        CREATE TABLE prompts (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
            description TEXT,
            labels TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX prompts_shared_name ON prompts(name) WHERE tenant_id IS NULL",
        "CREATE UNIQUE INDEX prompts_tenant_name ON prompts(tenant_id, name) WHERE tenant_id IS NOT NULL",
        """
        CREATE TABLE prompt_versions (
            prompt_id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
            version BIGINT NOT NULL,
            definition TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (prompt_id, version)
        )
        """,
        """
        CREATE TABLE adapters (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
            upstream TEXT NOT NULL,
            base_model TEXT NOT NULL,
            served_model TEXT,
            lora_id BIGINT,
            lora_scale DOUBLE PRECISION,
            path TEXT,
            method TEXT NOT NULL,
            dataset TEXT,
            evaluation TEXT,
            description TEXT,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX adapters_shared_name ON adapters(name) WHERE tenant_id IS NULL",
        "CREATE UNIQUE INDEX adapters_tenant_name ON adapters(tenant_id, name) WHERE tenant_id IS NOT NULL",
        """
        CREATE TABLE knowledge_bases (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            description TEXT,
            embedding_upstream TEXT,
            embedding_model TEXT,
            chunk_size BIGINT NOT NULL,
            chunk_overlap BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (tenant_id, name)
        )
        """,
        """
        CREATE TABLE documents (
            id TEXT PRIMARY KEY NOT NULL,
            kb_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
            title TEXT NOT NULL,
            content_type TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            bytes BIGINT NOT NULL,
            metadata TEXT,
            chunk_count BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (kb_id, sha256)
        )
        """,
        """
        CREATE TABLE chunks (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            kb_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
            document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            position BIGINT NOT NULL,
            heading TEXT NOT NULL,
            text TEXT NOT NULL,
            embedding BYTEA
        )
        """,
        "CREATE INDEX chunks_document ON chunks(document_id)",
        "CREATE INDEX chunks_kb ON chunks(kb_id)",
        // A chunk's keyword terms (SearchTokenizer's output, space-separated, without SQLite's per-knowledge-
        // base prefix): what the in-memory keyword index is built from.
        """
        CREATE TABLE chunk_terms (
            chunk_id BIGINT PRIMARY KEY NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
            terms TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE feedback (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            request_id TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            key_id TEXT NOT NULL,
            model TEXT NOT NULL,
            model_version BIGINT,
            rating BIGINT NOT NULL,
            comment TEXT,
            correction TEXT,
            at_ms BIGINT NOT NULL
        )
        """,
        "CREATE INDEX feedback_request ON feedback(request_id)",
        "CREATE INDEX feedback_tenant_model ON feedback(tenant_id, model)",
        """
        CREATE TABLE interactions (
            request_id TEXT PRIMARY KEY NOT NULL,
            tenant_id TEXT NOT NULL,
            model TEXT NOT NULL,
            model_version BIGINT,
            at_ms BIGINT NOT NULL,
            messages TEXT NOT NULL,
            answer TEXT NOT NULL,
            expires_at_ms BIGINT NOT NULL
        )
        """,
        "CREATE INDEX interactions_expiry ON interactions(expires_at_ms)",
        "CREATE INDEX interactions_model ON interactions(tenant_id, model)",
        // Daily roll-ups of usage (see SQLite's v4, v7 and v8 migrations); model_version -1 stands for none.
        """
        CREATE TABLE usage_daily (
            day TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            model TEXT NOT NULL,
            model_version BIGINT NOT NULL,
            key_id TEXT NOT NULL,
            requests BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            cost_micros BIGINT NOT NULL,
            positive BIGINT NOT NULL,
            negative BIGINT NOT NULL,
            latency_hist BYTEA NOT NULL,
            ttft_hist BYTEA NOT NULL,
            users BYTEA,
            PRIMARY KEY (day, tenant_id, model, model_version, key_id)
        )
        """,
        """
        CREATE TABLE usage_daily_users (
            day TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            model TEXT NOT NULL,
            model_version BIGINT NOT NULL,
            key_id TEXT NOT NULL,
            end_user TEXT NOT NULL,
            requests BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            cost_micros BIGINT NOT NULL,
            positive BIGINT NOT NULL,
            negative BIGINT NOT NULL,
            PRIMARY KEY (day, tenant_id, model, model_version, key_id, end_user)
        )
        """,
        """
        CREATE TABLE usage_daily_models (
            day TEXT NOT NULL,
            tenant_id TEXT NOT NULL,
            model TEXT NOT NULL,
            model_version BIGINT NOT NULL,
            requests BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL,
            cost_micros BIGINT NOT NULL,
            positive BIGINT NOT NULL,
            negative BIGINT NOT NULL,
            latency_hist BYTEA NOT NULL,
            ttft_hist BYTEA NOT NULL,
            users BYTEA NOT NULL,
            PRIMARY KEY (day, tenant_id, model, model_version)
        )
        """,
    ]
}
