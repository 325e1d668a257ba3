#!/usr/bin/env bash
# What a SIGTERM and a `kill -9` cost one gateway under traffic (real binary, SQLite, the canned upstream):
# failed requests around a SIGTERM with and without the drain phase (server.drain_delay_ms), a second SIGTERM,
# and usage rows lost to `kill -9` against usage.flush_interval_ms x the answer rate. One JSON line per check.
#
#   scripts/restart-check.sh                      # all checks (about a minute)
#   scripts/restart-check.sh sigterm --stream     # arguments go to scripts/restart_check.py (--help lists them)
#
# Builds the debug binaries unless TRELLIS_BIN / TRELLIS_BENCH_UPSTREAM name binaries to use. Not part of the
# test suite: it sends sustained load.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
if [[ -z "${TRELLIS_BIN:-}" ]]; then
    swift build --product trellis >&2
    export TRELLIS_BIN="$REPO/.build/debug/trellis"
fi
if [[ -z "${TRELLIS_BENCH_UPSTREAM:-}" ]]; then
    swift build --product trellis-bench-upstream >&2
    export TRELLIS_BENCH_UPSTREAM="$REPO/.build/debug/trellis-bench-upstream"
fi
exec python3 "$REPO/scripts/restart_check.py" "$@"
