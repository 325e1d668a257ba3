#!/usr/bin/env bash
# The cost of cluster-wide limits, and of three replicas behind nginx: scripts/cluster.sh starts PostgreSQL, three
# `trellis serve` replicas (release build) and nginx in front of the canned upstream (trellis-bench-upstream); wrk
# sends the same non-streaming chat completion
#   - straight to replica 1 (one replica), and through nginx to all three,
#   - with a key that has no limit, and with a key whose rpm limit is so high it never refuses (so every request
#     takes from the key's bucket, which on a cluster is shared through PostgreSQL),
# and prints, per case: requests/s, p50 and p99 (wrk), the gateway's CPU per request (all replicas together), and
# nginx's and PostgreSQL's CPU per request. A benchmark, not a test: nothing fails on the figures.
#
#   bench/cluster.sh
#   BENCH_DURATION=20s BENCH_ROUNDS=3 bench/cluster.sh
#
# Settings (environment), besides bench/run.sh's BENCH_PIN, BENCH_GATEWAY_CPUS, BENCH_LOAD_CPUS, BENCH_SKIP_BUILD,
# BENCH_BUILD_FLAGS, BENCH_WRK_THREADS:
#   BENCH_DURATION=10s        length of each measured run (wrk -d)
#   BENCH_WARMUP=2s           unmeasured run before each measured one
#   BENCH_CONNECTIONS=16      wrk connections
#   BENCH_ROUNDS=1            each case is measured this many times, the cases taken in turn (less drift)
#   BENCH_LIMIT_RPM=100000000 the "limited" key's rpm
#   BENCH_TRELLIS_ENV=        extra settings for every replica, "NAME=VALUE …" (e.g. TRELLIS_LIMITS_SYNC_INTERVAL_MS=0
#                             for per-process limits, to set against the cluster-wide ones)
# Pinning (default when there are two CPUs or more): the replicas on BENCH_GATEWAY_CPUS (one event loop each),
# everything else (wrk, the upstream, nginx, PostgreSQL) on BENCH_LOAD_CPUS.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LUA="$REPO/bench/post.lua"
DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
CONNS="${BENCH_CONNECTIONS:-16}"
ROUNDS="${BENCH_ROUNDS:-1}"
LIMIT_RPM="${BENCH_LIMIT_RPM:-100000000}"
WRK_THREADS="${BENCH_WRK_THREADS:-2}"

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
apt_install wrk wrk
setup_pinning
build_release

CLUSTER_DIR="$(mktemp -u "${TMPDIR:-/tmp}/trellis-bench-cluster.XXXXXX")"
bench_cleanup() {
    "$REPO/scripts/cluster.sh" stop "$CLUSTER_DIR" >/dev/null 2>&1 || true
    cleanup
}
trap bench_cleanup EXIT

start_upstream 16 1

# The replicas run pinned, one event loop each, through a wrapper that scripts/cluster.sh runs as the gateway.
cat >"$WORK/trellis-pinned" <<EOF
#!/bin/sh
exec ${GATEWAY_RUN[*]} "$TRELLIS" "\$@"
EOF
chmod +x "$WORK/trellis-pinned"
if [[ -n "$GATEWAY_LOOPS" ]]; then export NIO_SINGLETON_GROUP_LOOP_COUNT="$GATEWAY_LOOPS"; fi
log "starting the cluster (scripts/cluster.sh start $CLUSTER_DIR)"
TRELLIS_BIN="$WORK/trellis-pinned" TRELLIS_CLUSTER_UPSTREAM="$UPSTREAM_URL/v1" TRELLIS_CLUSTER_CATALOG=0 \
    TRELLIS_CLUSTER_ENV="TRELLIS_LOG_LEVEL=warning TRELLIS_UPSTREAM_HEALTH_CHECK_INTERVAL_MS=0 ${BENCH_TRELLIS_ENV:-}" \
    "${LOAD_RUN[@]}" "$REPO/scripts/cluster.sh" start "$CLUSTER_DIR" >&2
unset NIO_SINGLETON_GROUP_LOOP_COUNT

cenv() { sed -n "s/^$1=//p" "$CLUSTER_DIR/cluster.env" | tail -1; }
NGINX_URL="$(cenv TRELLIS_CLUSTER_URL)"
REPLICA_URL="$(cenv TRELLIS_CLUSTER_REPLICA_1_URL)"
REPLICA_PIDS=()
for n in $(seq 1 "$(cenv TRELLIS_CLUSTER_REPLICAS)"); do REPLICA_PIDS+=("$(cenv "TRELLIS_CLUSTER_REPLICA_${n}_PID")"); done
NGINX_PID="$(cat "$CLUSTER_DIR/nginx/nginx.pid")"
PG_PID="$(head -1 "$CLUSTER_DIR/pg/data/postmaster.pid")"
# The nginx access log would cost nginx a write per request; the measured runs do without it.
sed -i 's|^    access_log .*|    access_log off;|' "$CLUSTER_DIR/nginx/nginx.conf"
kill -HUP "$NGINX_PID"
sleep 0.5

# Through one replica: an object made through one replica reaches the others within the propagation delay, and
# a model naming an upstream that its replica does not know yet is refused (400).
TRELLIS_URL="$REPLICA_URL"
ADMIN_KEY="$(cat "$CLUSTER_DIR/admin.key")"
register_model bench-model "$UPSTREAM_URL/v1" bench-model
FREE_KEY="$API_KEY"
LIMITED_KEY="$(admin /tenants/bench/keys "{\"name\":\"limited\",\"scopes\":[\"inference\"],\"rpm\":$LIMIT_RPM}" |
    sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')"
[[ -n "$LIMITED_KEY" ]] || die "could not issue the limited key"

BODY='{"model":"bench-model","messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":64}'

# Every replica must know both keys (a key made through one replica reaches the others through the store).
for url in "$NGINX_URL" "$REPLICA_URL"; do
    for key in "$FREE_KEY" "$LIMITED_KEY"; do
        deadline=$((SECONDS + 30))
        until [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/chat/completions" -H "Authorization: Bearer $key" \
            -H 'Content-Type: application/json' -d "$BODY")" == 200 ]]; do
            ((SECONDS < deadline)) || die "$url does not accept a bench key"
            sleep 0.2
        done
    done
done
for n in $(seq 1 "${#REPLICA_PIDS[@]}"); do
    url="$(cenv "TRELLIS_CLUSTER_REPLICA_${n}_URL")"
    for key in "$FREE_KEY" "$LIMITED_KEY"; do
        deadline=$((SECONDS + 30))
        until curl -fs -o /dev/null "$url/v1/models" -H "Authorization: Bearer $key"; do
            ((SECONDS < deadline)) || die "replica $n does not accept a bench key"
            sleep 0.2
        done
    done
done

run_wrk() { # URL KEY DURATION → the BENCH_RESULT line
    local threads=$WRK_THREADS out
    ((threads > CONNS)) && threads=$CONNS
    out="$(BENCH_BODY="$BODY" BENCH_AUTH="$2" "${LOAD_RUN[@]}" wrk -t "$threads" -c "$CONNS" -d "$3" --timeout 10s --latency \
        -s "$LUA" "$1/v1/chat/completions")"
    printf '%s\n' "$out" >>"$WORK/wrk.log"
    grep '^BENCH_RESULT ' <<<"$out" || die "no result from wrk: $out"
}
replica_ticks() {
    local pid total=0
    for pid in "${REPLICA_PIDS[@]}"; do total=$((total + $(cpu_ticks "$pid"))); done
    echo "$total"
}

CASES=("one/none" "one/rpm" "nginx/none" "nginx/rpm")
declare -A REQS DUR P50 P99 GW NG PG ERRS
for c in "${CASES[@]}"; do REQS[$c]=0 DUR[$c]=0 GW[$c]=0 NG[$c]=0 PG[$c]=0 ERRS[$c]=0 P50[$c]="" P99[$c]=""; done

for round in $(seq 1 "$ROUNDS"); do
    for c in "${CASES[@]}"; do
        if [[ ${c%/*} == one ]]; then url=$REPLICA_URL; else url=$NGINX_URL; fi
        if [[ ${c#*/} == none ]]; then key=$FREE_KEY; else key=$LIMITED_KEY; fi
        if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then run_wrk "$url" "$key" "$WARMUP" >/dev/null; fi
        log "round $round: $c, $CONNS connections, $DURATION"
        g0=$(replica_ticks) n0=$(cpu_ticks "$NGINX_PID") p0=$(cpu_ticks "$PG_PID")
        result="$(run_wrk "$url" "$key" "$DURATION")"
        g1=$(replica_ticks) n1=$(cpu_ticks "$NGINX_PID") p1=$(cpu_ticks "$PG_PID")
        REQS[$c]=$((REQS[$c] + $(field "$result" requests)))
        DUR[$c]=$((DUR[$c] + $(field "$result" duration_us)))
        GW[$c]=$((GW[$c] + g1 - g0)) NG[$c]=$((NG[$c] + n1 - n0)) PG[$c]=$((PG[$c] + p1 - p0))
        ERRS[$c]=$((ERRS[$c] + $(field "$result" err_status) + $(field "$result" err_connect) + $(field "$result" err_read) + $(field "$result" err_write) + $(field "$result" err_timeout)))
        P50[$c]+="$(awk -v v="$(field "$result" p50_us)" 'BEGIN { printf "%.2f", v / 1000 }') "
        P99[$c]+="$(awk -v v="$(field "$result" p99_us)" 'BEGIN { printf "%.2f", v / 1000 }') "
    done
done

echo
echo "Cluster benchmark: $(machine_line), trellis $(git_rev); $CONNS connections, $ROUNDS × $DURATION per case;"
echo "pinned: $([[ $PIN == 1 ]] && echo "replicas on CPU $GATEWAY_CPUS, load + nginx + PostgreSQL on CPU $LOAD_CPUS" || echo no)."
echo "'rpm' is a key limited to $LIMIT_RPM requests/minute (never reached); 'none' a key with no limit.${BENCH_TRELLIS_ENV:+ Replicas with $BENCH_TRELLIS_ENV.}"
echo
echo "| path | key | requests/s | p50 ms | p99 ms | gateway CPU µs/request (3 replicas) | nginx µs/request | PostgreSQL µs/request | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CASES[@]}"; do
    if [[ ${c%/*} == one ]]; then path="replica 1 direct"; else path="nginx → 3 replicas"; fi
    awk -v r="${REQS[$c]}" -v d="${DUR[$c]}" -v g="${GW[$c]}" -v n="${NG[$c]}" -v p="${PG[$c]}" -v hz="$CLK_TCK" \
        -v path="$path" -v key="${c#*/}" -v p50="${P50[$c]% }" -v p99="${P99[$c]% }" -v e="${ERRS[$c]}" 'BEGIN {
            r = (r > 0 ? r : 1)
            printf "| %s | %s | %.0f | %s | %s | %.1f | %.1f | %.1f | %d |\n", path, key, r / (d / 1e6), p50, p99,
                g / hz / r * 1e6, n / hz / r * 1e6, p / hz / r * 1e6, e }'
done
