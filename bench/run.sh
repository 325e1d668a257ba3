#!/usr/bin/env bash
# Gateway overhead benchmark: the same load sent straight to a canned upstream (trellis-bench-upstream) and
# through `trellis serve` (and, with BENCH_LITELLM=1, through the LiteLLM proxy), non-streaming and streaming,
# at a few connection counts, then non-streaming at a fixed offered rate. Prints Markdown tables and appends the
# raw numbers as JSON lines to bench/results/<timestamp>.jsonl (git-ignored).
#
#   bench/run.sh
#   BENCH_DURATION=30s BENCH_CONNECTIONS="1 16 64" bench/run.sh
#   bench/compare.sh                  # the side-by-side with LiteLLM (BENCH_LITELLM=1, plus time to first token)
#
# Settings (environment):
#   BENCH_DURATION=10s          length of each measured run (wrk -d)
#   BENCH_ROUNDS=1              measure every row (and the fixed rate) this many times, the targets taking turns
#                               within each round, and report each figure's median over the rounds (the CPU per
#                               request also with its lowest and highest); one row of one run moves by up to 40 %
#                               on a shared VM (docs/benchmarks.md), the median of three far less
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
#   BENCH_STORE_URL=            the gateway's store: unset for SQLite (default), `postgres` for a throwaway
#                               PostgreSQL cluster (scripts/postgres.sh), or the postgres:// URL of an empty database
#   BENCH_TRELLIS_ENV=          extra environment for trellis, "NAME=VALUE NAME2=VALUE2" (e.g. TRELLIS_* settings)
#   BENCH_NGINX=0               1: also measure Debian's nginx as a plain reverse proxy to the same upstream (one
#                               worker, keepalive pool, no buffering, pinned like trellis): the physical floor of
#                               two HTTP legs, with Trellis's CPU per request as a multiple of it
#   BENCH_LITELLM=0             1: also measure the LiteLLM proxy (BENCH_LITELLM_VERSION, default 1.106.12, installed
#                               from PyPI into bench/.venv-litellm once; fully offline, one worker, pinned like trellis)
#   BENCH_RATE=1000             offered rate (requests/s) of the fixed-rate run (hey -q), non-streaming; 0 to skip
#   BENCH_RATE_DURATION=10s     length of each fixed-rate run
#   BENCH_RATE_WORKERS=4        hey workers sharing that rate (hey paces each worker with its own ticker, all
#                               started together: N workers send bursts of N requests)
#   BENCH_PROFILE=0             1: afterwards, profile trellis with `perf record --call-graph dwarf` during one more
#                               (unmeasured) run per mode at the largest connection count, and summarise it with
#                               bench/perf-summary.py into bench/results/<stamp>-<mode>.perf.txt (needs perf, python3)
#
# Needs: swift, curl, wrk and hey (installed with apt-get when missing and possible), Linux /proc; python3 for
# LiteLLM.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LUA="$REPO/bench/post.lua"

DURATION="${BENCH_DURATION:-10s}"
WARMUP="${BENCH_WARMUP:-2s}"
read -r -a CONNECTIONS <<<"${BENCH_CONNECTIONS:-1 64}"
WRK_THREADS="${BENCH_WRK_THREADS:-2}"
CHUNKS="${BENCH_CHUNKS:-16}"
UPSTREAM_THREADS="${BENCH_UPSTREAM_THREADS:-1}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$REPO/bench/results}"
PROFILE="${BENCH_PROFILE:-0}"
LITELLM="${BENCH_LITELLM:-0}"
NGINX="${BENCH_NGINX:-0}"
RATE="${BENCH_RATE:-1000}"
RATE_DURATION="${BENCH_RATE_DURATION:-10s}"
RATE_WORKERS="${BENCH_RATE_WORKERS:-4}"
ROUNDS="${BENCH_ROUNDS:-1}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_ROUNDS must be a positive number, not '$ROUNDS'" >&2; exit 1; }


# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
apt_install wrk wrk
if [[ "$RATE" != 0 ]]; then apt_install hey hey; fi
setup_pinning
build_release
if [[ "$LITELLM" == 1 ]]; then ensure_litellm; fi
if [[ "$NGINX" == 1 ]]; then apt_install nginx nginx; fi

start_upstream "$CHUNKS" "$UPSTREAM_THREADS"
start_trellis
register_model bench-model "$UPSTREAM_URL/v1" bench-model
TARGETS=(direct trellis)
if [[ "$LITELLM" == 1 ]]; then
    start_litellm bench-model "$UPSTREAM_URL/v1" bench-model
    TARGETS+=(litellm)
fi
if [[ "$NGINX" == 1 ]]; then
    start_nginx "$UPSTREAM_URL"
    TARGETS+=(nginx)
fi
target_url() { case $1 in direct) echo "$UPSTREAM_URL" ;; trellis) echo "$TRELLIS_URL" ;; litellm) echo "$LITELLM_URL" ;; nginx) echo "$NGINX_URL" ;; esac; }
target_auth() { case $1 in direct | nginx) echo "" ;; trellis) echo "$API_KEY" ;; litellm) echo "$LITELLM_KEY" ;; esac; }
# The process whose CPU a target's rows measure: the gateway in front (for "direct", trellis idle).
target_pid() { case $1 in litellm) echo "$LITELLM_PID" ;; nginx) echo "$NGINX_PID" ;; *) echo "$TRELLIS_PID" ;; esac; }

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
if [[ "$LITELLM" == 1 ]]; then
    check "$LITELLM_URL" "$LITELLM_KEY" "$BODY_PLAIN" '"usage"'
    check "$LITELLM_URL" "$LITELLM_KEY" "$BODY_STREAM" 'data: [DONE]'
fi
if [[ "$NGINX" == 1 ]]; then
    check "$NGINX_URL" none "$BODY_PLAIN" '"usage"'
    check "$NGINX_URL" none "$BODY_STREAM" 'data: [DONE]'
fi

# ---------------------------------------------------------------------------------------------- measuring

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
IDLE_BUSY_PCT="$(machine_busy_pct)"
if ((IDLE_BUSY_PCT > 5)); then
    log "bench: warning: the machine is ${IDLE_BUSY_PCT}% busy before the benchmark starts; numbers will be noisy"
fi

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RESULTS_DIR"
JSONL="$RESULTS_DIR/$STAMP.jsonl"
CPU_MODEL="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
MEM_KB="$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo)"
GIT_REV="$(git_rev)"

# Each row's figures over the rounds, space-separated; after the last round RPS, P50, … hold their medians.
declare -A RPS P50 P99 CPU_US CPU_PCT ERRS OTHER HWM CPU_RANGE
declare -A ALL_RPS ALL_P50 ALL_P99 ALL_CPU_US ALL_CPU_PCT ALL_OTHER ALL_NON2XX ALL_ERRORS ALL_HWM
median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s–%s", lo, hi }'; }
sum() { awk '{ for (i = 1; i <= NF; i++) t += $i } END { print t + 0 }' <<<"$1"; }

for round in $(seq 1 "$ROUNDS"); do
if ((ROUNDS > 1)); then log "round $round of $ROUNDS"; fi
for mode in plain stream; do
    if [[ $mode == plain ]]; then body=$BODY_PLAIN; else body=$BODY_STREAM; fi
    for conns in "${CONNECTIONS[@]}"; do
        for target in "${TARGETS[@]}"; do
            url="$(target_url "$target")" auth="$(target_auth "$target")"
            gw_pid="$(target_pid "$target")"
            if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then run_wrk "$url" "$auth" "$body" "$conns" "$WARMUP" >/dev/null; fi
            log "measuring: $target $mode, $conns connection(s), $DURATION"
            read -r busy0 steal0 < <(busy_ticks "$WATCH_CPUS")
            gw0=$(cpu_ticks "$gw_pid")
            up0=$(cpu_ticks "$UPSTREAM_PID")
            cs0=$(ctx_switches "$gw_pid")
            result="$(run_wrk "$url" "$auth" "$body" "$conns" "$DURATION")"
            gw1=$(cpu_ticks "$gw_pid")
            up1=$(cpu_ticks "$UPSTREAM_PID")
            cs1=$(ctx_switches "$gw_pid")
            read -r busy1 steal1 < <(busy_ticks "$WATCH_CPUS")
            hwm=$(status_kb "$gw_pid" VmHWM)
            rss=$(status_kb "$gw_pid" VmRSS)

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
            ALL_RPS[$k]+=" $rps" ALL_P50[$k]+=" $p50_us" ALL_P99[$k]+=" $p99_us" ALL_CPU_US[$k]+=" $gw_us"
            ALL_CPU_PCT[$k]+=" $gw_pct" ALL_OTHER[$k]+=" $other_pct" ALL_NON2XX[$k]+=" $non2xx" ALL_ERRORS[$k]+=" $errors"
            ALL_HWM[$k]+=" $hwm"
            {
                printf '{"stamp":"%s","rev":"%s","round":%d,"target":"%s","stream":%s,"connections":%d,"wrk_threads":%d,"duration_s":%.3f,' \
                    "$STAMP" "$GIT_REV" "$round" "$target" "$([[ $mode == stream ]] && echo true || echo false)" "$conns" \
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
done
for k in "${!ALL_RPS[@]}"; do
    RPS[$k]=$(median "${ALL_RPS[$k]}") P50[$k]=$(median "${ALL_P50[$k]}") P99[$k]=$(median "${ALL_P99[$k]}")
    CPU_US[$k]=$(median "${ALL_CPU_US[$k]}") CPU_PCT[$k]=$(median "${ALL_CPU_PCT[$k]}") CPU_RANGE[$k]=$(spread "${ALL_CPU_US[$k]}")
    OTHER[$k]=$(median "${ALL_OTHER[$k]}") HWM[$k]=$(spread "${ALL_HWM[$k]}") HWM[$k]=${HWM[$k]#*–}
    ERRS[$k]="$(sum "${ALL_NON2XX[$k]}")/$(sum "${ALL_ERRORS[$k]}")"
done

# Fixed offered rate (hey -q per worker): latency at a steady load well below saturation, which is what a
# deployment sees; wrk above measures the most each one can do.
declare -A R_RPS R_P50 R_P99 R_CPU R_ERR R_ALL_RPS R_ALL_P50 R_ALL_P99 R_ALL_CPU R_ALL_ERR
run_hey() { # run_hey URL AUTH BODY → "rps p50_us p99_us non200 answers"; hey's report goes to the log
    local out headers=()
    if [[ -n "$2" ]]; then headers=(-H "Authorization: Bearer $2"); fi
    out="$("${LOAD_RUN[@]}" hey -z "$RATE_DURATION" -c "$RATE_WORKERS" -q $((RATE / RATE_WORKERS)) -t 10 -m POST \
        -T application/json "${headers[@]}" -d "$3" "$1/v1/chat/completions")"
    printf '%s\n' "$out" >>"$WORK/hey.log"
    awk '/Requests\/sec:/ { rps = $2 } / 50% in / { p50 = $3 * 1e6 } / 99% in / { p99 = $3 * 1e6 }
        /^Status code distribution:/ { sec = "status"; next } /^Error distribution:/ { sec = "error"; next }
        sec == "status" && /^ *\[[0-9]+\]/ { if ($1 != "[200]") bad += $2 }
        sec == "error" && /^ *\[[0-9]+\]/ { n = $1; gsub(/[^0-9]/, "", n); bad += n }
        sec == "status" && /^ *\[[0-9]+\]/ { n += $2 }
        END { printf "%.1f %.0f %.0f %d %d\n", rps, p50, p99, bad, n }' <<<"$out"
}
if [[ "$RATE" != 0 ]]; then
    # hey -q is per worker, and -q 0 means no limit at all.
    ((RATE >= RATE_WORKERS)) || die "BENCH_RATE ($RATE) must be at least BENCH_RATE_WORKERS ($RATE_WORKERS)"
    for round in $(seq 1 "$ROUNDS"); do
        for target in "${TARGETS[@]}"; do
            url="$(target_url "$target")" auth="$(target_auth "$target")"
            gw_pid="$(target_pid "$target")"
            log "measuring: $target at $RATE requests/s offered, $RATE_DURATION"
            gw0=$(cpu_ticks "$gw_pid")
            read -r rps p50 p99 bad answers < <(run_hey "$url" "$auth" "$BODY_PLAIN")
            gw1=$(cpu_ticks "$gw_pid")
            cpu=$(awk -v g=$((gw1 - gw0)) -v hz="$CLK_TCK" -v n="$answers" 'BEGIN { printf "%.1f", (n > 0 ? g / hz / n * 1e6 : 0) }')
            R_ALL_RPS[$target]+=" $rps" R_ALL_P50[$target]+=" $p50" R_ALL_P99[$target]+=" $p99" R_ALL_ERR[$target]+=" $bad"
            R_ALL_CPU[$target]+=" $cpu"
            printf '{"stamp":"%s","rev":"%s","round":%d,"target":"%s","stream":false,"offered_rps":%d,"workers":%d,"rps":%s,"p50_us":%s,"p99_us":%s,"non200":%d,"gateway_cpu_us_per_req":%s}\n' \
                "$STAMP" "$GIT_REV" "$round" "$target" "$RATE" "$RATE_WORKERS" "$rps" "$p50" "$p99" "$bad" "$cpu" >>"$JSONL"
        done
    done
    for target in "${TARGETS[@]}"; do
        R_RPS[$target]=$(median "${R_ALL_RPS[$target]}") R_P50[$target]=$(median "${R_ALL_P50[$target]}")
        R_P99[$target]=$(median "${R_ALL_P99[$target]}") R_CPU[$target]=$(median "${R_ALL_CPU[$target]}")
        R_ERR[$target]=$(sum "${R_ALL_ERR[$target]}")
    done
fi

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
if [[ -f "$WORK/hey.log" ]]; then cp "$WORK/hey.log" "$RESULTS_DIR/$STAMP-hey.log"; fi
if [[ "$LITELLM" == 1 ]]; then cp "$WORK/litellm.log" "$RESULTS_DIR/$STAMP-litellm.log"; fi

# ---------------------------------------------------------------------------------------------- report

ms() { awk -v u="$1" 'BEGIN { printf "%.3f", u / 1000 }'; }
# cpu KEY: a row's gateway CPU µs per request, with its lowest and highest over the rounds when there were several.
cpu() { if ((ROUNDS > 1)); then printf '%.1f (%s)' "${CPU_US[$1]}" "${CPU_RANGE[$1]}"; else printf '%.1f' "${CPU_US[$1]}"; fi; }
added() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.3f", (a - b) / 1000 }'; }

echo "## Trellis gateway overhead ($STAMP, rev $GIT_REV)"
echo
echo "- machine: $NPROC CPU ($CPU_MODEL), $((MEM_KB / 1024)) MiB RAM, $(uname -sr); busy before start: ${IDLE_BUSY_PCT}% (load average $LOADAVG)"
echo "- load: wrk $DURATION per row (after a $WARMUP warm-up), ≤$WRK_THREADS threads, POST /v1/chat/completions;" \
    "streamed answers are $CHUNKS content chunks + a usage chunk + [DONE]"
if ((ROUNDS > 1)); then
    echo "- rounds: every row measured $ROUNDS times, the targets taking turns in each round; each figure is the median of" \
        "its rounds (the gateway's CPU per request also with its lowest–highest), errors are summed; every round is in the" \
        "raw numbers"
fi
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
        printf '| %s | %s | %.0f | %.0f | %s / %s | %s / %s | %s / %s | %s | %.0f | %.0f | %s (direct %s) |\n' \
            "$label" "$conns" "${RPS[$d]}" "${RPS[$t]}" \
            "$(ms "${P50[$d]}")" "$(ms "${P99[$d]}")" "$(ms "${P50[$t]}")" "$(ms "${P99[$t]}")" \
            "$(added "${P50[$t]}" "${P50[$d]}")" "$(added "${P99[$t]}" "${P99[$d]}")" \
            "$(cpu "$t")" "${CPU_PCT[$t]}" "${OTHER[$t]}" "${ERRS[$t]}" "${ERRS[$d]}"
    done
done
echo
echo "Gateway peak RSS (VmHWM): $((HWM_KB / 1024)) MiB; RSS at the end: $((RSS_KB / 1024)) MiB; threads: $GATEWAY_THREADS;" \
    "gateway log lines at warning level or above: $LOG_LINES$( ((LOG_LINES > 0)) && echo " (see ${RESULTS_DIR#"$REPO"/}/$STAMP-trellis.log)")."
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "–" }'; }
if [[ "$LITELLM" == 1 ]]; then
    echo
    echo "### Side by side: Trellis and LiteLLM $LITELLM_VERSION"
    echo
    echo "Both pinned to the same CPU(s) ($([[ $PIN == 1 ]] && echo "$GATEWAY_CPUS" || echo all)), in front of the same upstream, with a bearer key checked on every" \
        "request; LiteLLM with one worker, no database, telemetry off, the bundled cost map. Added latency is over direct."
    echo
    echo "| mode | conns | Trellis req/s | LiteLLM req/s | Trellis ÷ LiteLLM | Trellis p50 / p99 ms | LiteLLM p50 / p99 ms | added p99 ms Trellis / LiteLLM | CPU µs/req Trellis / LiteLLM | peak RSS MiB Trellis / LiteLLM | non-2xx / socket errors Trellis / LiteLLM |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for mode in plain stream; do
        for conns in "${CONNECTIONS[@]}"; do
            d="direct/$mode/$conns" t="trellis/$mode/$conns" l="litellm/$mode/$conns"
            label=$([[ $mode == stream ]] && echo streaming || echo non-streaming)
            printf '| %s | %s | %.0f | %.0f | %s | %s / %s | %s / %s | %s / %s | %.0f / %.0f | %d / %d | %s / %s |\n' \
                "$label" "$conns" "${RPS[$t]}" "${RPS[$l]}" "$(ratio "${RPS[$t]}" "${RPS[$l]}")" \
                "$(ms "${P50[$t]}")" "$(ms "${P99[$t]}")" "$(ms "${P50[$l]}")" "$(ms "${P99[$l]}")" \
                "$(added "${P99[$t]}" "${P99[$d]}")" "$(added "${P99[$l]}" "${P99[$d]}")" \
                "${CPU_US[$t]}" "${CPU_US[$l]}" $((HWM[$t] / 1024)) $((HWM[$l] / 1024)) "${ERRS[$t]}" "${ERRS[$l]}"
        done
    done
fi
if [[ "$NGINX" == 1 ]]; then
    echo
    echo "### The physical floor: nginx $(nginx -v 2>&1 | sed 's|.*nginx/||') as a plain reverse proxy"
    echo
    echo "nginx pinned like Trellis, one worker, a keepalive pool to the same upstream, no buffering, no access log:" \
        "what two HTTP legs cost on this machine with no gateway work. Trellis ÷ nginx is Trellis's CPU per request" \
        "as a multiple of nginx's."
    echo
    echo "| mode | conns | nginx req/s | nginx p50 / p99 ms | added p99 ms nginx / Trellis | CPU µs/req nginx / Trellis | Trellis ÷ nginx CPU | non-2xx / socket errors nginx |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for mode in plain stream; do
        for conns in "${CONNECTIONS[@]}"; do
            d="direct/$mode/$conns" t="trellis/$mode/$conns" n="nginx/$mode/$conns"
            label=$([[ $mode == stream ]] && echo streaming || echo non-streaming)
            printf '| %s | %s | %.0f | %s / %s | %s / %s | %s / %s | %s | %s |\n' \
                "$label" "$conns" "${RPS[$n]}" "$(ms "${P50[$n]}")" "$(ms "${P99[$n]}")" \
                "$(added "${P99[$n]}" "${P99[$d]}")" "$(added "${P99[$t]}" "${P99[$d]}")" \
                "$(cpu "$n")" "$(cpu "$t")" "$(ratio "${CPU_US[$t]}" "${CPU_US[$n]}")" "${ERRS[$n]}"
        done
    done
fi
if [[ "$RATE" != 0 ]]; then
    echo
    echo "### At a fixed offered rate: $RATE requests/s, non-streaming ($RATE_DURATION, hey, $RATE_WORKERS workers)"
    echo
    echo "| target | achieved req/s | p50 ms | p99 ms | added p50 / p99 ms | gateway CPU µs/req | non-200 |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for target in "${TARGETS[@]}"; do
        if [[ $target == direct ]]; then extra="–" cpu="–"; else
            extra="$(added "${R_P50[$target]}" "${R_P50[direct]}") / $(added "${R_P99[$target]}" "${R_P99[direct]}")" cpu="${R_CPU[$target]}"
        fi
        printf '| %s | %.0f | %s | %s | %s | %s | %s |\n' "$target" "${R_RPS[$target]}" "$(ms "${R_P50[$target]}")" \
            "$(ms "${R_P99[$target]}")" "$extra" "$cpu" "${R_ERR[$target]}"
    done
    if [[ "$NGINX" == 1 ]]; then
        echo
        echo "Trellis ÷ nginx CPU per request at this rate: $(ratio "${R_CPU[trellis]}" "${R_CPU[nginx]}")."
    fi
fi
echo
echo "Raw numbers: ${JSONL#"$REPO"/}; gateway logs, wrk and hey reports next to it."
if [[ "$PROFILE" == 1 ]]; then
    echo "Profiles: ${RESULTS_DIR#"$REPO"/}/$STAMP-{plain,stream}.perf.txt (perf.data next to them)."
fi
