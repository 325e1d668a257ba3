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
#   scripts/postgres.sh start-tls DIR [NAMES]
#                                   start a cluster as `start` does, with TLS on and required: a throwaway CA
#                                   (DIR/ca.pem, for the client) signs a server certificate for NAMES (openssl
#                                   subjectAltName syntax; default IP:127.0.0.1,DNS:localhost); pg_hba.conf takes
#                                   TLS connections only (hostssl scram-sha-256, hostnossl reject). Prints the URL
#                                   with sslmode=verify-full&sslrootcert=DIR/ca.pem. pause/resume keep TLS on.
#   scripts/postgres.sh tls-ca DIR  make a throwaway CA in DIR (created when missing): DIR/ca.pem and DIR/ca.key
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
  if [[ "$(id -u)" == 0 ]] && ! runuser -u postgres -- test -x "$dir"; then
    echo "PostgreSQL cannot start: the user postgres cannot reach $dir (a parent folder is closed to it); use a folder under /tmp" >&2
    rm -rf "$dir"; exit 1
  fi
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

# A self-signed CA valid for two days, EC P-256 (quick to make): DIR/ca.pem, DIR/ca.key (0600).
tls_ca() {
  local dir="$1"
  command -v openssl >/dev/null 2>&1 || { echo "openssl is needed for TLS (apt-get install openssl)" >&2; return 1; }
  mkdir -p "$dir"
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=trellis throwaway CA $(openssl rand -hex 8)" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1) || { echo "openssl could not make a CA in $dir" >&2; return 1; }
  chmod 644 "$dir/ca.pem"
}

start_tls() {
  local dir="$1" names="${2:-IP:127.0.0.1,DNS:localhost}" bin url tls
  start "$dir" >/dev/null
  bin="$(pg_bin)"
  tls="$dir/tls"
  tls_ca "$tls" || { stop "$dir"; exit 1; }
  (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=trellis test server" \
      -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1 &&
    printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' "$names" >"$tls/server.ext" &&
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -CAserial "$tls/ca.srl" \
      -days 2 -extfile "$tls/server.ext" -out "$tls/server.crt" >/dev/null 2>&1) || {
    echo "openssl could not make the server certificate for $names" >&2; stop "$dir"; exit 1; }
  cp "$tls/ca.pem" "$dir/ca.pem"
  chmod 644 "$dir/ca.pem"
  # The server reads its key only when the cluster's user owns it and nobody else can read it.
  if [[ "$(id -u)" == 0 ]]; then chown -R postgres: "$tls" "$dir/ca.pem"; fi
  chmod 700 "$tls"
  chmod 600 "$tls/server.key" "$tls/ca.key"
  # In postgresql.conf, not on the command line, so that `resume` starts the server with TLS as well.
  printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$tls/server.crt" "$tls/server.key" >>"$dir/data/postgresql.conf"
  # TLS connections only: a plain one is refused by the server (hostnossl … reject).
  printf '%s\n' "local all all scram-sha-256" "hostnossl all all 127.0.0.1/32 reject" "hostssl all all 127.0.0.1/32 scram-sha-256" \
    >"$dir/data/pg_hba.conf"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null || {
    echo "PostgreSQL cannot start with TLS: pg_ctl restart failed (see $dir/server.log)" >&2; tail -20 "$dir/server.log" >&2 || true; stop "$dir"; exit 1; }
  echo "postgres://trellis:$PASSWORD@127.0.0.1:$(cat "$dir/port")/postgres?sslmode=verify-full&sslrootcert=$dir/ca.pem"
}

case "${1:-}" in
  start) start "${2:?usage: postgres.sh start DIR}" ;;
  stop) stop "${2:?usage: postgres.sh stop DIR}" ;;
  pause) pause "${2:?usage: postgres.sh pause DIR [fast|immediate]}" "${3:-fast}" ;;
  resume) resume "${2:?usage: postgres.sh resume DIR}" ;;
  start-tls) start_tls "${2:?usage: postgres.sh start-tls DIR [NAMES]}" "${3:-}" ;;
  tls-ca) tls_ca "${2:?usage: postgres.sh tls-ca DIR}" ;;
  *) echo "usage: scripts/postgres.sh start|start-tls|stop|pause|resume|tls-ca DIR" >&2; exit 2 ;;
esac
