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

# The console's browser tests (Tests/e2e/test_console*.py) drive Debian's chromium through chromium-driver,
# installed here when missing and possible, with a Chinese font for the screenshots.
# TRELLIS_E2E_BROWSER=0 skips those tests instead.
has_cjk_font() { command -v fc-list >/dev/null 2>&1 && [[ -n "$(fc-list :lang=zh family 2>/dev/null)" ]]; }
# Installs Debian packages with apt-get when it can (as root, or through passwordless sudo); false otherwise.
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=()
  if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); fi
  [[ "$(id -u)" == 0 || ${#sudo[@]} -gt 0 ]] || return 1
  echo "[e2e] installing $* with apt-get" >&2
  if [[ $apt_updated == 0 ]]; then "${sudo[@]}" apt-get update -qq >&2 || true; apt_updated=1; fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}
if [[ "${TRELLIS_E2E_BROWSER:-1}" != 0 ]] && ! { command -v chromium && command -v chromedriver && has_cjk_font; } >/dev/null 2>&1; then
  apt_install chromium chromium-driver fonts-wqy-zenhei ||
    echo "[e2e] could not install chromium; the console tests will fail (TRELLIS_E2E_BROWSER=0 skips them)" >&2
fi
# PDF uploads are converted by poppler's pdftotext (Tests/TrellisServerTests/PDFTextTests, the upload cases here).
if ! command -v pdftotext >/dev/null 2>&1; then
  apt_install poppler-utils || echo "[e2e] could not install poppler-utils; PDF uploads are answered 415" >&2
fi

cd "$REPO"
exec "$VENV/bin/python" -m pytest -q Tests/e2e "$@"
