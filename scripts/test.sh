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

# The integration tests convert real PDFs with poppler's pdftotext (as the gateway does in production);
# installed here when missing and possible, so they run from the first CI run on a fresh machine.
if ! command -v pdftotext >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
  step "installing poppler-utils (pdftotext)"
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils || echo "could not install poppler-utils; the PDF tests will skip" >&2
fi

step "unit and integration tests (swift test)"
swift build --build-tests
swift test --skip-build

step "release build (as in docker/Dockerfile)"
swift build -c release --static-swift-stdlib --product trellis

step "end-to-end suite (llama.cpp + openai SDK + langchain-openai)"
TRELLIS_BIN="$REPO/.build/release/trellis" "$REPO/scripts/e2e.sh" "$@"

step "all tests passed in $((SECONDS - started)) s"
