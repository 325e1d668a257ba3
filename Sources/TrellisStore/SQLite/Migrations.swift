import Foundation
import GRDB

/// The schema, as append-only migrations. A migration is never edited once shipped, and none uses application
/// types: each is the SQL of its day.
enum Migrations {
    static func register(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v1-catalog-keys-usage") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (
                        key TEXT PRIMARY KEY NOT NULL,
                        value INTEGER NOT NULL
                    ) STRICT;
                    INSERT INTO meta(key, value) VALUES ('catalog_generation', 1);

                    CREATE TABLE tenants (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL
                    ) STRICT;

                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                        name TEXT NOT NULL,
                        prefix TEXT NOT NULL,
                        digest TEXT NOT NULL UNIQUE,
                        scopes TEXT NOT NULL,
                        models TEXT NOT NULL,
                        rpm INTEGER,
                        tpm INTEGER,
                        expires_at INTEGER,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    ) STRICT;
                    CREATE INDEX api_keys_tenant ON api_keys(tenant_id);

                    CREATE TABLE upstreams (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL UNIQUE,
                        base_url TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        labels TEXT NOT NULL,
                        api_key_env TEXT,
                        timeouts TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    ) STRICT;

                    CREATE TABLE models (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
                        description TEXT,
                        traffic TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    ) STRICT;
                    CREATE UNIQUE INDEX models_shared_name ON models(name) WHERE tenant_id IS NULL;
                    CREATE UNIQUE INDEX models_tenant_name ON models(tenant_id, name) WHERE tenant_id IS NOT NULL;

                    CREATE TABLE model_versions (
                        model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
                        version INTEGER NOT NULL,
                        spec TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (model_id, version)
                    ) STRICT;

                    CREATE TABLE usage (
                        id INTEGER PRIMARY KEY,
                        request_id TEXT NOT NULL,
                        at_ms INTEGER NOT NULL,
                        endpoint TEXT NOT NULL,
                        tenant_id TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        end_user TEXT,
                        model TEXT NOT NULL,
                        model_version INTEGER,
                        upstream TEXT,
                        prompt_tokens INTEGER NOT NULL,
                        completion_tokens INTEGER NOT NULL,
                        estimated INTEGER NOT NULL,
                        latency_ms REAL NOT NULL,
                        ttft_ms REAL,
                        status INTEGER NOT NULL,
                        error_code TEXT,
                        stream INTEGER NOT NULL
                    ) STRICT;
                    CREATE INDEX usage_at ON usage(at_ms);
                    CREATE INDEX usage_tenant_at ON usage(tenant_id, at_ms);
                    CREATE INDEX usage_request ON usage(request_id);

                    CREATE TABLE audit_log (
                        id INTEGER PRIMARY KEY,
                        at_ms INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        tenant_id TEXT,
                        action TEXT NOT NULL,
                        target TEXT NOT NULL,
                        detail TEXT
                    ) STRICT;
                    CREATE INDEX audit_at ON audit_log(at_ms);
                    """)
        }
        migrator.registerMigration("v2-prompts-adapters") { db in
            try db.execute(
                sql: """
                    CREATE TABLE prompts (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
                        description TEXT,
                        labels TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    ) STRICT;
                    CREATE UNIQUE INDEX prompts_shared_name ON prompts(name) WHERE tenant_id IS NULL;
                    CREATE UNIQUE INDEX prompts_tenant_name ON prompts(tenant_id, name) WHERE tenant_id IS NOT NULL;

                    CREATE TABLE prompt_versions (
                        prompt_id TEXT NOT NULL REFERENCES prompts(id) ON DELETE CASCADE,
                        version INTEGER NOT NULL,
                        definition TEXT NOT NULL,
                        created_at INTEGER NOT NULL,
                        PRIMARY KEY (prompt_id, version)
                    ) STRICT;

                    CREATE TABLE adapters (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,
                        upstream TEXT NOT NULL,
                        base_model TEXT NOT NULL,
                        served_model TEXT,
                        lora_id INTEGER,
                        lora_scale REAL,
                        path TEXT,
                        method TEXT NOT NULL,
                        dataset TEXT,
                        evaluation TEXT,
                        description TEXT,
                        created_at INTEGER NOT NULL
                    ) STRICT;
                    CREATE UNIQUE INDEX adapters_shared_name ON adapters(name) WHERE tenant_id IS NULL;
                    CREATE UNIQUE INDEX adapters_tenant_name ON adapters(tenant_id, name) WHERE tenant_id IS NOT NULL;
                    """)
        }
        migrator.registerMigration("v3-knowledge") { db in
            try db.execute(
                sql: """
                    CREATE TABLE knowledge_bases (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
                        description TEXT,
                        embedding_upstream TEXT,
                        embedding_model TEXT,
                        chunk_size INTEGER NOT NULL,
                        chunk_overlap INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        UNIQUE (tenant_id, name)
                    ) STRICT;

                    CREATE TABLE documents (
                        id TEXT PRIMARY KEY NOT NULL,
                        kb_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
                        title TEXT NOT NULL,
                        content_type TEXT NOT NULL,
                        sha256 TEXT NOT NULL,
                        bytes INTEGER NOT NULL,
                        metadata TEXT,
                        chunk_count INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        UNIQUE (kb_id, sha256)
                    ) STRICT;

                    CREATE TABLE chunks (
                        id INTEGER PRIMARY KEY,
                        kb_id TEXT NOT NULL REFERENCES knowledge_bases(id) ON DELETE CASCADE,
                        document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                        position INTEGER NOT NULL,
                        heading TEXT NOT NULL,
                        text TEXT NOT NULL,
                        embedding BLOB
                    ) STRICT;
                    CREATE INDEX chunks_document ON chunks(document_id);
                    CREATE INDEX chunks_kb ON chunks(kb_id);

                    -- Keyword index: rowid = chunks.id; `kb` holds one token naming the knowledge base (so a
                    -- search is an index intersection, not a scan), `terms` the pre-tokenised text (CJK
                    -- bigrams and unigrams, lower-cased words; see SearchTokenizer).
                    CREATE VIRTUAL TABLE chunks_fts USING fts5(kb, terms, tokenize = 'unicode61 remove_diacritics 0');

                    ALTER TABLE usage ADD COLUMN retrieval_ms REAL;
                    INSERT INTO meta(key, value) VALUES ('knowledge_generation', 1);
                    """)
        }
        migrator.registerMigration("v4-governance") { db in
            try db.execute(
                sql: """
                    ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
                    ALTER TABLE api_keys ADD COLUMN concurrency INTEGER;
                    ALTER TABLE upstreams ADD COLUMN pricing TEXT;
                    ALTER TABLE usage ADD COLUMN cost_micros INTEGER NOT NULL DEFAULT 0;

                    CREATE TABLE feedback (
                        id INTEGER PRIMARY KEY,
                        request_id TEXT NOT NULL,
                        tenant_id TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        model_version INTEGER,
                        rating INTEGER NOT NULL,
                        comment TEXT,
                        correction TEXT,
                        at_ms INTEGER NOT NULL
                    ) STRICT;
                    CREATE INDEX feedback_request ON feedback(request_id);
                    CREATE INDEX feedback_tenant_model ON feedback(tenant_id, model);

                    CREATE TABLE interactions (
                        request_id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        model_version INTEGER,
                        at_ms INTEGER NOT NULL,
                        messages TEXT NOT NULL,
                        answer TEXT NOT NULL,
                        expires_at_ms INTEGER NOT NULL
                    ) STRICT;
                    CREATE INDEX interactions_expiry ON interactions(expires_at_ms);
                    CREATE INDEX interactions_model ON interactions(tenant_id, model);

                    -- Daily roll-ups of usage, kept up to date as rows are written, so analytics over a month
                    -- read thousands of rows instead of millions. model_version -1 stands for none.
                    CREATE TABLE usage_daily (
                        day TEXT NOT NULL,
                        tenant_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        model_version INTEGER NOT NULL,
                        key_id TEXT NOT NULL,
                        requests INTEGER NOT NULL,
                        errors INTEGER NOT NULL,
                        prompt_tokens INTEGER NOT NULL,
                        completion_tokens INTEGER NOT NULL,
                        cost_micros INTEGER NOT NULL,
                        positive INTEGER NOT NULL,
                        negative INTEGER NOT NULL,
                        latency_hist BLOB NOT NULL,
                        ttft_hist BLOB NOT NULL,
                        PRIMARY KEY (day, tenant_id, model, model_version, key_id)
                    ) STRICT, WITHOUT ROWID;

                    CREATE TABLE usage_daily_users (
                        day TEXT NOT NULL,
                        tenant_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        model_version INTEGER NOT NULL,
                        key_id TEXT NOT NULL,
                        end_user TEXT NOT NULL,
                        requests INTEGER NOT NULL,
                        errors INTEGER NOT NULL,
                        prompt_tokens INTEGER NOT NULL,
                        completion_tokens INTEGER NOT NULL,
                        cost_micros INTEGER NOT NULL,
                        positive INTEGER NOT NULL,
                        negative INTEGER NOT NULL,
                        PRIMARY KEY (day, tenant_id, model, model_version, key_id, end_user)
                    ) STRICT, WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v5-knowledge-terms") { db in
            // Keyword terms namespaced by knowledge base (`<kb token>x<term>`) in one FTS5 column: a search
            // reads only its own knowledge base's posting lists (no intersection with a per-knowledge-base
            // token that every chunk carries), and fts5vocab gives each term's document frequency within its
            // knowledge base, so very common terms can be left out of a query (see keywordSearch).
            try db.execute(
                sql: """
                    CREATE VIRTUAL TABLE chunk_terms USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
                    CREATE VIRTUAL TABLE chunk_terms_vocab USING fts5vocab(chunk_terms, row);
                    """)
            let insert = try db.makeStatement(sql: "INSERT INTO chunk_terms(rowid, terms) VALUES (?, ?)")
            let rows = try Row.fetchCursor(db, sql: "SELECT rowid, kb, terms FROM chunks_fts")
            while let row = try rows.next() {
                let rowid: Int64 = row[0]
                let kb: String = row[1]
                let terms: String = row[2]
                let prefixed = terms.split(separator: " ").map { kb + "x" + $0 }.joined(separator: " ")
                try insert.execute(arguments: [rowid, prefixed])
            }
            try db.execute(sql: "DROP TABLE chunks_fts")
        }
        migrator.registerMigration("v6-usage-users-by-model") { db in
            // Distinct end users per model and day (the report operators open most) from a covering index
            // scan instead of sorting every user row of the period.
            try db.execute(sql: "CREATE INDEX usage_daily_users_model ON usage_daily_users(day, model, end_user)")
        }
        migrator.registerMigration("v7-usage-user-sets") { db in
            // Each daily roll-up row carries its end users as a set of hashes (UserSet), so a report counts
            // distinct users from the daily rows alone; filled here from the per-user roll-up.
            try db.execute(sql: "ALTER TABLE usage_daily ADD COLUMN users BLOB")
            let update = try db.makeStatement(
                sql: "UPDATE usage_daily SET users = ? WHERE day = ? AND tenant_id = ? AND model = ? AND model_version = ? AND key_id = ?")
            let rows = try Row.fetchCursor(
                db,
                sql:
                    "SELECT day, tenant_id, model, model_version, key_id, end_user FROM usage_daily_users ORDER BY day, tenant_id, model, model_version, key_id"
            )
            var current: [DatabaseValue] = []
            var users = Set<UInt64>()
            func flush() throws {
                guard !current.isEmpty else { return }
                try update.execute(arguments: StatementArguments([Data(UserSet.encode(users)).databaseValue] + current))
            }
            while let row = try rows.next() {
                let key: [DatabaseValue] = (0..<5).map { row[$0] as DatabaseValue }
                if key != current {
                    try flush()
                    current = key
                    users = []
                }
                users.insert(UserSet.hash(row[5]))
            }
            try flush()
            try db.execute(sql: "DROP INDEX IF EXISTS usage_daily_users_model")
        }
        migrator.registerMigration("v8-usage-by-model") { db in
            // The daily roll-ups without the key: what a report reads when it neither groups by key nor by end
            // user (by model and day, by tenant, by version), a tenth of usage_daily's rows. Filled from
            // usage_daily with the store's own aggregates (user sets united, histograms merged).
            try db.execute(
                sql: """
                    CREATE TABLE usage_daily_models (
                        day TEXT NOT NULL,
                        tenant_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        model_version INTEGER NOT NULL,
                        requests INTEGER NOT NULL,
                        errors INTEGER NOT NULL,
                        prompt_tokens INTEGER NOT NULL,
                        completion_tokens INTEGER NOT NULL,
                        cost_micros INTEGER NOT NULL,
                        positive INTEGER NOT NULL,
                        negative INTEGER NOT NULL,
                        latency_hist BLOB NOT NULL,
                        ttft_hist BLOB NOT NULL,
                        users BLOB NOT NULL,
                        PRIMARY KEY (day, tenant_id, model, model_version)
                    ) STRICT, WITHOUT ROWID;
                    INSERT INTO usage_daily_models
                    SELECT day, tenant_id, model, model_version, SUM(requests), SUM(errors), SUM(prompt_tokens), SUM(completion_tokens),
                        SUM(cost_micros), SUM(positive), SUM(negative), trellis_hist_merge(latency_hist), trellis_hist_merge(ttft_hist),
                        trellis_users_union(users)
                    FROM usage_daily GROUP BY day, tenant_id, model, model_version;
                    """)
        }
        migrator.registerMigration("v9-responses") { db in
            // Responses of the Responses API kept for their tenant (`store: true`) until they expire.
            try db.execute(
                sql: """
                    CREATE TABLE responses (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        created_at_ms INTEGER NOT NULL,
                        expires_at_ms INTEGER NOT NULL,
                        response TEXT NOT NULL,
                        conversation TEXT NOT NULL
                    ) STRICT;
                    CREATE INDEX responses_expiry ON responses(expires_at_ms);
                    """)
        }
        migrator.registerMigration("v10-routing") { db in
            // A router model's requests: the child that answered, and what the router's default would have cost.
            try db.execute(
                sql: """
                    ALTER TABLE usage ADD COLUMN routed_to TEXT;
                    ALTER TABLE usage ADD COLUMN baseline_cost_micros INTEGER;
                    """)
        }
        migrator.registerMigration("v11-evaluation") { db in
            // Evaluation sets (versions of their items, per tenant or shared), runs and their results.
            try db.execute(
                sql: """
                    CREATE TABLE eval_sets (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT,
                        name TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        items TEXT NOT NULL,
                        item_count INTEGER NOT NULL,
                        created_at_ms INTEGER NOT NULL,
                        created_by TEXT NOT NULL
                    ) STRICT;
                    CREATE UNIQUE INDEX eval_sets_name ON eval_sets(COALESCE(tenant_id, ''), name, version);
                    CREATE TABLE eval_runs (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL,
                        key_id TEXT NOT NULL,
                        set_id TEXT NOT NULL,
                        set_name TEXT NOT NULL,
                        set_version INTEGER NOT NULL,
                        models TEXT NOT NULL,
                        scorers TEXT NOT NULL,
                        concurrency INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        error TEXT,
                        total INTEGER NOT NULL,
                        created_at_ms INTEGER NOT NULL,
                        finished_at_ms INTEGER,
                        created_by TEXT NOT NULL,
                        heartbeat_ms INTEGER NOT NULL,
                        owner TEXT NOT NULL,
                        summary TEXT
                    ) STRICT;
                    CREATE INDEX eval_runs_tenant ON eval_runs(tenant_id, created_at_ms);
                    CREATE INDEX eval_runs_status ON eval_runs(status);
                    CREATE TABLE eval_results (
                        run_id TEXT NOT NULL,
                        item INTEGER NOT NULL,
                        model TEXT NOT NULL,
                        answer TEXT,
                        error TEXT,
                        scores TEXT NOT NULL,
                        passed INTEGER NOT NULL,
                        score REAL,
                        latency_ms REAL NOT NULL,
                        prompt_tokens INTEGER NOT NULL,
                        completion_tokens INTEGER NOT NULL,
                        cost_micros INTEGER NOT NULL,
                        PRIMARY KEY (run_id, item, model)
                    ) STRICT;
                    """)
        }
    }
}
