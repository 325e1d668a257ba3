#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this), on both store engines:
#   0. a throwaway PostgreSQL cluster (scripts/postgres.sh: Debian's postgresql, installed when missing,
#      run as an unprivileged user on a free port of 127.0.0.1), removed at the end; if it cannot start,
#      the run fails here (nothing is skipped);
#   1. unit and integration tests (swift test: real SQLite files, real sockets on 127.0.0.1 port 0,
#      a Swift mock upstream that fails on purpose); the store's cases run on SQLite and on PostgreSQL
#      (StoreEngines.all), each on a fresh database of that cluster;
#   2. the gateway's integration tests (TrellisServerTests) once more with every gateway on PostgreSQL
#      (TRELLIS_TEST_STORE=postgres; the few cases about SQLite's own files stay on SQLite);
#   3. the release build the container ships (static Swift standard library);
#   4. the end-to-end suite: that release binary in front of a real llama.cpp server, driven by the
#      official openai SDK and langchain-openai, on SQLite and then on PostgreSQL (TRELLIS_E2E_STORE_URL:
#      every gateway of the session on a fresh database of the cluster; the console's browser tests run in
#      the SQLite run only); one model server serves both
#      runs (the first run compiles llama.cpp: ~10 minutes, then pip's cache makes it about a minute);
#   5. `trellis store copy` end to end: the demo's SQLite database copied to PostgreSQL and the demo's curl
#      lines answered by a gateway on the copy (scripts/store-copy-check.sh).
#   6. the cluster end-to-end suite (scripts/e2e-cluster.sh): scripts/cluster.sh's PostgreSQL, three replicas
#      and nginx on 127.0.0.1 with the mock upstream, driven by the openai SDK (propagation, cluster-wide limits,
#      knowledge and usage across replicas, a rolling restart and a kill -9 under traffic); a few minutes.
# A failing test step does not stop the later ones: the run goes on and fails at the end, listing them.
# Arguments are passed to pytest.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf '\n== %s\n' "$*"; }
started=$SECONDS
failed=()
# Runs one test step; a failure is recorded and the run goes on.
run_step() {
  local name="$1" began=$SECONDS
  shift
  step "$name"
  if "$@"; then
    echo "-- $name: passed in $((SECONDS - began)) s"
  else
    echo "-- $name: FAILED (exit $?) in $((SECONDS - began)) s"
    failed+=("$name")
  fi
}

PG_DIR="$(mktemp -u "${TMPDIR:-/tmp}/trellis-test-pg.XXXXXX")"
MODEL_STATE=""
MODEL_PORT=""
cleanup() {
  if [[ -n "$MODEL_PORT" ]]; then
    TRELLIS_STATE_DIR="$MODEL_STATE" "$REPO/scripts/model-server.sh" --stop --port "$MODEL_PORT" >/dev/null 2>&1 || true
    rm -rf "$MODEL_STATE"
  fi
  "$REPO/scripts/postgres.sh" stop "$PG_DIR" || true
}
trap cleanup EXIT

# The integration tests convert real PDFs with poppler's pdftotext (as the gateway does in production);
# installed here when missing and possible, so they run from the first CI run on a fresh machine.
if ! command -v pdftotext >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
  step "installing poppler-utils (pdftotext)"
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils || echo "could not install poppler-utils; the PDF tests will skip" >&2
fi

step "PostgreSQL for the tests (scripts/postgres.sh start $PG_DIR)"
if ! TRELLIS_TEST_POSTGRES_URL="$("$REPO/scripts/postgres.sh" start "$PG_DIR")"; then
  echo "FAILED: PostgreSQL could not start for the tests (see the line above); every test runs on both engines, so the run stops here" >&2
  exit 1
fi
export TRELLIS_TEST_POSTGRES_URL
echo "PostgreSQL $(cat "$PG_DIR/data/PG_VERSION") on 127.0.0.1:$(cat "$PG_DIR/port")"

step "build (swift build --build-tests)"
swift build --build-tests

# At most 8 cases at a time here too: the store suites create a database and migrate it for every PostgreSQL case,
# and all of them at once on two cores pushed migrations and lease syncs past their deadlines.
run_step "unit and integration tests, store cases on SQLite and PostgreSQL (swift test)" \
  env SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${TRELLIS_TEST_WIDTH:-8}" swift test --skip-build
# At most 8 cases at a time: every case starts a gateway on a new database (CREATE DATABASE, the migrations), and
# ~250 of them at once on two cores push store operations past their deadline (503 store_unavailable); 8 keep
# this pass near a minute. StoreOutageTests and StoreTLSTests pick their own store (private clusters), and the
# replica suites (PropagationTests, ClusterLimitTests, AdminFreshnessTests) put their gateways on a database of the
# test cluster whatever TRELLIS_TEST_STORE says, so the first pass has run them already.
run_step "the gateway's integration tests on PostgreSQL (TRELLIS_TEST_STORE=postgres swift test --filter TrellisServerTests)" \
  env TRELLIS_TEST_STORE=postgres SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${TRELLIS_TEST_PG_WIDTH:-8}" \
  swift test --skip-build --filter TrellisServerTests --skip "StoreOutageTests|StoreTLSTests|PropagationTests|ClusterLimitTests|AdminFreshnessTests"

step "release build (as in docker/Dockerfile)"
swift build -c release --static-swift-stdlib --product trellis

# One model server for both end-to-end runs (unless TRELLIS_E2E_MODEL_URL names one already running), from a
# venv of its own with only scripts/requirements-model-server.txt (what docker/model-server.Dockerfile installs),
# so this run proves that list is enough: scripts/model-env.sh --server prepares it (pip's cache keeps the llama.cpp
# wheel) and the LoRA adapter first.
if [[ -z "${TRELLIS_E2E_MODEL_URL:-}" ]]; then
  step "model server for the end-to-end runs (scripts/model-server.sh --background)"
  MODEL_VENV="${TRELLIS_MODEL_VENV:-$REPO/.build/model-server-venv}"
  TRELLIS_VENV="$MODEL_VENV" "$REPO/scripts/model-env.sh" --server
  MODEL_STATE="$(mktemp -d "${TMPDIR:-/tmp}/trellis-test-model.XXXXXX")"
  MODEL_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  TRELLIS_VENV="$MODEL_VENV" TRELLIS_STATE_DIR="$MODEL_STATE" "$REPO/scripts/model-server.sh" --background --port "$MODEL_PORT"
  export TRELLIS_E2E_MODEL_URL="http://127.0.0.1:$MODEL_PORT/v1"
fi

run_step "end-to-end suite on SQLite (llama.cpp + openai SDK + langchain-openai)" \
  env TRELLIS_BIN="$REPO/.build/release/trellis" "$REPO/scripts/e2e.sh" "$@"
# The console's browser tests run once, in the SQLite run: the console reads the same HTTP API on either engine,
# and the API's answers on PostgreSQL are what the rest of this run checks. That keeps CI within its time.
run_step "end-to-end suite on PostgreSQL (TRELLIS_E2E_STORE_URL; the browser tests ran on SQLite)" \
  env TRELLIS_BIN="$REPO/.build/release/trellis" TRELLIS_E2E_STORE_URL="$TRELLIS_TEST_POSTGRES_URL" TRELLIS_E2E_BROWSER=0 \
  "$REPO/scripts/e2e.sh" "$@"
run_step "trellis store copy: the demo's database moved to PostgreSQL, its curl lines answered there (scripts/store-copy-check.sh)" \
  env TRELLIS_BIN="$REPO/.build/release/trellis" "$REPO/scripts/store-copy-check.sh"
run_step "cluster end-to-end suite: PostgreSQL, three replicas and nginx (scripts/e2e-cluster.sh)" \
  env TRELLIS_BIN="$REPO/.build/release/trellis" "$REPO/scripts/e2e-cluster.sh"

if ((${#failed[@]})); then
  step "FAILED after $((SECONDS - started)) s:"
  printf '   %s\n' "${failed[@]}"
  exit 1
fi
step "all tests passed in $((SECONDS - started)) s"
