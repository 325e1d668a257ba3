#!/usr/bin/env bash
# A Trellis cluster on loopback: a throwaway PostgreSQL (scripts/postgres.sh), three `trellis serve` replicas
# sharing it (store.url) on free ports of 127.0.0.1, and nginx (Debian's package, installed with apt-get when
# missing and run as root) as their load balancer, run as an unprivileged process with its own prefix and
# configuration in the cluster's folder (config/nginx-cluster.conf: keepalive pool, retries on another replica,
# passive health, streaming), plus the active health check open-source nginx lacks: a loop that asks each
# replica's /readyz twice a second and takes the replicas that are not ready out of nginx's upstream (reload).
# The catalog in config/catalog is applied at start (as scripts/demo.sh does), the handbook's documents are
# uploaded, and a key is issued for the tenant demo.
#
#   scripts/cluster.sh                    start everything in a temporary folder, print curl lines that work
#                                         against nginx, wait; Ctrl-C (or any exit) stops everything and removes it
#   scripts/cluster.sh start DIR          start a cluster in DIR (new or empty, under /tmp) and return once nginx and
#                                         every replica answer; DIR/cluster.env says where everything is
#   scripts/cluster.sh stop DIR           stop the replicas, nginx, PostgreSQL and the model server; remove DIR
#   scripts/cluster.sh replica-stop DIR N [SIGNAL]
#                                         send SIGNAL (TERM; KILL for a crash) to replica N, wait for it to exit,
#                                         print its exit status (137 for KILL)
#   scripts/cluster.sh replica-start DIR N
#                                         start replica N again on its port, with its settings; return once its
#                                         /readyz answers 200
#
# DIR/cluster.env (NAME=VALUE lines): TRELLIS_CLUSTER_URL (nginx), TRELLIS_CLUSTER_REPLICA_<N>_URL,
# TRELLIS_CLUSTER_REPLICA_<N>_PID, TRELLIS_CLUSTER_REPLICAS, TRELLIS_CLUSTER_STORE_URL, TRELLIS_CLUSTER_ADMIN_KEY_FILE,
# TRELLIS_CLUSTER_DEMO_KEY_FILE, TRELLIS_CLUSTER_UPSTREAM_URL, TRELLIS_CLUSTER_NGINX_LOG (access log: status,
# upstream addresses and statuses per request). Replica N keeps its log in DIR/replica-N/trellis.log.
#
# Environment:
#   TRELLIS_BIN                 the gateway (default: the release build, built here like scripts/demo.sh does)
#   TRELLIS_CLUSTER_REPLICAS    how many replicas (3)
#   TRELLIS_CLUSTER_UPSTREAM    mock (default: Tests/e2e_cluster/mock_upstream.py, answers at once, python3 only),
#                               model (SmolLM2 on llama.cpp, scripts/model-server.sh, as scripts/demo.sh), or the
#                               API root of a model server already running (http://HOST:PORT/v1)
#   TRELLIS_CLUSTER_ENV         extra settings for every replica, "NAME=VALUE NAME2=VALUE2" (TRELLIS_* only)
#   TRELLIS_CLUSTER_CATALOG     1 (default): apply config/catalog and upload the handbook; 0: an empty catalog
#   TRELLIS_CLUSTER_NGINX_WORKERS  nginx worker processes (1)
#   TRELLIS_CLUSTER_READY_TIMEOUT  seconds to wait for a replica's /readyz (90)
#   TRELLIS_CLUSTER_HEALTH_INTERVAL_MS  how often the health check asks each replica's /readyz (500)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '[cluster] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

nginx_bin() {
  local found
  found="$(command -v nginx || true)"
  [[ -n "$found" ]] || { [[ -x /usr/sbin/nginx ]] && found=/usr/sbin/nginx; }
  if [[ -z "$found" ]]; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
      say "installing Debian's nginx"
      apt-get update -qq >&2 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >&2
      # The package starts a system nginx on port 80; the cluster runs its own and needs nothing else.
      service nginx stop >/dev/null 2>&1 || true
      [[ -x /usr/sbin/nginx ]] && found=/usr/sbin/nginx
    fi
  fi
  [[ -n "$found" ]] || die "nginx is not installed and cannot be installed here (run as root with apt, or apt-get install nginx)"
  echo "$found"
}

# The unprivileged user that runs nginx when this script runs as root (the package's www-data, else nobody).
nginx_user() {
  if id -u www-data >/dev/null 2>&1; then echo www-data; else echo nobody; fi
}

as_nginx_user() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u "$(nginx_user)" -- "$@"; else "$@"; fi
}

wait_http() { # wait_http SECONDS URL [PIDFILE]: until URL answers 2xx (while the process in PIDFILE lives)
  local deadline=$((SECONDS + $1)) url="$2" pidfile="${3:-}"
  until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
    if [[ -n "$pidfile" ]] && ! kill -0 "$(cat "$pidfile" 2>/dev/null || echo 0)" 2>/dev/null; then return 1; fi
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

env_get() { # env_get DIR NAME: a value from DIR/cluster.env
  sed -n "s/^$2=//p" "$1/cluster.env" | tail -1
}

env_set() { # env_set DIR NAME VALUE: (re)writes one line of DIR/cluster.env
  local tmp="$1/cluster.env.tmp"
  { grep -v "^$2=" "$1/cluster.env" 2>/dev/null || true; printf '%s=%s\n' "$2" "$3"; } >"$tmp"
  mv "$tmp" "$1/cluster.env"
}

# ------------------------------------------------------------------------------------------------ replicas

# replica_start DIR N: `trellis serve` for replica N on its port (DIR/replica-N/port, chosen on the first start)
# with the settings in DIR/replica.env, detached from this script (its output in DIR/replica-N/trellis.log, its
# pid in DIR/replica-N/pid, its exit status in DIR/replica-N/exit once it has ended); waits for /readyz.
replica_start() {
  local dir="$1" n="$2" rdir port bin
  rdir="$dir/replica-$n"
  mkdir -p "$rdir/data"
  [[ -s "$rdir/port" ]] || free_port >"$rdir/port"
  port="$(cat "$rdir/port")"
  bin="$(cat "$dir/bin")"
  if [[ -s "$rdir/pid" ]] && kill -0 "$(cat "$rdir/pid")" 2>/dev/null; then die "replica $n is running already (pid $(cat "$rdir/pid"))"; fi
  rm -f "$rdir/pid" "$rdir/exit"
  (
    cd "$rdir"
    # Only the cluster's settings: no TRELLIS_* from the caller's environment leaks in.
    while IFS= read -r name; do
      if [[ $name == TRELLIS_* ]]; then unset "$name"; fi
    done < <(compgen -e)
    set -a
    # shellcheck source=/dev/null
    source "$dir/replica.env"
    set +a
    "$bin" serve --host 127.0.0.1 --port "$port" --data-dir "$rdir/data" </dev/null >>"$rdir/trellis.log" 2>&1 &
    echo $! >"$rdir/pid"
    wait $! && status=0 || status=$?
    echo "$status" >"$rdir/exit"
  ) </dev/null >/dev/null 2>&1 &
  local deadline=$((SECONDS + 10))
  until [[ -s "$rdir/pid" ]]; do ((SECONDS < deadline)) || die "replica $n did not start"; sleep 0.05; done
  env_set "$dir" "TRELLIS_CLUSTER_REPLICA_${n}_URL" "http://127.0.0.1:$port"
  env_set "$dir" "TRELLIS_CLUSTER_REPLICA_${n}_PID" "$(cat "$rdir/pid")"
}

replica_wait_ready() { # replica_wait_ready DIR N
  local rdir="$1/replica-$2"
  wait_http "${TRELLIS_CLUSTER_READY_TIMEOUT:-90}" "http://127.0.0.1:$(cat "$rdir/port")/readyz" "$rdir/pid" || {
    tail -30 "$rdir/trellis.log" >&2 || true
    die "replica $2 did not become ready (its log: $rdir/trellis.log)"
  }
}

replica_stop() { # replica_stop DIR N SIGNAL: prints the exit status
  local dir="$1" n="$2" sig="${3:-TERM}" rdir pid deadline
  rdir="$dir/replica-$n"
  pid="$(cat "$rdir/pid" 2>/dev/null || true)"
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then cat "$rdir/exit" 2>/dev/null || echo gone; return 0; fi
  kill -"$sig" "$pid"
  # server.shutdown_grace_seconds (30 by default) plus a margin.
  deadline=$((SECONDS + 45))
  until [[ -s "$rdir/exit" ]]; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.05
  done
  cat "$rdir/exit"
}

# ------------------------------------------------------------------------------------------------ nginx

nginx_start() {
  local dir="$1" port="$2" bin ndir n
  bin="$(nginx_bin)"
  ndir="$dir/nginx"
  mkdir -p "$ndir/tmp"
  cp "$REPO/config/nginx-cluster.conf" "$ndir/trellis-cluster.conf"
  printf 'listen 127.0.0.1:%s;\n' "$port" >"$ndir/trellis-listen.conf"
  replicas_conf "$dir" $(seq 1 "$REPLICAS") >"$ndir/trellis-replicas.conf"
  # Two descriptors per proxied connection; an unprivileged nginx may raise its limit up to the hard one.
  local files
  files="$(ulimit -Hn)"
  [[ "$files" == unlimited || "$files" -gt 16384 ]] && files=16384
  cat >"$ndir/nginx.conf" <<EOF
# Written by scripts/cluster.sh: nginx as an unprivileged process, everything in $ndir.
worker_processes ${TRELLIS_CLUSTER_NGINX_WORKERS:-1};
worker_rlimit_nofile $files;
pid $ndir/nginx.pid;
error_log $ndir/error.log warn;
events { worker_connections $((files / 2)); }
http {
    log_format trellis '\$msec \$status \$request_method \$request_uri rt=\$request_time upstream=\$upstream_addr ustatus=\$upstream_status rid=\$upstream_http_x_request_id';
    access_log $ndir/access.log trellis;
    client_body_temp_path $ndir/tmp/body;
    proxy_temp_path $ndir/tmp/proxy;
    fastcgi_temp_path $ndir/tmp/fastcgi;
    uwsgi_temp_path $ndir/tmp/uwsgi;
    scgi_temp_path $ndir/tmp/scgi;
    include trellis-cluster.conf;
}
EOF
  if [[ "$(id -u)" == 0 ]]; then chown -R "$(nginx_user)" "$ndir"; fi
  as_nginx_user "$bin" -t -q -p "$ndir/" -c "$ndir/nginx.conf" -e "$ndir/error.log" ||
    die "nginx refused its configuration ($ndir/nginx.conf)"
  as_nginx_user "$bin" -p "$ndir/" -c "$ndir/nginx.conf" -e "$ndir/error.log" ||
    die "nginx did not start (see $ndir/error.log)"
  env_set "$dir" TRELLIS_CLUSTER_URL "http://127.0.0.1:$port"
  env_set "$dir" TRELLIS_CLUSTER_NGINX_LOG "$ndir/access.log"
}

# replicas_conf DIR [N...]: nginx's server lines for the replicas; those not named are marked down.
# Passive health on top: one failed attempt (refused, reset, timed out, 502/503) takes a replica out for 2 s, then
# one request tries it again (and goes on to the next replica if it fails).
replicas_conf() {
  local dir="$1" n line ready
  shift
  ready=" $* "
  for n in $(seq 1 "$REPLICAS"); do
    line="server 127.0.0.1:$(cat "$dir/replica-$n/port") max_fails=1 fail_timeout=2s"
    [[ "$ready" == *" $n "* ]] || line+=" down"
    printf '%s;\n' "$line"
  done
}

# health_loop DIR: the load balancer's active health check, which open-source nginx does not have: every
# TRELLIS_CLUSTER_HEALTH_INTERVAL_MS (500) it asks each replica's GET /readyz, marks the replicas that do not
# answer 200 `down` in nginx's upstream and reloads nginx when that changes (a graceful reload: requests in
# flight finish on the old workers). A replica told to stop answers 503 from the start of its drain phase, so
# nginx stops sending it new connections before its listener closes; a replica (re)starting gets traffic once
# it is ready. Runs until DIR is removed; its log is DIR/nginx/health.log.
health_loop() {
  local dir="$1" ndir="$1/nginx" interval n conf
  local -a ready
  interval="$(awk -v ms="${TRELLIS_CLUSTER_HEALTH_INTERVAL_MS:-500}" 'BEGIN { print ms / 1000 }')"
  while [[ -f "$dir/cluster.env" ]]; do
    ready=()
    for n in $(seq 1 "$REPLICAS"); do
      if curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$(cat "$dir/replica-$n/port")/readyz"; then ready+=("$n"); fi
    done
    conf="$(replicas_conf "$dir" "${ready[@]}")"
    if [[ -f "$dir/cluster.env" && "$conf" != "$(cat "$ndir/trellis-replicas.conf")" ]]; then
      printf '%s\n' "$conf" >"$ndir/trellis-replicas.conf.new"
      mv "$ndir/trellis-replicas.conf.new" "$ndir/trellis-replicas.conf"
      kill -HUP "$(cat "$ndir/nginx.pid")" 2>/dev/null || true
      echo "$(date -u +%H:%M:%S.%N | cut -c1-12) ready: ${ready[*]:-none}; nginx reloaded" >&2
    fi
    sleep "$interval"
  done
}

nginx_stop() {
  local ndir="$1/nginx" pid deadline
  [[ -s "$ndir/nginx.pid" ]] || return 0
  pid="$(cat "$ndir/nginx.pid")"
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
}

# ------------------------------------------------------------------------------------------------ the cluster

REPLICAS="${TRELLIS_CLUSTER_REPLICAS:-3}"

admin_call() { # admin_call DIR METHOD PATH [JSON]: the body; fails unless 2xx
  local dir="$1" out code
  out="$(mktemp "$dir/admin.XXXXXX")"
  code=$(curl -sS -o "$out" -w '%{http_code}' -X "$2" "$(env_get "$dir" TRELLIS_CLUSTER_URL)/admin/v1$3" \
    -H "Authorization: Bearer $(cat "$dir/admin.key")" -H 'Content-Type: application/json' ${4:+-d "$4"})
  if [[ "$code" != 2* ]]; then say "admin call $2 $3 failed ($code): $(cat "$out")"; rm -f "$out"; return 1; fi
  cat "$out"
  rm -f "$out"
}

start() {
  local dir="$1" pg_url store_url psql upstream nginx_port n bin
  [[ "$dir" == /tmp/* || "$dir" == "${TMPDIR:-/tmp}"/* ]] || die "the cluster's folder must be under /tmp (PostgreSQL runs as another user)"
  if [[ -e "$dir" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then die "$dir is not empty; the cluster needs a new folder"; fi
  command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
  nginx_bin >/dev/null
  mkdir -p "$dir"
  # PostgreSQL's user must be able to pass through it to its own folder inside.
  chmod 711 "$dir"
  : >"$dir/cluster.env"
  chmod 600 "$dir/cluster.env"

  bin="${TRELLIS_BIN:-}"
  if [[ -z "$bin" ]]; then
    say "building the gateway (release)"
    (cd "$REPO" && swift build -c release --static-swift-stdlib --product trellis >&2)
    bin="$REPO/.build/release/trellis"
  fi
  [[ "$bin" == /* ]] || bin="$REPO/$bin"
  [[ -x "$bin" ]] || die "no gateway at $bin (swift build, or set TRELLIS_BIN)"
  echo "$bin" >"$dir/bin"

  say "starting PostgreSQL (scripts/postgres.sh start $dir/pg)"
  pg_url="$("$REPO/scripts/postgres.sh" start "$dir/pg")" || die "PostgreSQL did not start"
  psql="$(ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)"
  "$psql" -X -q -d "$pg_url" -c 'CREATE DATABASE trellis' >/dev/null || die "could not create the database trellis"
  store_url="${pg_url%/postgres}/trellis"
  env_set "$dir" TRELLIS_CLUSTER_STORE_URL "$store_url"

  upstream="${TRELLIS_CLUSTER_UPSTREAM:-mock}"
  case "$upstream" in
    mock)
      local mport
      mport="$(free_port)"
      python3 "$REPO/Tests/e2e_cluster/mock_upstream.py" "$mport" </dev/null >"$dir/mock-upstream.log" 2>&1 &
      echo $! >"$dir/mock-upstream.pid"
      upstream="http://127.0.0.1:$mport/v1"
      wait_http 15 "$upstream/models" "$dir/mock-upstream.pid" || die "the mock upstream did not start: $(cat "$dir/mock-upstream.log")"
      ;;
    model)
      local mport
      mport="$(free_port)"
      "$REPO/scripts/model-env.sh"
      mkdir -p "$dir/model-server"
      echo "$mport" >"$dir/model-server/port"
      TRELLIS_STATE_DIR="$dir/model-server" "$REPO/scripts/model-server.sh" --background --port "$mport" >/dev/null
      upstream="http://127.0.0.1:$mport/v1"
      ;;
    http://* | https://*) ;;
    *) die "TRELLIS_CLUSTER_UPSTREAM must be mock, model or a URL" ;;
  esac
  env_set "$dir" TRELLIS_CLUSTER_UPSTREAM_URL "$upstream"

  (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$dir/admin.key")
  env_set "$dir" TRELLIS_CLUSTER_ADMIN_KEY_FILE "$dir/admin.key"
  {
    echo "TRELLIS_ADMIN_KEY_FILE=$dir/admin.key"
    echo "TRELLIS_STORE_URL=$store_url"
    echo "TRELLIS_CATALOG_LOCAL_URL=$upstream"
    if [[ "${TRELLIS_CLUSTER_CATALOG:-1}" == 1 ]]; then echo "TRELLIS_CATALOG_DIR=$REPO/config/catalog"; fi
    # The drain phase on SIGTERM (/readyz 503 at once, requests still answered with Connection: close, then the
    # listener closes), where the gateway has it: 2 s rather than the default 5 s, which is sized for a load
    # balancer that probes /readyz; this nginx does not probe, so the drain only has to let the connections it
    # keeps open be answered with Connection: close before the listener goes (a shorter rolling restart).
    if "$bin" serve --help 2>&1 | grep -q 'server.drain_delay_ms'; then echo "TRELLIS_SERVER_DRAIN_DELAY_MS=2000"; fi
    for setting in ${TRELLIS_CLUSTER_ENV:-}; do
      [[ "$setting" == TRELLIS_*=* ]] || die "TRELLIS_CLUSTER_ENV takes TRELLIS_NAME=VALUE settings, not $setting"
      echo "$setting"
    done
  } >"$dir/replica.env"
  chmod 600 "$dir/replica.env"

  # Replica 1 first (it migrates the new database and applies the catalog), then the others together.
  say "starting $REPLICAS replicas of $bin"
  replica_start "$dir" 1
  replica_wait_ready "$dir" 1
  for n in $(seq 2 "$REPLICAS"); do replica_start "$dir" "$n"; done
  for n in $(seq 2 "$REPLICAS"); do replica_wait_ready "$dir" "$n"; done
  env_set "$dir" TRELLIS_CLUSTER_REPLICAS "$REPLICAS"

  nginx_port="$(free_port)"
  say "starting nginx on 127.0.0.1:$nginx_port"
  nginx_start "$dir" "$nginx_port"
  wait_http 15 "http://127.0.0.1:$nginx_port/readyz" || die "nginx does not answer (see $dir/nginx/error.log)"
  ( health_loop "$dir" ) </dev/null >/dev/null 2>>"$dir/nginx/health.log" &
  echo $! >"$dir/health.pid"

  if [[ "${TRELLIS_CLUSTER_CATALOG:-1}" == 1 ]]; then
    local key
    key="$(admin_call "$dir" POST /tenants/demo/keys '{"name":"cluster","scopes":["inference","usage"]}' |
      sed -n 's/.*"key":"\([^"]*\)".*/\1/p')"
    [[ -n "$key" ]] || die "could not issue a key for the tenant demo"
    (umask 077 && printf '%s' "$key" >"$dir/demo.key")
    env_set "$dir" TRELLIS_CLUSTER_DEMO_KEY_FILE "$dir/demo.key"
    say "uploading config/knowledge/handbook into the knowledge base handbook (through nginx)"
    TRELLIS_URL="$(env_get "$dir" TRELLIS_CLUSTER_URL)" TRELLIS_ADMIN_KEY="$(cat "$dir/admin.key")" \
      "$bin" kb ingest handbook "$REPO/config/knowledge/handbook" --tenant demo >"$dir/ingest.log" 2>&1 ||
      { cat "$dir/ingest.log" >&2; die "trellis kb ingest failed"; }
  fi
  say "cluster ready: nginx on $(env_get "$dir" TRELLIS_CLUSTER_URL), replicas $(for n in $(seq 1 "$REPLICAS"); do printf '%s ' "$(cat "$dir/replica-$n/port")"; done)"
}

stop() {
  local dir="$1" n
  [[ -d "$dir" ]] || return 0
  [[ -f "$dir/cluster.env" ]] || die "$dir holds no cluster (no cluster.env)"
  if [[ -s "$dir/health.pid" ]]; then kill -TERM "$(cat "$dir/health.pid")" 2>/dev/null || true; fi
  nginx_stop "$dir"
  for rdir in "$dir"/replica-*; do
    [[ -d "$rdir" ]] || continue
    n="${rdir##*-}"
    replica_stop "$dir" "$n" TERM >/dev/null || true
  done
  if [[ -s "$dir/mock-upstream.pid" ]]; then kill -TERM "$(cat "$dir/mock-upstream.pid")" 2>/dev/null || true; fi
  if [[ -s "$dir/model-server/port" ]]; then
    TRELLIS_STATE_DIR="$dir/model-server" "$REPO/scripts/model-server.sh" --stop --port "$(cat "$dir/model-server/port")" >/dev/null 2>&1 || true
  fi
  "$REPO/scripts/postgres.sh" stop "$dir/pg" || true
  rm -rf "$dir"
}

CLUSTER_DIR=""
SLEEPER=""
interactive() {
  local dir base key
  dir="$(mktemp -d "${TMPDIR:-/tmp}/trellis-cluster.XXXXXX")"
  CLUSTER_DIR="$dir"
  trap 'if [[ -n "$SLEEPER" ]]; then kill "$SLEEPER" 2>/dev/null || true; fi; stop "$CLUSTER_DIR"' EXIT
  trap 'exit 0' INT TERM
  start "$dir"
  base="$(env_get "$dir" TRELLIS_CLUSTER_URL)"
  key="$(cat "$dir/demo.key" 2>/dev/null || echo '<a tenant key>')"
  cat <<MSG

  A Trellis cluster is running: nginx on $base in front of $REPLICAS replicas sharing PostgreSQL
  ($(env_get "$dir" TRELLIS_CLUSTER_STORE_URL | sed 's|://\([^:]*\):[^@]*@|://\1:***@|')), upstream $(env_get "$dir" TRELLIS_CLUSTER_UPSTREAM_URL).
  Everything is in $dir (replica logs: replica-N/trellis.log; nginx: nginx/access.log, nginx/error.log).

    curl $base/v1/chat/completions \\
      -H "Authorization: Bearer $key" -H "Content-Type: application/json" \\
      -d '{"model":"assistant","messages":[{"role":"user","content":"Say hello in one sentence."}]}'

    curl -N $base/v1/chat/completions \\
      -H "Authorization: Bearer $key" -H "Content-Type: application/json" \\
      -d '{"model":"customer-service","stream":true,"messages":[{"role":"user","content":"Can I change my address?"}],"variables":{"company":"Acme Mutual"}}'

    curl $base/v1/knowledge-bases/handbook/search \\
      -H "Authorization: Bearer $key" -H "Content-Type: application/json" \\
      -d '{"query":"grace period","top_k":3,"mode":"keyword"}'

    curl "$base/admin/v1/usage?group_by=model" -H "Authorization: Bearer \$(cat $dir/admin.key)"

  Each replica alone: $(for n in $(seq 1 "$REPLICAS"); do printf '%s ' "$(env_get "$dir" "TRELLIS_CLUSTER_REPLICA_${n}_URL")"; done)
  Operator key: $dir/admin.key. Stop with Ctrl-C (removes everything).

MSG
  while true; do
    sleep 3600 &
    SLEEPER=$!
    wait "$SLEEPER"
  done
}

case "${1:-}" in
  "") interactive ;;
  start) start "${2:?usage: cluster.sh start DIR}" ;;
  stop) stop "${2:?usage: cluster.sh stop DIR}" ;;
  replica-stop) replica_stop "${2:?usage: cluster.sh replica-stop DIR N [SIGNAL]}" "${3:?replica number}" "${4:-TERM}" ;;
  replica-start)
    replica_start "${2:?usage: cluster.sh replica-start DIR N}" "${3:?replica number}"
    replica_wait_ready "$2" "$3"
    ;;
  -h | --help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}" ;;
  *) echo "usage: scripts/cluster.sh [start DIR | stop DIR | replica-start DIR N | replica-stop DIR N [SIGNAL]]" >&2; exit 2 ;;
esac
