#!/usr/bin/env bash
# Runs Trellis on its embedded defaults (SQLite in ./data, 127.0.0.1:8080) in front of a real local
# model (SmolLM2-135M-Instruct on llama.cpp), with a demo tenant, key and models ready, and prints a
# curl line that works. Ctrl-C stops both.
#
#   scripts/demo.sh
#
# The first run installs llama-cpp-python into .venv and compiles llama.cpp (about 10 minutes on two
# cores); later runs reuse pip's cache and start in seconds.
#
# Environment: TRELLIS_PORT (8080), TRELLIS_MODEL_PORT (8081), TRELLIS_DATA_DIR (./data).
# The operator key is generated on first run and kept in <data>/admin.key (mode 600); the demo
# tenant's key in <data>/demo.key.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PORT="${TRELLIS_PORT:-8080}"
MODEL_PORT="${TRELLIS_MODEL_PORT:-8081}"
DATA="${TRELLIS_DATA_DIR:-$REPO/data}"
BASE="http://127.0.0.1:$PORT"
say() { printf '[demo] %s\n' "$*" >&2; }

command -v curl >/dev/null || { say "curl is needed (apt-get install curl)"; exit 1; }

say "preparing the model server's Python environment"
scripts/model-env.sh
scripts/model-server.sh --background --port "$MODEL_PORT"

say "building the gateway (release)"
swift build -c release --static-swift-stdlib --product trellis

mkdir -p "$DATA"
if [[ ! -s "$DATA/admin.key" ]]; then
  (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$DATA/admin.key")
fi
ADMIN_KEY="$(cat "$DATA/admin.key")"

say "starting the gateway on $BASE (data in $DATA)"
env -u TRELLIS_ADMIN_KEY TRELLIS_ADMIN_KEY_FILE="$DATA/admin.key" .build/release/trellis serve --port "$PORT" --data-dir "$DATA" &
GATEWAY=$!
stop() {
  kill -TERM "$GATEWAY" 2>/dev/null || true
  wait "$GATEWAY" 2>/dev/null || true
  scripts/model-server.sh --stop --port "$MODEL_PORT" || true
}
trap stop EXIT
trap 'exit 0' INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$GATEWAY" 2>/dev/null || { say "the gateway did not start"; exit 1; }
  sleep 0.1
done

admin() { # method path [json]; prints the body; 409 (already there) is fine
  local code
  code=$(curl -sS -o /tmp/trellis-demo.$$ -w '%{http_code}' -X "$1" "$BASE/admin/v1$2" \
    -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' ${3:+-d "$3"})
  if [[ "$code" != 2* && "$code" != 409 ]]; then
    say "admin call $1 $2 failed ($code): $(cat /tmp/trellis-demo.$$)"; rm -f /tmp/trellis-demo.$$; exit 1
  fi
  cat /tmp/trellis-demo.$$; rm -f /tmp/trellis-demo.$$
}

say "setting up the demo catalog through the admin API"
admin POST /tenants '{"name":"demo"}' >/dev/null
admin POST /upstreams "{\"name\":\"local\",\"base_url\":\"http://127.0.0.1:$MODEL_PORT/v1\",\"kind\":\"llamacpp\",\"labels\":[\"private\"]}" >/dev/null
admin POST /models '{"name":"assistant","description":"SmolLM2-135M-Instruct on the local llama.cpp server","spec":{"upstream":"local","model":"smollm2","params":{"temperature":0.2,"max_tokens":256}}}' >/dev/null
admin POST /models '{"name":"embedder","description":"SmolLM2 mean-pooled embeddings","spec":{"upstream":"local","model":"smollm2-embed"}}' >/dev/null

KEY=""
if [[ -s "$DATA/demo.key" ]]; then
  KEY="$(cat "$DATA/demo.key")"
  curl -fsS "$BASE/v1/models" -H "Authorization: Bearer $KEY" >/dev/null 2>&1 || KEY=""
fi
if [[ -z "$KEY" ]]; then
  KEY=$(admin POST /tenants/demo/keys '{"name":"demo","scopes":["inference","usage"]}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
  (umask 077 && printf '%s' "$KEY" > "$DATA/demo.key")
fi

cat <<MSG

  Trellis is running on $BASE with the local SmolLM2 model.

  Try it:

    curl $BASE/v1/chat/completions \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"model":"assistant","messages":[{"role":"user","content":"Say hello in one sentence."}]}'

  With the OpenAI SDK:  OpenAI(base_url="$BASE/v1", api_key="$KEY")
  Operator key (admin API, trellis CLI): $DATA/admin.key
  Stop with Ctrl-C.

MSG
wait "$GATEWAY"
