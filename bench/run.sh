#!/usr/bin/env bash
# Gateway overhead benchmark: the same load sent straight to a canned upstream (trellis-bench-upstream) and
# through `trellis serve`, non-streaming and streaming, at a few connection counts. Prints a Markdown table and
# appends the raw numbers as JSON lines to bench/results/<timestamp>.jsonl (git-ignored).
#
#   bench/run.sh
#   BENCH_DURATION=30s BENCH_CONNECTIONS="1 16 64" bench/run.sh
#
# Settings (environment):
#   BENCH_DURATION=10s          length of each measured run (wrk -d)
#   BENCH_WARMUP=2s             unmeasured run before each measured one (0 to skip)
#   BENCH_CONNECTIONS="1 64"    connection counts (wrk -c)
#   BENCH_WRK_THREADS=2         wrk threads (-t; never more than the connections)
#   BENCH_CHUNKS=16             content chunks per streamed answer
#   BENCH_UPSTREAM_THREADS=1    event loop threads of the bench upstream
#   BENCH_PIN=auto              auto | 1 | 0: pin the gateway and the load (upstream + wrk) to separate CPUs
#   BENCH_GATEWAY_CPUS=0        taskset CPU list for trellis when pinning
#   BENCH_LOAD_CPUS=1           taskset CPU list for the upstream and wrk when pinning
#   BENCH_GATEWAY_LOOPS=        NIO_SINGLETON_GROUP_LOOP_COUNT for trellis (default when pinning: the number
#                               of gateway CPUs; unset otherwise, which leaves NIO's default of one per core)
#   BENCH_SKIP_BUILD=0          1: use the binaries already in the release bin directory
#   BENCH_BUILD_FLAGS=--static-swift-stdlib
#                               extra `swift build` flags; the default matches the release build in README.md,
#                               docker/ and scripts/, so the benchmark measures the shipped binary and shares
#                               its build cache (changing these flags recompiles every module)
#   BENCH_RESULTS_DIR=bench/results
#   BENCH_PROFILE=0             1: afterwards, profile trellis with `perf record --call-graph dwarf` during one more
#                               (unmeasured) run per mode at the largest connection count, and summarise it with
#                               bench/perf-summary.py into bench/results/<stamp>-<mode>.perf.txt (needs perf, python3)
#
# Needs: swift, curl, wrk (installed with apt-get when missing and possible), Linux /proc.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LUA="$REPO/bench/post.lua"

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
read -r -a CONNECTIONS <<<"${BENCH_CONNECTIONS:-1 64}"
WRK_THREADS="${BENCH_WRK_THREADS:-2}"
CHUNKS="${BENCH_CHUNKS:-16}"
UPSTREAM_THREADS="${BENCH_UPSTREAM_THREADS:-1}"
PIN="${BENCH_PIN:-auto}"
GATEWAY_CPUS="${BENCH_GATEWAY_CPUS:-0}"
LOAD_CPUS="${BENCH_LOAD_CPUS:-1}"
GATEWAY_LOOPS="${BENCH_GATEWAY_LOOPS:-}"
SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
read -r -a BUILD_FLAGS <<<"${BENCH_BUILD_FLAGS-"--static-swift-stdlib"}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$REPO/bench/results}"
PROFILE="${BENCH_PROFILE:-0}"

log() { printf '%s\n' "$*" >&2; }
die() {
    log "bench: $*"
    exit 1
}

# ---------------------------------------------------------------------------------------------- prerequisites

[[ -r /proc/self/stat ]] || die "needs Linux /proc"
command -v curl >/dev/null || die "needs curl"
if ! command -v wrk >/dev/null; then
    log "wrk is not installed; installing it with apt-get"
    command -v apt-get >/dev/null || die "needs wrk (https://github.com/wg/wrk)"
    SUDO=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null || die "needs wrk: run 'apt-get install wrk' as root"
        SUDO=(sudo)
    fi
    "${SUDO[@]}" apt-get update -qq >&2
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
fi

NPROC="$(nproc)"
if [[ "$PIN" == auto ]]; then
    if ((NPROC >= 2)) && command -v taskset >/dev/null; then PIN=1; else PIN=0; fi
fi
GATEWAY_RUN=()
LOAD_RUN=()
if [[ "$PIN" == 1 ]]; then
    command -v taskset >/dev/null || die "BENCH_PIN=1 needs taskset (util-linux)"
    GATEWAY_RUN=(taskset -c "$GATEWAY_CPUS")
    LOAD_RUN=(taskset -c "$LOAD_CPUS")
    if [[ -z "$GATEWAY_LOOPS" ]]; then
        # One event loop per CPU the gateway may use: NIO counts the machine's cores, not the affinity mask.
        GATEWAY_LOOPS="$(taskset -c "$GATEWAY_CPUS" nproc)"
    fi
fi

# ---------------------------------------------------------------------------------------------- build

cd "$REPO"
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release)…"
    # swift build takes a single --product, so one call per product.
    swift build -c release "${BUILD_FLAGS[@]}" --product trellis >&2
    swift build -c release "${BUILD_FLAGS[@]}" --product trellis-bench-upstream >&2
fi
BIN="$(swift build -c release "${BUILD_FLAGS[@]}" --show-bin-path)"
TRELLIS="$BIN/trellis"
UPSTREAM="$BIN/trellis-bench-upstream"
[[ -x "$TRELLIS" && -x "$UPSTREAM" ]] || die "binaries missing in $BIN (unset BENCH_SKIP_BUILD)"

# ---------------------------------------------------------------------------------------------- processes

WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench.XXXXXX")"
UPSTREAM_PID=""
TRELLIS_PID=""
cleanup() {
    local pid
    for pid in "$TRELLIS_PID" "$UPSTREAM_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local port _
    for _ in $(seq 1 200); do
        port=$(((RANDOM * 32768 + RANDOM) % 25000 + 30000))
        # A refused connection means nothing listens there.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

wait_for() { # wait_for SECONDS PID COMMAND...: until COMMAND succeeds, while PID lives
    local deadline=$((SECONDS + $1)) pid=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# The upstream picks its own port (--port 0) and prints it.
"${LOAD_RUN[@]}" "$UPSTREAM" --host 127.0.0.1 --port 0 --threads "$UPSTREAM_THREADS" --chunks "$CHUNKS" \
    >"$WORK/upstream.log" 2>&1 &
UPSTREAM_PID=$!
wait_for 10 "$UPSTREAM_PID" grep -q 'listening on' "$WORK/upstream.log" || die "upstream did not start: $(cat "$WORK/upstream.log")"
UPSTREAM_PORT="$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$WORK/upstream.log")"
UPSTREAM_URL="http://127.0.0.1:$UPSTREAM_PORT"

ADMIN_KEY="bench-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
TRELLIS_PORT="$(free_port)" || die "no free port"
TRELLIS_URL="http://127.0.0.1:$TRELLIS_PORT"
mkdir -p "$WORK/data"
(
    cd "$WORK"
    if [[ -n "$GATEWAY_LOOPS" ]]; then export NIO_SINGLETON_GROUP_LOOP_COUNT="$GATEWAY_LOOPS"; fi
    # Only what the benchmark sets: no TRELLIS_* from the caller's environment leaks in.
    while IFS= read -r name; do
        if [[ $name == TRELLIS_* ]]; then unset "$name"; fi
    done < <(compgen -e)
    export TRELLIS_ADMIN_KEY="$ADMIN_KEY" TRELLIS_LOG_LEVEL=warning
    exec "${GATEWAY_RUN[@]}" "$TRELLIS" serve --host 127.0.0.1 --port "$TRELLIS_PORT" --data-dir "$WORK/data"
) >"$WORK/trellis.log" 2>&1 &
TRELLIS_PID=$!
wait_for 60 "$TRELLIS_PID" curl -fsS "$TRELLIS_URL/readyz" || die "trellis did not become ready: $(tail -20 "$WORK/trellis.log")"
# The subshell execs, so $! is trellis itself; check rather than assume.
[[ "$(cat "/proc/$TRELLIS_PID/comm")" == trellis ]] || die "pid $TRELLIS_PID is $(cat "/proc/$TRELLIS_PID/comm"), not trellis"

# ---------------------------------------------------------------------------------------------- catalog

admin() { # admin PATH JSON → response body; fails unless 2xx
    curl -fsS -X POST "$TRELLIS_URL/admin/v1$1" -H "Authorization: Bearer $ADMIN_KEY" \
        -H 'Content-Type: application/json' -d "$2"
}
admin /tenants '{"name":"bench"}' >/dev/null
admin /upstreams "{\"name\":\"bench-upstream\",\"base_url\":\"$UPSTREAM_URL/v1\",\"kind\":\"openai\"}" >/dev/null
admin /models '{"name":"bench-model","spec":{"upstream":"bench-upstream","model":"bench-model"}}' >/dev/null
KEY_JSON="$(admin /tenants/bench/keys '{"name":"bench","scopes":["inference"]}')"
API_KEY="$(printf '%s' "$KEY_JSON" | sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')"
[[ -n "$API_KEY" ]] || die "no key in: $KEY_JSON"

MESSAGES='"messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Say hello in one short sentence."}]'
BODY_PLAIN="{\"model\":\"bench-model\",$MESSAGES,\"max_tokens\":64}"
BODY_STREAM="{\"model\":\"bench-model\",$MESSAGES,\"max_tokens\":64,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"

# Sanity: both paths answer 200 with the expected shape before anything is measured.
check() { # check URL AUTH BODY PATTERN
    local out
    out="$(curl -sS -N -w '\n%{http_code}' "$1/v1/chat/completions" -H "Authorization: Bearer $2" \
        -H 'Content-Type: application/json' -d "$3")"
    [[ "${out##*$'\n'}" == 200 && "$out" == *"$4"* ]] || die "unexpected answer from $1: $out"
}
check "$UPSTREAM_URL" none "$BODY_PLAIN" '"usage"'
check "$TRELLIS_URL" "$API_KEY" "$BODY_PLAIN" '"model":"bench-model"'
check "$UPSTREAM_URL" none "$BODY_STREAM" 'data: [DONE]'
check "$TRELLIS_URL" "$API_KEY" "$BODY_STREAM" 'data: [DONE]'

# ---------------------------------------------------------------------------------------------- measuring

CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { # utime + stime of every thread of a process, in clock ticks
    local stat fields
    stat="$(<"/proc/$1/stat")"
    stat="${stat##*) }" # fields from the 3rd on; the command name may hold spaces
    read -r -a fields <<<"$stat"
    echo $((fields[11] + fields[12]))
}
status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status"; }

# Context switches (voluntary + involuntary) of every live thread of a process.
ctx_switches() {
    cat "/proc/$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# expand_cpus "0,2-3" → "0 2 3"
expand_cpus() {
    local part cpu out=()
    local -a parts
    IFS=, read -r -a parts <<<"$1"
    for part in "${parts[@]}"; do
        if [[ $part == *-* ]]; then
            for ((cpu = ${part%-*}; cpu <= ${part#*-}; cpu++)); do out+=("$cpu"); done
        else
            out+=("$part")
        fi
    done
    echo "${out[@]}"
}
# busy_ticks "0 1": non-idle ticks (user nice system irq softirq steal) of those CPUs, and their steal ticks
busy_ticks() {
    awk -v want=" $1 " '$1 ~ /^cpu[0-9]+$/ && index(want, " " substr($1, 4) " ") {
        busy += $2 + $3 + $4 + $7 + $8 + $9; steal += $9 } END { print busy + 0, steal + 0 }' /proc/stat
}
if [[ $PIN == 1 ]]; then WATCH_CPUS="$(expand_cpus "$GATEWAY_CPUS")"; else WATCH_CPUS="$(seq -s ' ' 0 $((NPROC - 1)))"; fi

# run_wrk URL AUTH BODY CONNECTIONS DURATION → the BENCH_RESULT line; wrk's own report goes to the log
run_wrk() {
    local threads=$WRK_THREADS out
    ((threads > $4)) && threads=$4
    out="$(BENCH_BODY="$3" BENCH_AUTH="$2" "${LOAD_RUN[@]}" wrk -t "$threads" -c "$4" -d "$5" --timeout 10s --latency \
        -s "$LUA" "$1/v1/chat/completions")"
    printf '%s\n' "$out" >>"$WORK/wrk.log"
    grep '^BENCH_RESULT ' <<<"$out" || die "no result from wrk: $out"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }

# Anything else busy on the machine shows up as noise; say so rather than hide it (each row also reports the
# other load on the gateway's CPUs while it ran).
LOADAVG="$(cut -d' ' -f1-3 /proc/loadavg)"
read -r idle_busy0 _ < <(busy_ticks "$(seq -s ' ' 0 $((NPROC - 1)))")
sleep 2
read -r idle_busy1 _ < <(busy_ticks "$(seq -s ' ' 0 $((NPROC - 1)))")
IDLE_BUSY_PCT=$(((idle_busy1 - idle_busy0) * 100 / (2 * CLK_TCK * NPROC)))
if ((IDLE_BUSY_PCT > 5)); then
    log "bench: warning: the machine is ${IDLE_BUSY_PCT}% busy before the benchmark starts; numbers will be noisy"
fi

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS_DIR"
JSONL="$RESULTS_DIR/$STAMP.jsonl"
CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
MEM_KB="$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo)"
GIT_REV="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO" status --porcelain 2>/dev/null)" ]]; then GIT_REV="$GIT_REV+dirty"; fi

declare -A RPS P50 P99 CPU_US CPU_PCT ERRS OTHER

for mode in plain stream; do
    if [[ $mode == plain ]]; then body=$BODY_PLAIN; else body=$BODY_STREAM; fi
    for conns in "${CONNECTIONS[@]}"; do
        for target in direct trellis; do
            if [[ $target == direct ]]; then url=$UPSTREAM_URL auth=""; else url=$TRELLIS_URL auth=$API_KEY; fi
            if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then run_wrk "$url" "$auth" "$body" "$conns" "$WARMUP" >/dev/null; fi
            log "measuring: $target $mode, $conns connection(s), $DURATION"
            read -r busy0 steal0 < <(busy_ticks "$WATCH_CPUS")
            gw0=$(cpu_ticks "$TRELLIS_PID")
            up0=$(cpu_ticks "$UPSTREAM_PID")
            cs0=$(ctx_switches "$TRELLIS_PID")
            result="$(run_wrk "$url" "$auth" "$body" "$conns" "$DURATION")"
            gw1=$(cpu_ticks "$TRELLIS_PID")
            up1=$(cpu_ticks "$UPSTREAM_PID")
            cs1=$(ctx_switches "$TRELLIS_PID")
            read -r busy1 steal1 < <(busy_ticks "$WATCH_CPUS")
            hwm=$(status_kb "$TRELLIS_PID" VmHWM)
            rss=$(status_kb "$TRELLIS_PID" VmRSS)

            requests=$(field "$result" requests)
            duration_us=$(field "$result" duration_us)
            p50_us=$(field "$result" p50_us)
            p99_us=$(field "$result" p99_us)
            errors=$(($(field "$result" err_connect) + $(field "$result" err_read) + $(field "$result" err_write) + $(field "$result" err_timeout)))
            non2xx=$(field "$result" err_status)
            # other: CPU time on the gateway's CPUs (all CPUs when not pinned) not used by trellis, nor (when not
            # pinned) by the upstream; with pinning it is interference from other processes on those CPUs.
            read -r rps gw_cpu_s gw_us gw_pct up_us other_pct steal_pct < <(awk -v r="$requests" -v d="$duration_us" \
                -v g=$((gw1 - gw0)) -v u=$((up1 - up0)) -v b=$((busy1 - busy0)) -v st=$((steal1 - steal0)) \
                -v pinned="$PIN" -v hz="$CLK_TCK" 'BEGIN {
                    r = (r > 0 ? r : 1); secs = d / 1e6
                    other = b - g - (pinned == 1 ? 0 : u); if (other < 0) other = 0
                    printf "%.1f %.3f %.1f %.1f %.1f %.1f %.1f\n", r / secs, g / hz, g / hz / r * 1e6, 100 * g / hz / secs,
                        u / hz / r * 1e6, 100 * other / hz / secs, 100 * st / hz / secs }')
            if [[ $PIN == 1 ]] && awk -v o="$other_pct" 'BEGIN { exit !(o > 5) }'; then
                log "bench: warning: other processes used ${other_pct}% of the gateway's CPU during this run"
            fi

            k="$target/$mode/$conns"
            RPS[$k]=$rps P50[$k]=$p50_us P99[$k]=$p99_us CPU_US[$k]=$gw_us CPU_PCT[$k]=$gw_pct ERRS[$k]="$non2xx/$errors"
            OTHER[$k]=$other_pct
            {
                printf '{"stamp":"%s","rev":"%s","target":"%s","stream":%s,"connections":%d,"wrk_threads":%d,"duration_s":%.3f,' \
                    "$STAMP" "$GIT_REV" "$target" "$([[ $mode == stream ]] && echo true || echo false)" "$conns" \
                    "$((WRK_THREADS > conns ? conns : WRK_THREADS))" "$(awk -v d="$duration_us" 'BEGIN{print d/1e6}')"
                printf '"requests":%d,"rps":%s,"p50_us":%s,"p90_us":%s,"p99_us":%s,"max_us":%s,"mean_us":%s,"non2xx":%d,"socket_errors":%d,' \
                    "$requests" "$rps" "$p50_us" "$(field "$result" p90_us)" "$p99_us" "$(field "$result" max_us)" \
                    "$(field "$result" mean_us)" "$non2xx" "$errors"
                printf '"gateway_cpu_s":%s,"gateway_cpu_us_per_req":%s,"gateway_cpu_pct":%s,"upstream_cpu_us_per_req":%s,' \
                    "$gw_cpu_s" "$gw_us" "$gw_pct" "$up_us"
                printf '"other_cpu_pct_on_gateway_cpus":%s,"steal_pct":%s,"gateway_ctx_switches_per_req":%s,' "$other_pct" \
                    "$steal_pct" "$(awk -v c=$((cs1 - cs0)) -v r="$requests" 'BEGIN { printf "%.1f", c / (r > 0 ? r : 1) }')"
                printf '"gateway_vmhwm_kb":%d,"gateway_vmrss_kb":%d,"chunks":%d,"pinned":%s,"gateway_cpus":"%s","load_cpus":"%s","gateway_loops":"%s",' \
                    "$hwm" "$rss" "$CHUNKS" "$([[ $PIN == 1 ]] && echo true || echo false)" "$([[ $PIN == 1 ]] && echo "$GATEWAY_CPUS" || echo all)" \
                    "$([[ $PIN == 1 ]] && echo "$LOAD_CPUS" || echo all)" "${GATEWAY_LOOPS:-default}"
                printf '"nproc":%d,"cpu":"%s","mem_kb":%d,"loadavg_before":"%s","busy_before_pct":%d}\n' "$NPROC" "${CPU_MODEL//\"/}" "$MEM_KB" "$LOADAVG" "$IDLE_BUSY_PCT"
            } >>"$JSONL"
        done
    done
done

if [[ "$PROFILE" == 1 ]]; then
    command -v perf >/dev/null || die "BENCH_PROFILE=1 needs perf (apt-get install linux-perf)"
    command -v python3 >/dev/null || die "BENCH_PROFILE=1 needs python3"
    conns="${CONNECTIONS[${#CONNECTIONS[@]} - 1]}"
    for mode in plain stream; do
        if [[ $mode == plain ]]; then body=$BODY_PLAIN; else body=$BODY_STREAM; fi
        log "profiling: trellis $mode, $conns connection(s)"
        run_wrk "$TRELLIS_URL" "$API_KEY" "$body" "$conns" 12s >/dev/null &
        wrk_pid=$!
        sleep 1
        perf record -q -F 499 -g --call-graph dwarf,32768 -p "$TRELLIS_PID" -o "$RESULTS_DIR/$STAMP-$mode.perf.data" -- sleep 10 >&2
        wait "$wrk_pid"
        perf script -i "$RESULTS_DIR/$STAMP-$mode.perf.data" --no-inline -F comm,tid,period,ip,sym,dso 2>/dev/null |
            python3 "$REPO/bench/perf-summary.py" /dev/stdin >"$RESULTS_DIR/$STAMP-$mode.perf.txt"
    done
fi

HWM_KB=$(status_kb "$TRELLIS_PID" VmHWM)
RSS_KB=$(status_kb "$TRELLIS_PID" VmRSS)
GATEWAY_THREADS=$(find "/proc/$TRELLIS_PID/task" -mindepth 1 -maxdepth 1 | wc -l)
LOG_LINES=$(wc -l <"$WORK/trellis.log")
cp "$WORK/trellis.log" "$RESULTS_DIR/$STAMP-trellis.log"
cp "$WORK/wrk.log" "$RESULTS_DIR/$STAMP-wrk.log"

# ---------------------------------------------------------------------------------------------- report

ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", (a - b) / 1000 }'; }

echo "## Trellis gateway overhead ($STAMP, rev $GIT_REV)"
echo
echo "- machine: $NPROC CPU ($CPU_MODEL), $((MEM_KB / 1024)) MiB RAM, $(uname -sr); busy before start: ${IDLE_BUSY_PCT}% (load average $LOADAVG)"
echo "- load: wrk $DURATION per row (after a $WARMUP warm-up), ≤$WRK_THREADS threads, POST /v1/chat/completions;" \
    "streamed answers are $CHUNKS content chunks + a usage chunk + [DONE]"
if [[ $PIN == 1 ]]; then
    echo "- pinning: trellis on CPU $GATEWAY_CPUS; upstream and wrk on CPU $LOAD_CPUS (taskset). The gateway then never" \
        "competes with the load generator or the upstream for a core, so its CPU time and latency are its own, and" \
        "the 'direct' rows run the same upstream + wrk on the same CPU as the load side of the 'trellis' rows." \
        "trellis runs with NIO_SINGLETON_GROUP_LOOP_COUNT=$GATEWAY_LOOPS, one event loop per CPU it may use (NIO" \
        "counts the machine's cores and ignores the affinity mask)."
else
    echo "- pinning: none (BENCH_PIN=0 or a single CPU): gateway, upstream and wrk share all $NPROC CPUs."
fi
echo "- gateway CPU = utime+stime of the trellis process (/proc/PID/stat) over the run ÷ completed requests;" \
    "CPU % is of one core. Added latency = trellis − direct at the same mode and connections."
echo "- other load = CPU time on the gateway's CPU(s) used by anything but trellis during its run (% of one core;" \
    "unpinned: all CPUs minus the upstream, so wrk is included); pinned, above a few % means other work on the" \
    "machine disturbed the row."
echo
echo "| mode | conns | direct req/s | trellis req/s | direct p50 / p99 ms | trellis p50 / p99 ms | added p50 / p99 ms | gateway CPU µs/req | gateway CPU % | other load % | non-2xx / socket errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for mode in plain stream; do
    for conns in "${CONNECTIONS[@]}"; do
        d="direct/$mode/$conns" t="trellis/$mode/$conns"
        label=$([[ $mode == stream ]] && echo streaming || echo non-streaming)
        printf '| %s | %s | %.0f | %.0f | %s / %s | %s / %s | %s / %s | %.1f | %.0f | %.0f | %s (direct %s) |\n' \
            "$label" "$conns" "${RPS[$d]}" "${RPS[$t]}" \
            "$(ms "${P50[$d]}")" "$(ms "${P99[$d]}")" "$(ms "${P50[$t]}")" "$(ms "${P99[$t]}")" \
            "$(added "${P50[$t]}" "${P50[$d]}")" "$(added "${P99[$t]}" "${P99[$d]}")" \
            "${CPU_US[$t]}" "${CPU_PCT[$t]}" "${OTHER[$t]}" "${ERRS[$t]}" "${ERRS[$d]}"
    done
done
echo
echo "Gateway peak RSS (VmHWM): $((HWM_KB / 1024)) MiB; RSS at the end: $((RSS_KB / 1024)) MiB; threads: $GATEWAY_THREADS;" \
    "gateway log lines at warning level or above: $LOG_LINES$( ((LOG_LINES > 0)) && echo " (see ${RESULTS_DIR#"$REPO"/}/$STAMP-trellis.log)")."
echo
echo "Raw numbers: ${JSONL#"$REPO"/}; gateway log and wrk reports next to it."
if [[ "$PROFILE" == 1 ]]; then
    echo "Profiles: ${RESULTS_DIR#"$REPO"/}/$STAMP-{plain,stream}.perf.txt (perf.data next to them)."
fi
