#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, the benchmarks and the demo: Debian's `postgresql` (installed
# when missing), run as an unprivileged user (the package's `postgres` user when started by root), in a
# temporary folder that holds the data and the socket, listening on a free port on 127.0.0.1 only, with
# password authentication (scram-sha-256) for the superuser `trellis`.
#
#   scripts/postgres.sh start DIR   start a cluster in DIR (created; must not exist); prints its URL
#   scripts/postgres.sh stop DIR    stop it and remove DIR
#   scripts/postgres.sh pause DIR [fast|immediate]
#                                   stop the server, keeping its data and port (an outage, for the fault
#                                   tests: fast ends sessions cleanly, immediate as a crash would)
#   scripts/postgres.sh resume DIR  start a paused server again on the same port
#
# The cluster trades durability for speed (fsync off): it exists for one test run and is then deleted.
set -euo pipefail

PASSWORD="trellis-test"

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
    if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
      echo "installing Debian's postgresql" >&2
      apt-get update -qq >&2 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      # The package starts a system cluster of its own; the tests use their own and need nothing else.
      if command -v pg_ctlcluster >/dev/null 2>&1; then
        service postgresql stop >/dev/null 2>&1 || true
      fi
      dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    fi
  fi
  if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
    echo "PostgreSQL cannot start: Debian's postgresql is not installed and cannot be installed here (run as root with apt)" >&2
    exit 1
  fi
  echo "$dir"
}

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir="$1" bin port
  bin="$(pg_bin)"
  if [[ -e "$dir" ]]; then echo "$dir exists; the cluster needs a new folder" >&2; exit 1; fi
  mkdir -p "$dir/data" "$dir/socket"
  printf '%s\n' "$PASSWORD" >"$dir/pwfile"
  if [[ "$(id -u)" == 0 ]]; then chown -R postgres: "$dir"; fi
  chmod 700 "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U trellis --pwfile="$dir/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    echo "PostgreSQL cannot start: initdb failed (see $dir/initdb.log)" >&2; cat "$dir/initdb.log" >&2; exit 1; }
  port="$(free_port)"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    >/dev/null || { echo "PostgreSQL cannot start: pg_ctl start failed (see $dir/server.log)" >&2; tail -20 "$dir/server.log" >&2 || true; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgres://trellis:$PASSWORD@127.0.0.1:$port/postgres"
}

stop() {
  local dir="$1" bin
  [[ -d "$dir/data" ]] || { rm -rf "$dir"; return 0; }
  bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

pause() {
  local dir="$1" mode="${2:-fast}" bin
  [[ -d "$dir/data" ]] || { echo "$dir holds no cluster" >&2; exit 1; }
  [[ "$mode" == fast || "$mode" == immediate ]] || { echo "pause mode must be fast or immediate" >&2; exit 2; }
  bin="$(pg_bin)"
  as_owner "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null
}

resume() {
  local dir="$1" bin port
  [[ -f "$dir/port" ]] || { echo "$dir holds no cluster" >&2; exit 1; }
  bin="$(pg_bin)"
  port="$(cat "$dir/port")"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    >/dev/null || { echo "PostgreSQL cannot resume: pg_ctl start failed (see $dir/server.log)" >&2; tail -20 "$dir/server.log" >&2 || true; exit 1; }
}

case "${1:-}" in
  start) start "${2:?usage: postgres.sh start DIR}" ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  pause) pause "${2:?usage: postgres.sh pause DIR [fast|immediate]}" "${3:-fast}" ;;
  resume) resume "${2:?usage: postgres.sh resume DIR}" ;;
  *) echo "usage: scripts/postgres.sh start|stop|pause|resume DIR" >&2; exit 2 ;;
esac
