"""Reads the gateway's usage rows straight from its SQLite file.

The gateway buffers usage events in memory and writes them in batches (at least once a
second), so callers poll with a deadline (wait_for_usage) instead of sleeping.

Assumed schema (table `usage` in <data-dir>/trellis.sqlite). Each logical field below
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

import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

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


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _id_to_name(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    cols = _columns(conn, table)
    if "id" not in cols or "name" not in cols:
        return {}
    return {str(i): n for i, n in conn.execute(f'SELECT id, name FROM "{table}"')}


def read_usage(db_path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """All usage rows as dicts keyed by the logical names above (plus `_raw`, the row as
    stored), and the table's actual column names."""
    if not Path(db_path).exists():
        raise UsageSchemaError(f"no database at {db_path}")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        cols = _columns(conn, USAGE_TABLE)
        if not cols:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            raise UsageSchemaError(f"no table {USAGE_TABLE!r} in {db_path}; tables: {tables}")
        mapping = {logical: next((c for c in names if c in cols), None) for logical, names in USAGE_COLUMNS.items()}
        missing = [k for k in REQUIRED if mapping[k] is None]
        if missing:
            raise UsageSchemaError(f"usage table lacks {missing}; its columns are {cols} (see USAGE_COLUMNS)")
        tenant_names = _id_to_name(conn, "tenants") if mapping["tenant"].endswith("_id") else {}
        model_names = _id_to_name(conn, "models") if mapping["model"].endswith("_id") else {}
        rows = []
        for raw in conn.execute(f'SELECT * FROM "{USAGE_TABLE}"'):
            stored = dict(zip(cols, raw))
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
    db_path: Path,
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
        except sqlite3.Error as e:  # the table may not exist for a moment, or be locked
            last_error = e
        if time.monotonic() > deadline:
            shown = "\n".join(repr(r["_raw"]) for r in rows[-20:])
            raise AssertionError(
                f"{what} not in {db_path} within {timeout:.0f}s "
                f"(last error: {last_error}); columns {cols}; last rows:\n{shown}"
            )
        time.sleep(0.2)
