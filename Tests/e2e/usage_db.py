"""Reads the gateway's usage rows straight from its store: the SQLite file in its data dir, or its
PostgreSQL database (TRELLIS_E2E_STORE_URL, read with Debian's psql).

The gateway buffers usage events in memory and writes them in batches (at least once a
second), so callers poll with a deadline (wait_for_usage) instead of sleeping.

Assumed schema (table `usage` in <data-dir>/trellis.sqlite, or in the database). Each logical field below
lists the column names tried, first match wins; adjust USAGE_COLUMNS if the store names
them differently. Only `tenant` and `model` are required; tests that need another field
fail with the actual column list when it is missing.

  request_id         the answer's x-request-id
  tenant             tenant name, or tenant id (matched against POST /tenants' "id";
                     an id is also mapped back to a name through the `tenants` table)
  model              industry model name (or id, mapped through the `models` table)
  version            model version number
  end_user           the request's `user` field
  prompt_tokens, completion_tokens
  estimated          1 when the token counts were estimated by the gateway because the
                     upstream sent no usage (llama.cpp streams never do), else 0
  status             HTTP status of the answer (200 for success)
"""

from __future__ import annotations

import glob
import json
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

USAGE_TABLE = "usage"

USAGE_COLUMNS: dict[str, tuple[str, ...]] = {
    "request_id": ("request_id", "req_id"),
    "tenant": ("tenant", "tenant_name", "tenant_id"),
    "model": ("model", "model_name", "model_id"),
    "version": ("version", "model_version"),
    "end_user": ("end_user", "user", "end_user_id", "user_id"),
    "prompt_tokens": ("prompt_tokens", "input_tokens"),
    "completion_tokens": ("completion_tokens", "output_tokens"),
    "estimated": ("estimated", "tokens_estimated", "usage_estimated", "is_estimated"),
    "status": ("status", "status_code", "http_status"),
}
REQUIRED = ("tenant", "model")


class UsageSchemaError(AssertionError):
    pass


class StoreReadError(Exception):
    """The store could not be read this time (a locked file, a refused connection): worth polling again."""


# --------------------------------------------------------------------------- PostgreSQL through psql


def is_postgres(store: str | Path) -> bool:
    return str(store).startswith(("postgres://", "postgresql://"))


def without_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2 and ":" in netloc[0]:
        return urlunsplit(parts._replace(netloc=netloc[0].split(":", 1)[0] + ":***@" + netloc[1]))
    return url


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), reverse=True)), None)
    if not found:
        raise UsageSchemaError("psql not found: the PostgreSQL run needs Debian's postgresql (scripts/postgres.sh installs it)")
    return found


def psql(url: str, sql: str) -> str:
    """Runs one statement with psql; its unaligned, tuples-only output."""
    done = subprocess.run(
        [_psql(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        raise StoreReadError(f"psql on {without_password(url)}: {done.stderr.strip()}")
    return done.stdout


def create_database(cluster_url: str, name: str) -> str:
    """Creates an empty database in the cluster; returns its URL."""
    psql(cluster_url, f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(cluster_url)._replace(path="/" + name))


class _Postgres:
    def __init__(self, url: str) -> None:
        self.url = url

    def columns(self, table: str) -> list[str]:
        out = psql(
            self.url,
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position",
        )
        return [line for line in out.splitlines() if line]

    def rows(self, sql: str) -> list[dict[str, Any]]:
        out = psql(self.url, f"SELECT COALESCE(json_agg(t), '[]'::json) FROM ({sql}) t").strip()
        return json.loads(out or "[]")

    def tables(self) -> list[str]:
        return [r["table_name"] for r in self.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")]

    def integrity(self) -> str:
        return "ok"  # the server's own business; it answered

    def close(self) -> None:
        pass


class _SQLite:
    def __init__(self, path: Path) -> None:
        if not Path(path).exists():
            raise UsageSchemaError(f"no database at {path}")
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error as e:
            raise StoreReadError(str(e)) from e

    def columns(self, table: str) -> list[str]:
        return [row[1] for row in self._run(f'PRAGMA table_info("{table}")')]

    def rows(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.conn.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, raw)) for raw in cursor]

    def tables(self) -> list[str]:
        return [r[0] for r in self._run("SELECT name FROM sqlite_master WHERE type='table'")]

    def integrity(self) -> str:
        return self._run("PRAGMA integrity_check")[0][0]

    def _run(self, sql: str) -> list[tuple]:
        try:
            return list(self.conn.execute(sql))
        except sqlite3.Error as e:
            raise StoreReadError(str(e)) from e

    def close(self) -> None:
        self.conn.close()


def _open(store: str | Path) -> _Postgres | _SQLite:
    return _Postgres(str(store)) if is_postgres(store) else _SQLite(Path(store))


def _id_to_name(conn: _Postgres | _SQLite, table: str) -> dict[str, str]:
    cols = conn.columns(table)
    if "id" not in cols or "name" not in cols:
        return {}
    return {str(r["id"]): r["name"] for r in conn.rows(f'SELECT id, name FROM "{table}"')}


def request_ids(store: str | Path) -> tuple[str, set[str]]:
    """The store's integrity check ("ok" when sound; SQLite's PRAGMA integrity_check) and the request ids of
    its usage rows."""
    conn = _open(store)
    try:
        return conn.integrity(), {r["request_id"] for r in conn.rows(f'SELECT request_id FROM "{USAGE_TABLE}"')}
    finally:
        conn.close()


def read_usage(store: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """All usage rows as dicts keyed by the logical names above (plus `_raw`, the row as
    stored), and the table's actual column names. `store` is the SQLite file or the database URL."""
    db_path = without_password(store) if is_postgres(store) else store
    conn = _open(store)
    try:
        cols = conn.columns(USAGE_TABLE)
        if not cols:
            raise UsageSchemaError(f"no table {USAGE_TABLE!r} in {db_path}; tables: {conn.tables()}")
        mapping = {logical: next((c for c in names if c in cols), None) for logical, names in USAGE_COLUMNS.items()}
        missing = [k for k in REQUIRED if mapping[k] is None]
        if missing:
            raise UsageSchemaError(f"usage table lacks {missing}; its columns are {cols} (see USAGE_COLUMNS)")
        tenant_names = _id_to_name(conn, "tenants") if mapping["tenant"].endswith("_id") else {}
        model_names = _id_to_name(conn, "models") if mapping["model"].endswith("_id") else {}
        rows = []
        for stored in conn.rows(f'SELECT * FROM "{USAGE_TABLE}" ORDER BY id'):
            row: dict[str, Any] = {k: stored[c] for k, c in mapping.items() if c is not None}
            row["_raw"] = stored
            if tenant_names:
                row["tenant_name"] = tenant_names.get(str(row["tenant"]))
            if model_names:
                row["model_name"] = model_names.get(str(row["model"]))
            rows.append(row)
        return rows, cols
    finally:
        conn.close()


def require(cols: list[str], logical: str) -> None:
    """Fails the calling test with the actual columns when a logical field is not stored."""
    if not any(c in cols for c in USAGE_COLUMNS[logical]):
        raise UsageSchemaError(
            f"usage table has no column for {logical!r} (tried {USAGE_COLUMNS[logical]}); columns: {cols}"
        )


def is_tenant(row: dict[str, Any], name: str, tenant_id: Any = None) -> bool:
    values = {str(row.get("tenant")), str(row.get("tenant_name"))}
    return name in values or (tenant_id is not None and str(tenant_id) in values)


def is_model(row: dict[str, Any], name: str) -> bool:
    return name in {str(row.get("model")), str(row.get("model_name"))}


def wait_for_usage(
    db_path: str | Path,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 15.0,
    what: str = "usage rows",
) -> tuple[list[dict[str, Any]], list[str]]:
    """Polls until done(rows) holds; fails with the rows seen when the deadline passes."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    cols: list[str] = []
    last_error: Exception | None = None
    while True:
        try:
            rows, cols = read_usage(db_path)
            last_error = None
            if done(rows):
                return rows, cols
        except UsageSchemaError:
            raise
        except (sqlite3.Error, StoreReadError) as e:  # the table may not exist for a moment, or be locked
            last_error = e
        if time.monotonic() > deadline:
            shown = "\n".join(repr(r["_raw"]) for r in rows[-20:])
            where = without_password(str(db_path)) if is_postgres(db_path) else db_path
            raise AssertionError(
                f"{what} not in {where} within {timeout:.0f}s "
                f"(last error: {last_error}); columns {cols}; last rows:\n{shown}"
            )
        time.sleep(0.2)
