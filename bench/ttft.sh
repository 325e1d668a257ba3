#!/usr/bin/env bash
# Time to first token added by each gateway, over a real model server: llama.cpp serving SmolLM2-135M
# (scripts/model-server.sh), reached directly, through Trellis, through the LiteLLM proxy and through nginx as a
# plain reverse proxy (the floor: what relaying a stream costs with no gateway work). Prints a Markdown table
# (bench/ttft.py). bench/ttft-wire.py takes a loopback capture of a run apart, leg by leg.
#
#   bench/ttft.sh
#   BENCH_TTFT_REQUESTS=100 BENCH_LITELLM=0 bench/ttft.sh
#
# Settings (environment): BENCH_TTFT_REQUESTS=40 (measured requests per target), BENCH_LITELLM=1 (0: no LiteLLM),
# BENCH_NGINX=1 (0: no nginx; installed with apt-get when missing and possible), BENCH_SKIP_BUILD, BENCH_BUILD_FLAGS, BENCH_PIN, BENCH_GATEWAY_CPUS, BENCH_LOAD_CPUS as in bench/run.sh
# (pinned, the gateways share CPU 0 and the model server runs on CPU 1).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQUESTS="${BENCH_TTFT_REQUESTS:-40}"
LITELLM="${BENCH_LITELLM:-1}"
NGINX="${BENCH_NGINX:-1}"

# shellcheck source=bench/lib.sh
source "$REPO/bench/lib.sh"
setup_pinning
build_release
if [[ "$LITELLM" == 1 ]]; then ensure_litellm; fi
if [[ "$NGINX" == 1 ]]; then apt_install nginx nginx; fi

# The model server: the e2e suite's venv (llama-cpp-python from pip's cache after the first build).
"$REPO/scripts/model-env.sh" >&2
MODEL_PORT="$(free_port)" || die "no free port"
MODEL_URL="http://127.0.0.1:$MODEL_PORT"
export TRELLIS_STATE_DIR="$WORK/model"
stop_model() { "$REPO/scripts/model-server.sh" --stop --port "$MODEL_PORT" >/dev/null 2>&1 || true; }
trap 'stop_model; cleanup' EXIT
log "starting the model server (SmolLM2-135M, llama.cpp)…"
"${LOAD_RUN[@]}" "$REPO/scripts/model-server.sh" --background --port "$MODEL_PORT" >&2

start_trellis
register_model smollm2 "$MODEL_URL/v1" smollm2
TARGETS=("direct=$MODEL_URL" "trellis=$TRELLIS_URL@$API_KEY")
if [[ "$LITELLM" == 1 ]]; then
    start_litellm smollm2 "$MODEL_URL/v1" smollm2
    TARGETS+=("litellm=$LITELLM_URL@$LITELLM_KEY")
fi
if [[ "$NGINX" == 1 ]]; then
    start_nginx "$MODEL_URL"
    TARGETS+=("nginx=$NGINX_URL")
fi

echo "## Time to first token over SmolLM2-135M (llama.cpp, 1 thread), $(date -u +%Y%m%dT%H%M%SZ), rev $(git_rev)"
echo
echo "- machine: $(machine_line)$([[ $PIN == 1 ]] && echo "; gateways pinned to CPU $GATEWAY_CPUS, model server to CPU $LOAD_CPUS")"
echo "- one request at a time, $REQUESTS per target after 3 warm-up ones, targets in rotating order, one keep-alive" \
    "connection each; TTFT = request written → first SSE event with content"
echo
python3 "$REPO/bench/ttft.py" --requests "$REQUESTS" "${TARGETS[@]}"
