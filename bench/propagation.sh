#!/usr/bin/env bash
# Propagation between replicas: how long after a key's revocation is answered by replica A does replica B refuse
# that key (401)? Starts a throwaway PostgreSQL cluster (scripts/postgres.sh, under /tmp) and two `trellis serve`
# processes on it, then N times: issue a key through A, wait until B accepts it, revoke it through A, and poll B
# as fast as one keep-alive connection allows until it answers 401. Prints p50 / p95 / max in milliseconds, once
# with LISTEN/NOTIFY (catalog.listen on, the default) and once with it off (the periodic check alone, every
# catalog.refresh_interval_ms). Not a test: figures depend on the machine.
#
#   bench/propagation.sh
#   PROP_N=100 PROP_REFRESH_MS=2000 bench/propagation.sh
#
# Settings (environment):
#   PROP_N=50                 revocations measured per mode
#   PROP_REFRESH_MS=2000      catalog.refresh_interval_ms of both replicas (the default)
#   PROP_MODES="listen poll"  which modes to run (listen: catalog.listen=true; poll: catalog.listen=false)
#   PROP_BUILD=release        release or debug: which `trellis` binary (built when missing; PROP_SKIP_BUILD=1
#                             to use what is there)
#
# Needs: swift, python3, curl; scripts/postgres.sh installs PostgreSQL when missing.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${PROP_N:-50}"
REFRESH_MS="${PROP_REFRESH_MS:-2000}"
read -r -a MODES <<<"${PROP_MODES:-listen poll}"
BUILD="${PROP_BUILD:-release}"

log() { printf '%s\n' "$*" >&2; }
die() {
    log "propagation: $*"
    exit 1
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-prop.XXXXXX")"
PG_DIR="$(mktemp -d -u "${TMPDIR:-/tmp}/trellis-prop-pg.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ -d "$PG_DIR" ]]; then "$REPO/scripts/postgres.sh" stop "$PG_DIR" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$REPO"
if [[ "$BUILD" == release ]]; then
    # The same flags as the release build in README.md, docker/ and bench/run.sh, so the build cache is shared.
    FLAGS=(-c release --static-swift-stdlib)
else
    FLAGS=()
fi
if [[ "${PROP_SKIP_BUILD:-0}" != 1 ]]; then
    log "building trellis ($BUILD)…"
    swift build "${FLAGS[@]}" --product trellis >&2
fi
TRELLIS="$(swift build "${FLAGS[@]}" --show-bin-path)/trellis"
[[ -x "$TRELLIS" ]] || die "no trellis binary at $TRELLIS"

log "starting PostgreSQL in $PG_DIR…"
# The URL holds the cluster's password: kept in a variable, never printed.
STORE_URL="$("$REPO/scripts/postgres.sh" start "$PG_DIR")" || die "PostgreSQL did not start"
ADMIN_KEY="prop-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_replica NAME LISTEN → prints the port; the process's pid goes into PIDS (its log in $WORK/NAME.log).
start_replica() {
    local name=$1 listen=$2 port
    port="$(free_port)"
    mkdir -p "$WORK/$name"
    (
        # Only what this script sets: no TRELLIS_* from the caller's environment leaks in.
        while IFS= read -r variable; do
            if [[ $variable == TRELLIS_* ]]; then unset "$variable"; fi
        done < <(compgen -e)
        export TRELLIS_ADMIN_KEY="$ADMIN_KEY" TRELLIS_STORE_URL="$STORE_URL" TRELLIS_LOG_LEVEL=warning
        export TRELLIS_CATALOG_LISTEN="$listen" TRELLIS_CATALOG_REFRESH_INTERVAL_MS="$REFRESH_MS"
        exec "$TRELLIS" serve --host 127.0.0.1 --port "$port" --data-dir "$WORK/$name"
    ) >"$WORK/$name.log" 2>&1 &
    PIDS+=("$!")
    LAST_PID=$!
    LAST_PORT=$port
}

wait_ready() { # wait_ready PORT PID
    local deadline=$((SECONDS + 90))
    until curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; do
        kill -0 "$2" 2>/dev/null || die "a replica exited: $(tail -5 "$WORK"/*.log)"
        ((SECONDS < deadline)) || die "a replica did not become ready"
        sleep 0.1
    done
}

stop_replica() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

MEASURE="$(
    cat <<'PY'
import http.client, json, math, os, random, statistics, sys, time

a_port, b_port, n, mode, refresh_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
admin_key = os.environ["PROP_ADMIN_KEY"]
a = http.client.HTTPConnection("127.0.0.1", a_port, timeout=30)
b = http.client.HTTPConnection("127.0.0.1", b_port, timeout=30)

def call(conn, method, path, key, body=None):
    headers = {"Authorization": "Bearer " + key}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()

tenant = "prop-" + mode
status, _ = call(a, "POST", "/admin/v1/tenants", admin_key, {"name": tenant})
assert status in (201, 409), status
samples = []
for i in range(n):
    status, body = call(a, "POST", "/admin/v1/tenants/%s/keys" % tenant, admin_key, {"name": "k%d" % i})
    assert status == 201, (status, body)
    issued = json.loads(body)
    deadline = time.monotonic() + 60
    while call(b, "GET", "/v1/models", issued["key"])[0] != 200:
        assert time.monotonic() < deadline, "B never accepted a new key"
        time.sleep(0.005)
    # B just picked the key up, perhaps on a periodic check: revoke at a random point of the next interval,
    # so that the periodic check's phase is not always the same.
    time.sleep(random.uniform(0, refresh_ms / 1000))
    status, body = call(a, "DELETE", "/admin/v1/keys/" + issued["id"], admin_key)
    assert status == 200, (status, body)
    answered = time.monotonic()
    polls = 0
    while True:
        status, _ = call(b, "GET", "/v1/models", issued["key"])
        polls += 1
        if status == 401:
            break
        assert status == 200, status
        assert time.monotonic() - answered < 60, "B kept accepting a revoked key for a minute"
    samples.append((time.monotonic() - answered) * 1000)

samples.sort()
def pct(p):  # nearest rank
    return samples[max(0, math.ceil(p / 100 * len(samples)) - 1)]
print("%-7s n=%d  p50 %.1f ms  p95 %.1f ms  max %.1f ms  (mean %.1f ms)" % (
    mode, len(samples), pct(50), pct(95), samples[-1], statistics.mean(samples)))
PY
)"

log "trellis: $TRELLIS; $N revocations per mode; catalog.refresh_interval_ms=$REFRESH_MS"
for mode in "${MODES[@]}"; do
    case $mode in
        listen) listen=true ;;
        poll) listen=false ;;
        *) die "unknown mode '$mode' (listen or poll)" ;;
    esac
    start_replica "a-$mode" "$listen"
    a_pid=$LAST_PID a_port=$LAST_PORT
    start_replica "b-$mode" "$listen"
    b_pid=$LAST_PID b_port=$LAST_PORT
    wait_ready "$a_port" "$a_pid"
    wait_ready "$b_port" "$b_pid"
    PROP_ADMIN_KEY="$ADMIN_KEY" python3 -c "$MEASURE" "$a_port" "$b_port" "$N" "$mode" "$REFRESH_MS"
    stop_replica "$a_pid"
    stop_replica "$b_pid"
done
