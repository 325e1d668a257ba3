#!/usr/bin/env bash
# The gateway's instructions per request, counted by valgrind's callgrind: the same requests as bench/run.sh
# (non-streaming, then streamed answers of 16 chunks from the canned upstream), through `trellis serve` running
# under callgrind. An instruction count does not depend on the machine's other load, its clock or its caches, so
# two revisions compare within a fraction of a percent where CPU time on a shared VM moves by a fifth. It is not
# a time: a cache miss or a contended lock counts as one instruction. Prints a Markdown table and writes, per mode,
# the functions by their own instructions to bench/results/<stamp>-<mode>.instructions.txt (git-ignored).
#
#   bench/instructions.sh
#   BENCH_SKIP_BUILD=1 BENCH_REQUESTS=2000 bench/instructions.sh
#
# Settings (environment):
#   BENCH_REQUESTS=1000         measured requests per mode (after a warm-up of BENCH_WARMUP_REQUESTS)
#   BENCH_WARMUP_REQUESTS=300   requests per mode before the count starts (connections, caches, first allocations)
#   BENCH_CONCURRENCY=4         concurrent requests (hey -c)
#   BENCH_CHUNKS=16             content chunks per streamed answer
#   BENCH_SKIP_BUILD, BENCH_BUILD_FLAGS, BENCH_RESULTS_DIR, BENCH_TRELLIS_ENV: as in bench/run.sh
#
# What is counted: every thread of the gateway (event loop, the usage writer, the runtime's pool) from the moment
# the counters are zeroed to the dump, user space only (the kernel's share of a request is not in it). The upstream
# health checks are turned off (upstream.health_check_interval_ms=0) because each opens a new connection every
# 10 s, which is not a request's cost and would add a few percent to a run of this length under callgrind.
# The gateway runs one event loop, as bench/run.sh pins it.
#
# Needs: valgrind (installed with apt-get when missing and possible), binutils' strip (valgrind 3.19 cannot read
# the DWARF 5 debug information that swift writes, so it runs a copy without it; symbols stay), hey, curl.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTS="${BENCH_REQUESTS:-1000}"
WARMUP_REQUESTS="${BENCH_WARMUP_REQUESTS:-300}"
CONCURRENCY="${BENCH_CONCURRENCY:-4}"
CHUNKS="${BENCH_CHUNKS:-16}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$REPO/bench/results}"

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
apt_install valgrind valgrind
apt_install hey hey
apt_install binutils strip
PIN=0
setup_pinning
GATEWAY_LOOPS=1
build_release

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
mkdir -p "$RESULTS_DIR"
strip --strip-debug -o "$WORK/trellis" "$TRELLIS"
TRELLIS="$WORK/trellis"
OUT="$WORK/callgrind.out"
TRELLIS_WRAPPER=(valgrind --tool=callgrind --callgrind-out-file="$OUT" --dump-instr=no)
TRELLIS_READY_SECONDS=300
BENCH_TRELLIS_ENV="TRELLIS_UPSTREAM_HEALTH_CHECK_INTERVAL_MS=0 ${BENCH_TRELLIS_ENV:-}"

start_upstream "$CHUNKS" 1
log "starting trellis under callgrind (slow)…"
start_trellis
register_model bench-model "$UPSTREAM_URL/v1" bench-model

MESSAGES='"messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Say hello in one short sentence."}]'
BODY_PLAIN="{\"model\":\"bench-model\",$MESSAGES,\"max_tokens\":64}"
BODY_STREAM="{\"model\":\"bench-model\",$MESSAGES,\"max_tokens\":64,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"

# send COUNT BODY: COUNT requests; fails unless every one answered 200.
send() {
    local out ok
    out="$(hey -n "$1" -c "$CONCURRENCY" -t 60 -m POST -H "Authorization: Bearer $API_KEY" -T application/json -d "$2" \
        "$TRELLIS_URL/v1/chat/completions")"
    ok="$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*\[200\][[:space:]]*\([0-9]*\) responses.*/\1/p')"
    [[ "$ok" == "$1" ]] || die "expected $1 answers of 200, got: $(printf '%s\n' "$out" | sed -n '/Status code distribution/,$p')"
}

printf '\n| mode | requests | instructions | per request |\n|---|---:|---:|---:|\n'
for mode in plain stream; do
    if [[ $mode == plain ]]; then body=$BODY_PLAIN; else body=$BODY_STREAM; fi
    send "$WARMUP_REQUESTS" "$body"
    callgrind_control --zero "$TRELLIS_PID" >/dev/null 2>&1
    send "$REQUESTS" "$body"
    callgrind_control --dump="$mode" "$TRELLIS_PID" >/dev/null 2>&1
    dump="$(grep -l "^desc: Trigger: .*\b$mode\$" "$OUT".* 2>/dev/null | head -1)"
    [[ -n "$dump" ]] || die "no callgrind dump for $mode"
    total="$(sed -n 's/^summary: *//p' "$dump")"
    printf '| %s | %d | %d | %d |\n' "$mode" "$REQUESTS" "$total" "$((total / REQUESTS))"
    report="$RESULTS_DIR/$STAMP-$mode.instructions.txt"
    {
        printf '# rev %s, %s, %d requests at concurrency %d: %d instructions, %d per request\n' \
            "$REV" "$mode" "$REQUESTS" "$CONCURRENCY" "$total" "$((total / REQUESTS))"
        callgrind_annotate --threshold=100 --auto=no "$dump" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n 1,90p |
            if command -v swift >/dev/null; then swift demangle --simplified; else cat; fi
    } >"$report"
    cp "$dump" "$RESULTS_DIR/$STAMP-$mode.callgrind.out"
done
printf '\nrev %s; functions by their own instructions: %s/%s-{plain,stream}.instructions.txt\n' "$REV" "$RESULTS_DIR" "$STAMP"
