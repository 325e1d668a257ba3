#!/usr/bin/env bash
# Trellis side by side with the LiteLLM proxy, in one run on one machine:
#   1. bench/run.sh with BENCH_LITELLM=1: the compiled canned upstream (trellis-bench-upstream), reached directly,
#      through Trellis (release build) and through LiteLLM (PyPI, its own virtualenv, offline); wrk at 1 and 64
#      connections, non-streaming and streaming; then a fixed 1,000 requests/s with hey. Requests/s, p50/p99,
#      added latency, gateway CPU per request, peak RSS, and the Trellis ÷ LiteLLM ratio.
#   2. bench/ttft.sh: time to first token added by each gateway over the real SmolLM2 model server.
#
#   bench/compare.sh                     # ~4 min after the first install of LiteLLM and the model server
#
# Every setting of bench/run.sh and bench/ttft.sh applies (BENCH_DURATION, BENCH_CONNECTIONS, BENCH_RATE, …).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_LITELLM=1 "$REPO/bench/run.sh"
echo
BENCH_LITELLM=1 BENCH_SKIP_BUILD=1 "$REPO/bench/ttft.sh"
