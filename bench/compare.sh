#!/usr/bin/env bash
# Trellis side by side with the LiteLLM proxy and with nginx, in one run on one machine:
#   1. bench/run.sh with BENCH_LITELLM=1 BENCH_NGINX=1: the compiled canned upstream (trellis-bench-upstream),
#      reached directly, through Trellis (release build), through LiteLLM (PyPI, its own virtualenv, offline) and
#      through nginx (Debian's, a plain reverse proxy: the physical floor of two HTTP legs); wrk at 1 and 64
#      connections, non-streaming and streaming; then a fixed 1,000 requests/s with hey. Requests/s, p50/p99,
#      added latency, gateway CPU per request, peak RSS, the Trellis ÷ LiteLLM ratio and Trellis's CPU per request
#      as a multiple of nginx's.
#   2. bench/ttft.sh: time to first token added by each gateway over the real SmolLM2 model server.
# Every row of step 1 is measured three times, the targets taking turns, and each figure is the median of the three
# (BENCH_ROUNDS=3): a single 64-connection row of one binary moved by up to 40 % between runs on this machine.
#
#   bench/compare.sh                     # ~15 min after the first install of LiteLLM and the model server
#   BENCH_ROUNDS=1 bench/compare.sh      # one round, ~6 min
#
# Every setting of bench/run.sh and bench/ttft.sh applies (BENCH_DURATION, BENCH_CONNECTIONS, BENCH_RATE, …).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_LITELLM=1 BENCH_NGINX=1 BENCH_ROUNDS="${BENCH_ROUNDS:-3}" "$REPO/bench/run.sh"
echo
BENCH_LITELLM=1 BENCH_SKIP_BUILD=1 "$REPO/bench/ttft.sh"
