#!/usr/bin/env bash
# Memory over a soak: Trellis (release build) in front of the canned upstream at a steady offered rate,
# non-streaming and streaming at once, for 10 minutes; the gateway's RSS is sampled every 10 s. Prints the
# samples and a summary: RSS before the load, at the first sample under load, the peak, at the end of the load
# and after it, with the request counts and any non-200 answers. Each RSS figure comes with its anonymous part
# (RssAnon: the heap, stacks, what the gateway allocated); the rest is the binary's own pages, mapped from its file
# and shared with the page cache.
#
#   bench/soak.sh
#   BENCH_SOAK_DURATION=30m BENCH_SOAK_RATE=800 bench/soak.sh
#
# Settings (environment):
#   BENCH_SOAK_DURATION=10m        length of the load (hey -z)
#   BENCH_SOAK_RATE=400            non-streaming requests/s offered
#   BENCH_SOAK_STREAM_RATE=100     streaming requests/s offered (at the same time)
#   BENCH_SOAK_INTERVAL=10         seconds between RSS samples
#   BENCH_CHUNKS, BENCH_SKIP_BUILD, BENCH_BUILD_FLAGS, BENCH_PIN, BENCH_GATEWAY_CPUS, BENCH_LOAD_CPUS as in bench/run.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${BENCH_SOAK_DURATION:-10m}"
RATE="${BENCH_SOAK_RATE:-400}"
STREAM_RATE="${BENCH_SOAK_STREAM_RATE:-100}"
INTERVAL="${BENCH_SOAK_INTERVAL:-10}"
CHUNKS="${BENCH_CHUNKS:-16}"

((RATE >= 10 && STREAM_RATE >= 10)) || { echo "bench: BENCH_SOAK_RATE and BENCH_SOAK_STREAM_RATE must be at least 10 (10 workers each)" >&2; exit 1; }

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
apt_install hey hey
setup_pinning
build_release
start_upstream "$CHUNKS" 1
start_trellis
register_model bench-model "$UPSTREAM_URL/v1" bench-model

MESSAGES='"messages":[{"role":"system","content":"You are a concise assistant."},{"role":"user","content":"Say hello in one short sentence."}]'
BODY_PLAIN="{\"model\":\"bench-model\",$MESSAGES,\"max_tokens\":64}"
BODY_STREAM="{\"model\":\"bench-model\",$MESSAGES,\"max_tokens\":64,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"

# hey -q is per worker: 10 workers for each stream of load.
load() { # load RATE BODY LOG (run in the background: exec, so that the job's pid is hey's own)
    exec "${LOAD_RUN[@]}" hey -z "$DURATION" -c 10 -q $(($1 / 10)) -t 10 -m POST -T application/json \
        -H "Authorization: Bearer $API_KEY" -d "$2" "$TRELLIS_URL/v1/chat/completions" >"$3" 2>&1
}

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
rss_mib() { awk -v k="$(status_kb "$TRELLIS_PID" "${1:-VmRSS}")" 'BEGIN { printf "%.1f", k / 1024 }'; }
BEFORE="$(rss_mib)"
BEFORE_ANON="$(rss_mib RssAnon)"
echo "## Soak: $DURATION at $RATE non-streaming + $STREAM_RATE streaming requests/s offered ($STAMP, rev $(git_rev))"
echo
echo "- machine: $(machine_line)$([[ $PIN == 1 ]] && echo "; trellis pinned to CPU $GATEWAY_CPUS, upstream and hey to CPU $LOAD_CPUS")"
echo
echo "| elapsed s | RSS MiB | of it anonymous MiB | gateway CPU % (interval) |"
echo "|---:|---:|---:|---:|"
load "$RATE" "$BODY_PLAIN" "$WORK/plain.log" &
PLAIN_PID=$!
load "$STREAM_RATE" "$BODY_STREAM" "$WORK/stream.log" &
STREAM_PID=$!
BENCH_PIDS+=("$PLAIN_PID" "$STREAM_PID")
started=$SECONDS
samples=()
anon_samples=()
ticks0=$(cpu_ticks "$TRELLIS_PID")
while kill -0 "$PLAIN_PID" 2>/dev/null || kill -0 "$STREAM_PID" 2>/dev/null; do
    sleep "$INTERVAL"
    kill -0 "$TRELLIS_PID" 2>/dev/null || die "trellis exited during the soak: $(tail -20 "$WORK/trellis.log")"
    # Only samples taken while both loads still ran count as "under load".
    if kill -0 "$PLAIN_PID" 2>/dev/null && kill -0 "$STREAM_PID" 2>/dev/null; then
        rss="$(rss_mib)"
        anon="$(rss_mib RssAnon)"
        samples+=("$rss")
        anon_samples+=("$anon")
        ticks1=$(cpu_ticks "$TRELLIS_PID")
        printf '| %d | %s | %s | %.0f |\n' $((SECONDS - started)) "$rss" "$anon" "$(awk -v t=$((ticks1 - ticks0)) -v hz="$CLK_TCK" -v i="$INTERVAL" 'BEGIN { print 100 * t / hz / i }')"
        ticks0=$ticks1
    fi
done
wait "$PLAIN_PID" "$STREAM_PID" || true
sleep 2
AFTER="$(rss_mib)"
AFTER_ANON="$(rss_mib RssAnon)"
((${#samples[@]} > 0)) || die "no sample under load (BENCH_SOAK_DURATION shorter than BENCH_SOAK_INTERVAL?)"

summary() { # summary LOG → "requests rps non200"
    awk '/Requests\/sec:/ { rps = $2 } /^Status code distribution:/ { sec = "s"; next } /^Error distribution:/ { sec = "e"; next }
        sec == "s" && /^ *\[[0-9]+\]/ { n += $2; if ($1 != "[200]") bad += $2 }
        sec == "e" && /^ *\[[0-9]+\]/ { c = $1; gsub(/[^0-9]/, "", c); bad += c }
        END { printf "%d %.0f %d\n", n, rps, bad }' "$1"
}
read -r plain_n plain_rps plain_bad < <(summary "$WORK/plain.log")
read -r stream_n stream_rps stream_bad < <(summary "$WORK/stream.log")
first="${samples[0]}" last="${samples[${#samples[@]} - 1]}"
peak="$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)"
echo
echo "| RSS before load | first sample under load | peak under load | end of load | 2 s after | end − first |"
echo "|---:|---:|---:|---:|---:|---:|"
printf '| %s MiB | %s MiB | %s MiB | %s MiB | %s MiB | %+.1f MiB |\n' "$BEFORE" "$first" "$peak" "$last" "$AFTER" \
    "$(awk -v a="$last" -v b="$first" 'BEGIN { print a - b }')"
anon_first="${anon_samples[0]}" anon_last="${anon_samples[${#anon_samples[@]} - 1]}"
printf '| of it anonymous: %s MiB | %s MiB | | %s MiB | %s MiB | %+.1f MiB |\n' "$BEFORE_ANON" "$anon_first" "$anon_last" "$AFTER_ANON" \
    "$(awk -v a="$anon_last" -v b="$anon_first" 'BEGIN { print a - b }')"
echo
echo "Answered: $plain_n non-streaming ($plain_rps/s, $plain_bad not 200) and $stream_n streaming ($stream_rps/s," \
    "$stream_bad not 200). Peak RSS (VmHWM) $(($(status_kb "$TRELLIS_PID" VmHWM) / 1024)) MiB;" \
    "log lines at warning or above: $(wc -l <"$WORK/trellis.log")."
