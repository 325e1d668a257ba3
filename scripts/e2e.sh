#!/usr/bin/env bash
# End-to-end suite: the built gateway, a real llama.cpp model server and the official
# openai / langchain-openai clients.
#
#   scripts/e2e.sh                 # everything
#   scripts/e2e.sh -k streaming    # arguments go to pytest
#
# Needs a built gateway (swift build; TRELLIS_BIN overrides .build/debug/trellis).
# TRELLIS_E2E_MODEL_URL=http://127.0.0.1:8081/v1 reuses a model server that is already
# running instead of starting one. See Tests/e2e/conftest.py for the other variables.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRELLIS_VENV:-$REPO/.venv}"

"$REPO/scripts/model-env.sh"

cd "$REPO"
exec "$VENV/bin/python" -m pytest -q Tests/e2e "$@"
