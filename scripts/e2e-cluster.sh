#!/usr/bin/env bash
# The cluster end-to-end suite (Tests/e2e_cluster): scripts/cluster.sh starts a throwaway PostgreSQL, three
# `trellis serve` replicas sharing it and nginx as their load balancer on 127.0.0.1, with the mock upstream
# (answers at once); the official openai SDK drives the replicas and nginx: propagation of revocation, traffic,
# prompts and limits, the cluster-wide rate limit's overshoot, knowledge search and usage across replicas, a
# rolling restart and a kill -9 under traffic. A few minutes; scripts/test.sh runs it after the end-to-end suite.
#
#   scripts/e2e-cluster.sh                 # everything
#   scripts/e2e-cluster.sh -k rolling      # arguments go to pytest
#
# Needs the release build (TRELLIS_BIN overrides .build/release/trellis), nginx (scripts/cluster.sh installs
# Debian's when missing and run as root) and the Python environment of the end-to-end suite (scripts/model-env.sh).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRELLIS_VENV:-$REPO/.venv}"
if ! "$VENV/bin/python" -c 'import openai, pytest, requests' 2>/dev/null; then
  "$REPO/scripts/model-env.sh"
fi
cd "$REPO"
exec "$VENV/bin/python" -m pytest -q Tests/e2e_cluster "$@"
