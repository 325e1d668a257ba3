#!/usr/bin/env bash
# The long fuzzing run: Schemathesis generates requests from docs/openapi.yaml against a live gateway, with the
# operator key and with a tenant key, checking that nothing answers 5xx and every answer matches the spec.
# The short run of the same test is part of the test command (Tests/e2e/test_fuzz.py, 5 examples per operation).
#
#   scripts/fuzz.sh                      # 300 examples per operation and key: well over 10,000 requests
#   TRELLIS_FUZZ_EXAMPLES=50 scripts/fuzz.sh
#
# Needs a built gateway (TRELLIS_BIN, default .build/release/trellis, else .build/debug/trellis).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRELLIS_VENV:-$REPO/.venv}"
"$REPO/scripts/model-env.sh" >/dev/null
if [ -z "${TRELLIS_BIN:-}" ]; then
  TRELLIS_BIN="$REPO/.build/release/trellis"
  [ -x "$TRELLIS_BIN" ] || TRELLIS_BIN="$REPO/.build/debug/trellis"
fi
export TRELLIS_BIN
export TRELLIS_FUZZ_EXAMPLES="${TRELLIS_FUZZ_EXAMPLES:-300}"
cd "$REPO"
exec "$VENV/bin/python" -m pytest -q -s Tests/e2e/test_fuzz.py -k generated "$@"
