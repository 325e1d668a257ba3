#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. unit and integration tests (swift test: real SQLite files, real sockets on 127.0.0.1 port 0,
#      a Swift mock upstream that fails on purpose);
#   2. the release build the container ships (static Swift standard library);
#   3. the end-to-end suite: that release binary in front of a real llama.cpp server, driven by the
#      official openai SDK and langchain-openai (the first run compiles llama.cpp: ~10 minutes,
#      then pip's cache makes it about a minute).
# Arguments are passed to pytest.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf '\n== %s\n' "$*"; }
started=$SECONDS

step "unit and integration tests (swift test)"
swift build --build-tests
swift test --skip-build

step "release build (as in docker/Dockerfile)"
swift build -c release --static-swift-stdlib --product trellis

step "end-to-end suite (llama.cpp + openai SDK + langchain-openai)"
TRELLIS_BIN="$REPO/.build/release/trellis" "$REPO/scripts/e2e.sh" "$@"

step "all tests passed in $((SECONDS - started)) s"
