#!/usr/bin/env bash
# `trellis store copy` end to end: the demo's SQLite database (scripts/demo.sh, run in a scratch data
# directory) copied to a new PostgreSQL database with the release binary, then the demo's own curl lines
# run against a gateway serving the copy (no catalog directory: everything it serves came through the copy).
# Also checks that copying into the now non-empty database is refused, and that the copy moves back to a
# new SQLite file with matching row counts.
#
#   TRELLIS_TEST_POSTGRES_URL=postgres://user:pw@127.0.0.1:5432/postgres scripts/store-copy-check.sh
#
# Environment: TRELLIS_TEST_POSTGRES_URL (a cluster's URL; a scratch database is created in it and dropped
# at the end, with psql), TRELLIS_BIN (default .build/release/trellis, built by demo.sh when missing or stale).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
say() { printf '[store-copy] %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

CLUSTER="${TRELLIS_TEST_POSTGRES_URL:-}"
[[ -n "$CLUSTER" ]] || fail "TRELLIS_TEST_POSTGRES_URL is not set (scripts/postgres.sh start DIR prints one)"
command -v psql >/dev/null || fail "psql is needed to create the scratch database"
BIN="${TRELLIS_BIN:-$REPO/.build/release/trellis}"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
MODEL_PORT="$(free_port)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-store-copy.XXXXXX")"
DATA="$WORK/data"
DB="store_copy_$$_$(date +%s)"
# The cluster's URL with the scratch database's name instead of its own.
TARGET="$(printf '%s' "$CLUSTER" | sed -E "s#^(postgres(ql)?://[^/]+)/[^?]*#\1/$DB#")"

DEMO="" GATEWAY=""
cleanup() {
  [[ -n "$DEMO" ]] && { kill -TERM "$DEMO" 2>/dev/null || true; wait "$DEMO" 2>/dev/null || true; }
  [[ -n "$GATEWAY" ]] && { kill -TERM "$GATEWAY" 2>/dev/null || true; wait "$GATEWAY" 2>/dev/null || true; }
  scripts/model-server.sh --stop --port "$MODEL_PORT" >/dev/null 2>&1 || true
  psql "$CLUSTER" -qc "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

say "1. the demo on SQLite (data in $DATA, gateway port $PORT, model port $MODEL_PORT)"
TRELLIS_PORT="$PORT" TRELLIS_MODEL_PORT="$MODEL_PORT" TRELLIS_DATA_DIR="$DATA" scripts/demo.sh >"$WORK/demo.out" 2>"$WORK/demo.log" &
DEMO=$!
for _ in $(seq 1 3600); do
  grep -q "Stop with Ctrl-C" "$WORK/demo.out" 2>/dev/null && break
  kill -0 "$DEMO" 2>/dev/null || { tail -20 "$WORK/demo.log" >&2; fail "the demo stopped before it was ready"; }
  sleep 1
done
grep -q "Stop with Ctrl-C" "$WORK/demo.out" || fail "the demo was not ready within an hour"
# The demo's curl lines, as it printed them (a line starting with curl and its continuation lines).
awk '/^ *curl /{cmd=$0; while (cmd ~ /\\$/ && (getline line) > 0) cmd = substr(cmd, 1, length(cmd)-1) line; print cmd}' "$WORK/demo.out" \
  | sed -E 's/^ +//; s/ +/ /g' >"$WORK/curl-lines"
[[ -s "$WORK/curl-lines" ]] || fail "no curl lines in the demo's output"
say "   the demo is ready with $(wc -l <"$WORK/curl-lines") curl lines; stopping it (the SQLite file stays)"
kill -TERM "$DEMO"
wait "$DEMO" 2>/dev/null || true
DEMO=""

say "2. trellis store copy to $DB"
psql "$CLUSTER" -qc "CREATE DATABASE $DB" >/dev/null
"$BIN" store copy --from "sqlite://$DATA/trellis.sqlite" --to "$TARGET" | tee "$WORK/copy.out"
grep -q "every row count matches" "$WORK/copy.out" || fail "the row counts differ"

say "3. copying again into the copy is refused"
set +e
"$BIN" store copy --from "sqlite://$DATA/trellis.sqlite" --to "$TARGET" >"$WORK/again.out" 2>&1
status=$?
set -e
cat "$WORK/again.out"
[[ $status == 2 ]] || fail "a second copy into the same database exited $status, not 2"

say "4. a gateway on the copy (no catalog directory), the demo's curl lines"
scripts/model-server.sh --background --port "$MODEL_PORT" >/dev/null
mkdir -p "$WORK/gateway"
env -u TRELLIS_ADMIN_KEY -u TRELLIS_CATALOG_DIR TRELLIS_ADMIN_KEY_FILE="$DATA/admin.key" TRELLIS_STORE_URL="$TARGET" \
  "$BIN" serve --port "$PORT" --data-dir "$WORK/gateway" 2>"$WORK/gateway.log" &
GATEWAY=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$GATEWAY" 2>/dev/null || { tail -20 "$WORK/gateway.log" >&2; fail "the gateway on the copy did not start"; }
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || fail "the gateway on the copy is not ready"
failures=0
while IFS= read -r line; do
  # The line as printed, with curl told to write the body to a file and print the status.
  command="curl -sS -o '$WORK/body' -w '%{http_code}' ${line#curl }"
  code="$(eval "$command" || true)"
  body="$(head -c 160 "$WORK/body" 2>/dev/null | tr '\n' ' ')"
  request="$(printf '%s' "$line" | grep -oE '"model":"[^"]*"|/knowledge-bases/[^ ]*|/mcp' | head -1 || true)"
  printf '  %s %s: %s…\n' "$code" "$request" "$body"
  [[ "$code" == 200 ]] || failures=$((failures + 1))
done <"$WORK/curl-lines"
[[ $failures == 0 ]] || { tail -20 "$WORK/gateway.log" >&2; fail "$failures of the demo's curl lines did not answer 200 on the copy"; }
kill -TERM "$GATEWAY"
wait "$GATEWAY" 2>/dev/null || true
GATEWAY=""

say "5. and back to a new SQLite file"
"$BIN" store copy --from "$TARGET" --to "sqlite://$WORK/back/trellis.sqlite" | tail -1
say "all checks passed"
