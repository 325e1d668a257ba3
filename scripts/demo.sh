#!/usr/bin/env bash
# Runs Trellis on its embedded defaults (SQLite in ./data, 127.0.0.1:8080) in front of a real local
# model (SmolLM2-135M-Instruct on llama.cpp, plus a demonstration LoRA adapter), with the declarative
# catalog in config/catalog applied at start (tenants demo and claims-dept, the upstream, the prompt
# library, the adapter, the knowledge base `handbook` and the models), uploads the handbook's documents
# (config/knowledge/handbook, with `trellis kb ingest`), issues a key for each of the two tenants, and
# prints curl lines that work. Ctrl-C stops both.
#
#   scripts/demo.sh
#
# The first run installs llama-cpp-python into .venv and compiles llama.cpp (about 10 minutes on two
# cores); later runs reuse pip's cache and start in seconds. The first run also embeds the handbook's
# documents with SmolLM2 on one thread (about a minute); later runs find them already there.
#
# Environment: TRELLIS_PORT (8080), TRELLIS_MODEL_PORT (8081), TRELLIS_DATA_DIR (./data).
# config/catalog's upstream `local` is ${TRELLIS_CATALOG_LOCAL_URL}, which the demo sets to the model port.
# The operator key is generated on first run and kept in <data>/admin.key (mode 600); the tenants' keys
# in <data>/demo.key and <data>/claims-dept.key, reused while they work.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PORT="${TRELLIS_PORT:-8080}"
MODEL_PORT="${TRELLIS_MODEL_PORT:-8081}"
DATA="${TRELLIS_DATA_DIR:-$REPO/data}"
BASE="http://127.0.0.1:$PORT"
say() { printf '[demo] %s\n' "$*" >&2; }

command -v curl >/dev/null || { say "curl is needed (apt-get install curl)"; exit 1; }

say "preparing the model server's Python environment (and the demonstration LoRA adapter)"
scripts/model-env.sh
scripts/model-server.sh --background --port "$MODEL_PORT" >/dev/null

say "building the gateway (release)"
swift build -c release --static-swift-stdlib --product trellis >&2

mkdir -p "$DATA"
if [[ ! -s "$DATA/admin.key" ]]; then
  (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' > "$DATA/admin.key")
fi
ADMIN_KEY="$(cat "$DATA/admin.key")"

# The declarative catalog; its upstream `local` follows TRELLIS_CATALOG_LOCAL_URL.
CATALOG="$REPO/config/catalog"
export TRELLIS_CATALOG_LOCAL_URL="http://127.0.0.1:$MODEL_PORT/v1"

say "starting the gateway on $BASE (data in $DATA, catalog ${CATALOG#"$REPO"/})"
env -u TRELLIS_ADMIN_KEY TRELLIS_ADMIN_KEY_FILE="$DATA/admin.key" TRELLIS_CATALOG_DIR="$CATALOG" \
  .build/release/trellis serve --port "$PORT" --data-dir "$DATA" &
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
  kill -0 "$GATEWAY" 2>/dev/null || { say "the gateway did not start (its log above names any catalog problem)"; exit 1; }
  sleep 0.1
done

admin() { # method path [json]; prints the body
  local code
  code=$(curl -sS -o /tmp/trellis-demo.$$ -w '%{http_code}' -X "$1" "$BASE/admin/v1$2" \
    -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' ${3:+-d "$3"})
  if [[ "$code" != 2* ]]; then
    say "admin call $1 $2 failed ($code): $(cat /tmp/trellis-demo.$$)"; rm -f /tmp/trellis-demo.$$; exit 1
  fi
  cat /tmp/trellis-demo.$$; rm -f /tmp/trellis-demo.$$
}

# A tenant's key: the one kept in <data>/<tenant>.key while it still works, else a new one. Keys are
# never declared in the catalog: the admin API shows each key once.
tenant_key() { # tenant
  local file="$DATA/$1.key" key=""
  if [[ -s "$file" ]]; then
    key="$(cat "$file")"
    curl -fsS "$BASE/v1/models" -H "Authorization: Bearer $key" >/dev/null 2>&1 || key=""
  fi
  if [[ -z "$key" ]]; then
    key=$(admin POST "/tenants/$1/keys" '{"name":"demo","scopes":["inference","usage"]}' | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
    [[ -n "$key" ]] || { say "could not issue a key for the tenant $1"; exit 1; }
    (umask 077 && printf '%s' "$key" > "$file")
  fi
  printf '%s' "$key"
}

# The knowledge base is declared in config/catalog/50-knowledge.yaml; its documents are uploaded here (content
# already in the knowledge base is skipped, so this is quick after the first run).
say "ingesting config/knowledge/handbook into the knowledge base handbook (embedding with SmolLM2; the first run takes a minute)"
if ! TRELLIS_URL="$BASE" TRELLIS_ADMIN_KEY="$ADMIN_KEY" .build/release/trellis kb ingest handbook "$REPO/config/knowledge/handbook" --tenant demo >&2; then
  say "trellis kb ingest failed"; exit 1
fi

say "issuing (or reusing) a key for the tenants demo and claims-dept"
KEY="$(tenant_key demo)"
CLAIMS_KEY="$(tenant_key claims-dept)"

cat <<MSG

  Trellis is running on $BASE with the local SmolLM2 model and the catalog in ${CATALOG#"$REPO"/}.

  Try it. The tenant demo has assistant, customer-service (a library prompt with variables), embedder
  and handbook-assistant (RAG over the knowledge base handbook):

    curl $BASE/v1/chat/completions \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"model":"assistant","messages":[{"role":"user","content":"Say hello in one sentence."}]}'

    curl $BASE/v1/chat/completions \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"model":"customer-service","messages":[{"role":"user","content":"Can I change my address?"}],"variables":{"company":"Acme Mutual"}}'

  handbook-assistant answers from the knowledge base handbook (config/knowledge/handbook) and returns the
  passages it was given as "citations" (index, document_id, title, chunk_id, score, snippet):

    curl $BASE/v1/chat/completions \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"model":"handbook-assistant","messages":[{"role":"user","content":"航班延误4小时能赔多少钱？"}]}'

    curl $BASE/v1/knowledge-bases/handbook/search \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"query":"How long is the grace period?","top_k":3}'

  The Responses API (streaming with "stream": true), and the MCP server at /mcp for agents (its tools search
  the tenant's knowledge bases and ask its models; agent-assistant is served with function calling):

    curl $BASE/v1/responses \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"model":"assistant","input":"Say hello in one sentence.","instructions":"Be brief."}'

    curl $BASE/mcp \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'

  smart-assistant is a router model: short questions go to assistant, longer ones (and an empty answer) to
  assistant-careful; the answer's x-trellis-routed-to header names the model that answered:

    curl -i $BASE/v1/chat/completions \\
      -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \\
      -d '{"model":"smart-assistant","messages":[{"role":"user","content":"Say hello in one sentence."}]}'

  The tenant claims-dept has claims-assistant (few-shot prompt, variable policy_type) and
  claims-assistant-ft (the same with the LoRA adapter):

    curl $BASE/v1/chat/completions \\
      -H "Authorization: Bearer $CLAIMS_KEY" -H "Content-Type: application/json" \\
      -d '{"model":"claims-assistant","messages":[{"role":"user","content":"我的车被追尾了，怎么理赔？"}],"variables":{"policy_type":"车险"}}'

  With the OpenAI SDK:  OpenAI(base_url="$BASE/v1", api_key="$KEY")
                        client.chat.completions.create(..., extra_body={"variables": {...}})
  Operator key (admin API, trellis CLI): $DATA/admin.key
  Console: $BASE/console (sign in with the operator key, or a tenant key with the manage or usage scope)
  Stop with Ctrl-C.

MSG
wait "$GATEWAY"
