# Shared by the benchmark scripts (bench/run.sh, bench/compare.sh, bench/soak.sh): prerequisites, the
# processes under test (the canned upstream, trellis, the LiteLLM proxy), the catalog, and /proc readings.
# Source it after setting REPO; it defines functions and a few variables and starts nothing by itself.
# shellcheck shell=bash

log() { printf '%s\n' "$*" >&2; }
die() {
    log "bench: $*"
    exit 1
}

[[ -r /proc/self/stat ]] || die "needs Linux /proc"
command -v curl >/dev/null || die "needs curl"

# apt_install PACKAGE COMMAND: installs PACKAGE with apt-get unless COMMAND is already on PATH.
apt_install() {
    command -v "$2" >/dev/null && return 0
    log "$2 is not installed; installing $1 with apt-get"
    command -v apt-get >/dev/null || die "needs $2 (apt-get install $1)"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null || die "needs $2: run 'apt-get install $1' as root"
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >&2
}

NPROC="$(nproc)"
CLK_TCK="$(getconf CLK_TCK)"

# Settings every script shares (documented in bench/run.sh): pinning, and how the binaries are built.
PIN="${BENCH_PIN:-auto}"
GATEWAY_CPUS="${BENCH_GATEWAY_CPUS:-0}"
LOAD_CPUS="${BENCH_LOAD_CPUS:-1}"
GATEWAY_LOOPS="${BENCH_GATEWAY_LOOPS:-}"
SKIP_BUILD="${BENCH_SKIP_BUILD:-0}"
read -r -a BUILD_FLAGS <<<"${BENCH_BUILD_FLAGS-"--static-swift-stdlib"}"

# setup_pinning: sets GATEWAY_RUN / LOAD_RUN (taskset prefixes) and GATEWAY_LOOPS from PIN, GATEWAY_CPUS,
# LOAD_CPUS and GATEWAY_LOOPS; PIN=auto pins when there are at least 2 CPUs and taskset exists.
setup_pinning() {
    if [[ "$PIN" == auto ]]; then
        if ((NPROC >= 2)) && command -v taskset >/dev/null; then PIN=1; else PIN=0; fi
    fi
    GATEWAY_RUN=()
    LOAD_RUN=()
    if [[ "$PIN" == 1 ]]; then
        command -v taskset >/dev/null || die "BENCH_PIN=1 needs taskset (util-linux)"
        GATEWAY_RUN=(taskset -c "$GATEWAY_CPUS")
        LOAD_RUN=(taskset -c "$LOAD_CPUS")
        if [[ -z "$GATEWAY_LOOPS" ]]; then
            # One event loop per CPU the gateway may use: NIO counts the machine's cores, not the affinity mask.
            GATEWAY_LOOPS="$(taskset -c "$GATEWAY_CPUS" nproc)"
        fi
    fi
}

# build_release: the release binaries (unless SKIP_BUILD=1); sets TRELLIS and UPSTREAM.
build_release() {
    cd "$REPO"
    if [[ "$SKIP_BUILD" != 1 ]]; then
        log "building (release)…"
        # swift build takes a single --product, so one call per product.
        swift build -c release "${BUILD_FLAGS[@]}" --product trellis >&2
        swift build -c release "${BUILD_FLAGS[@]}" --product trellis-bench-upstream >&2
    fi
    local bin
    bin="$(swift build -c release "${BUILD_FLAGS[@]}" --show-bin-path)"
    TRELLIS="$bin/trellis"
    UPSTREAM="$bin/trellis-bench-upstream"
    [[ -x "$TRELLIS" && -x "$UPSTREAM" ]] || die "binaries missing in $bin (unset BENCH_SKIP_BUILD)"
}

# ---------------------------------------------------------------------------------------------- processes

WORK="$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench.XXXXXX")"
BENCH_PIDS=()
TRELLIS_WRAPPER=()
TRELLIS_READY_SECONDS=60
cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "${BENCH_PG_DIR:-}" ]]; then "$REPO/scripts/postgres.sh" stop "$BENCH_PG_DIR" || true; fi
    if [[ -n "${NGINX_DIR:-}" ]]; then rm -rf "$NGINX_DIR"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    local port _
    for _ in $(seq 1 200); do
        port=$(((RANDOM * 32768 + RANDOM) % 25000 + 30000))
        # A refused connection means nothing listens there.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

wait_for() { # wait_for SECONDS PID COMMAND...: until COMMAND succeeds, while PID lives
    local deadline=$((SECONDS + $1)) pid=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# start_upstream CHUNKS THREADS: the canned upstream on a port of its choosing; sets UPSTREAM_PID, UPSTREAM_URL.
start_upstream() {
    "${LOAD_RUN[@]}" "$UPSTREAM" --host 127.0.0.1 --port 0 --threads "$2" --chunks "$1" >"$WORK/upstream.log" 2>&1 &
    UPSTREAM_PID=$!
    BENCH_PIDS+=("$UPSTREAM_PID")
    wait_for 10 "$UPSTREAM_PID" grep -q 'listening on' "$WORK/upstream.log" ||
        die "upstream did not start: $(cat "$WORK/upstream.log")"
    UPSTREAM_URL="http://127.0.0.1:$(sed -n 's|.*listening on http://[^:]*:\([0-9]*\).*|\1|p' "$WORK/upstream.log")"
}

# start_trellis: `trellis serve` on a free port with a fresh data directory; sets TRELLIS_PID, TRELLIS_URL, ADMIN_KEY.
# TRELLIS_WRAPPER (an array) runs it under another program (bench/instructions.sh: valgrind), which may need
# longer than TRELLIS_READY_SECONDS to be ready.
# The store of the gateway under test (BENCH_STORE_URL): unset for SQLite in its data directory (the default),
# `postgres` for a throwaway PostgreSQL cluster started here (scripts/postgres.sh), or the postgres:// URL of an
# empty database.
start_trellis() {
    local store=""
    if [[ "${BENCH_STORE_URL:-}" == postgres ]]; then
        # Its own folder under /tmp: the cluster runs as another user, who cannot enter $WORK (mode 0700).
        BENCH_PG_DIR="$(mktemp -d -u "${TMPDIR:-/tmp}/trellis-bench-pg.XXXXXX")"
        # Pinned with the load (the upstream and wrk), not on the gateway's CPUs: the database is the load's side.
        store="$("${LOAD_RUN[@]}" "$REPO/scripts/postgres.sh" start "$BENCH_PG_DIR")" || die "PostgreSQL did not start"
    elif [[ -n "${BENCH_STORE_URL:-}" ]]; then
        store="$BENCH_STORE_URL"
    fi
    ADMIN_KEY="bench-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    local port
    port="$(free_port)" || die "no free port"
    TRELLIS_URL="http://127.0.0.1:$port"
    mkdir -p "$WORK/data"
    # The binary's pages leave the page cache first, so that its RSS counts what a start from disk maps (as in a
    # container) and not the larger runs that a build's fresh writes leave mapped: a just-linked binary started
    # about 4 MiB larger on this machine's kernel.
    sync "$TRELLIS" && dd if="$TRELLIS" iflag=nocache count=0 status=none || log "could not drop $TRELLIS from the page cache"
    (
        cd "$WORK"
        if [[ -n "$GATEWAY_LOOPS" ]]; then export NIO_SINGLETON_GROUP_LOOP_COUNT="$GATEWAY_LOOPS"; fi
        # Only what the benchmark sets: no TRELLIS_* from the caller's environment leaks in.
        while IFS= read -r name; do
            if [[ $name == TRELLIS_* ]]; then unset "$name"; fi
        done < <(compgen -e)
        export TRELLIS_ADMIN_KEY="$ADMIN_KEY" TRELLIS_LOG_LEVEL=warning
        # BENCH_TRELLIS_ENV="NAME=VALUE …": extra settings for the gateway under test (e.g. to compare two).
        for setting in ${BENCH_TRELLIS_ENV:-}; do export "${setting?}"; done
        if [[ -n "$store" ]]; then export TRELLIS_STORE_URL="$store"; fi
        exec "${GATEWAY_RUN[@]}" "${TRELLIS_WRAPPER[@]}" "$TRELLIS" serve --host 127.0.0.1 --port "$port" --data-dir "$WORK/data"
    ) >"$WORK/trellis.log" 2>&1 &
    TRELLIS_PID=$!
    BENCH_PIDS+=("$TRELLIS_PID")
    wait_for "$TRELLIS_READY_SECONDS" "$TRELLIS_PID" curl -fsS "$TRELLIS_URL/readyz" ||
        die "trellis did not become ready: $(tail -20 "$WORK/trellis.log")"
    # The subshell execs, so $! is trellis itself (or its wrapper); check rather than assume.
    if ((${#TRELLIS_WRAPPER[@]} == 0)); then
        [[ "$(cat "/proc/$TRELLIS_PID/comm")" == trellis ]] || die "pid $TRELLIS_PID is $(cat "/proc/$TRELLIS_PID/comm"), not trellis"
    fi
}

admin() { # admin PATH JSON → response body; fails unless 2xx
    curl -fsS -X POST "$TRELLIS_URL/admin/v1$1" -H "Authorization: Bearer $ADMIN_KEY" \
        -H 'Content-Type: application/json' -d "$2"
}

# register_model NAME UPSTREAM_BASE_URL UPSTREAM_MODEL: a tenant, an upstream, a model and an inference key;
# sets API_KEY. Call once per trellis.
register_model() {
    admin /tenants '{"name":"bench"}' >/dev/null
    admin /upstreams "{\"name\":\"bench-upstream\",\"base_url\":\"$2\",\"kind\":\"openai\"}" >/dev/null
    admin /models "{\"name\":\"$1\",\"spec\":{\"upstream\":\"bench-upstream\",\"model\":\"$3\"}}" >/dev/null
    local key_json
    key_json="$(admin /tenants/bench/keys '{"name":"bench","scopes":["inference"]}')"
    API_KEY="$(printf '%s' "$key_json" | sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')"
    [[ -n "$API_KEY" ]] || die "no key in: $key_json"
}

# The LiteLLM proxy, from PyPI into its own virtualenv, fully offline: the bundled model cost map, no
# telemetry, no database, one worker. LITELLM_VERSION pins the release measured.
LITELLM_VERSION="${BENCH_LITELLM_VERSION:-1.106.12}"
LITELLM_VENV="${BENCH_LITELLM_VENV:-$REPO/bench/.venv-litellm}"
ensure_litellm() {
    if ! "$LITELLM_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
        log "installing litellm[proxy]==$LITELLM_VERSION into $LITELLM_VENV (once)…"
        command -v python3 >/dev/null || die "needs python3 (with venv) for LiteLLM"
        python3 -m venv "$LITELLM_VENV" || die "python3 -m venv failed (apt-get install python3-venv)"
        "$LITELLM_VENV/bin/pip" install -q --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" >&2
    fi
}

# start_litellm MODEL UPSTREAM_BASE_URL UPSTREAM_MODEL: the proxy on a free port, pinned like trellis, with a
# master key (so it checks a bearer key per request, as trellis does); sets LITELLM_PID, LITELLM_URL, LITELLM_KEY.
start_litellm() {
    local port
    port="$(free_port)" || die "no free port"
    LITELLM_URL="http://127.0.0.1:$port"
    LITELLM_KEY="sk-bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    cat >"$WORK/litellm.yaml" <<EOF
model_list:
  - model_name: $1
    litellm_params:
      model: openai/$3
      api_base: $2
      api_key: none
litellm_settings:
  telemetry: false
  set_verbose: false
  json_logs: false
general_settings:
  master_key: $LITELLM_KEY
EOF
    (
        cd "$WORK"
        export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_TELEMETRY=False LITELLM_LOG=ERROR \
            DISABLE_ADMIN_UI=True NO_DOCS=True NO_PROXY=127.0.0.1,localhost
        unset DATABASE_URL
        exec "${GATEWAY_RUN[@]}" "$LITELLM_VENV/bin/litellm" --config "$WORK/litellm.yaml" --host 127.0.0.1 \
            --port "$port" --num_workers 1
    ) >"$WORK/litellm.log" 2>&1 &
    LITELLM_PID=$!
    BENCH_PIDS+=("$LITELLM_PID")
    wait_for 180 "$LITELLM_PID" curl -fsS "$LITELLM_URL/health/liveliness" ||
        die "litellm did not become ready: $(tail -30 "$WORK/litellm.log")"
}

# start_nginx UPSTREAM_URL: Debian's nginx as a plain reverse proxy to the canned upstream (the physical floor: two
# HTTP legs and no gateway work), pinned like the gateways, one worker process, a keepalive pool to the upstream,
# no buffering (streams pass through as they come), no access log; sets NGINX_PID (the master: its worker is a
# child, and cpu_ticks counts both) and NGINX_URL. Its folder is under /tmp and readable, as the worker runs as
# an unprivileged user when this runs as root.
start_nginx() {
    local port bin dir
    bin="$(command -v nginx || echo /usr/sbin/nginx)"
    [[ -x "$bin" ]] || die "nginx is not installed (apt-get install nginx)"
    port="$(free_port)" || die "no free port"
    NGINX_URL="http://127.0.0.1:$port"
    dir="$(mktemp -d "${TMPDIR:-/tmp}/trellis-bench-nginx.XXXXXX")"
    chmod 0755 "$dir"
    NGINX_DIR="$dir"
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream bench_upstream {
        server ${1#http://};
        keepalive 128;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
    "${GATEWAY_RUN[@]}" "$bin" -p "$dir" -c "$dir/nginx.conf" >"$WORK/nginx.log" 2>&1 &
    NGINX_PID=$!
    BENCH_PIDS+=("$NGINX_PID")
    wait_for 10 "$NGINX_PID" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" ||
        die "nginx did not start: $(cat "$WORK/nginx.log" "$dir/error.log" 2>/dev/null | tail -20)"
}

# ---------------------------------------------------------------------------------------------- /proc readings

tree_pids() { # PID and all its descendants
    local pid=$1 child
    echo "$pid"
    for child in $(pgrep -P "$pid" 2>/dev/null); do tree_pids "$child"; done
}
cpu_ticks() { # utime + stime of every thread of a process and its descendants, in clock ticks
    local pid stat fields total=0
    for pid in $(tree_pids "$1"); do
        stat="$(<"/proc/$pid/stat")" 2>/dev/null || continue
        stat="${stat##*) }" # fields from the 3rd on; the command name may hold spaces
        read -r -a fields <<<"$stat"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}
status_kb() { # status_kb PID FIELD: a /proc/PID/status figure in kB, summed over the process and its descendants
    local pid total=0 v
    for pid in $(tree_pids "$1"); do
        v="$(sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status" 2>/dev/null)"
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# Context switches (voluntary + involuntary) of every live thread of a process.
ctx_switches() {
    cat "/proc/$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# expand_cpus "0,2-3" → "0 2 3"
expand_cpus() {
    local part cpu out=()
    local -a parts
    IFS=, read -r -a parts <<<"$1"
    for part in "${parts[@]}"; do
        if [[ $part == *-* ]]; then
            for ((cpu = ${part%-*}; cpu <= ${part#*-}; cpu++)); do out+=("$cpu"); done
        else
            out+=("$part")
        fi
    done
    echo "${out[@]}"
}
# busy_ticks "0 1": non-idle ticks (user nice system irq softirq steal) of those CPUs, and their steal ticks
busy_ticks() {
    awk -v want=" $1 " '$1 ~ /^cpu[0-9]+$/ && index(want, " " substr($1, 4) " ") {
        busy += $2 + $3 + $4 + $7 + $8 + $9; steal += $9 } END { print busy + 0, steal + 0 }' /proc/stat
}

# machine_busy_pct: how busy all CPUs are over 2 s, in % (anything else running shows up as noise)
machine_busy_pct() {
    local all b0 b1
    all="$(seq -s ' ' 0 $((NPROC - 1)))"
    read -r b0 _ < <(busy_ticks "$all")
    sleep 2
    read -r b1 _ < <(busy_ticks "$all")
    echo $(((b1 - b0) * 100 / (2 * CLK_TCK * NPROC)))
}

machine_line() { # one line describing the machine
    local cpu mem
    cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    mem="$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo)"
    echo "$NPROC CPU ($cpu), $((mem / 1024)) MiB RAM, $(uname -sr)"
}

git_rev() {
    local rev
    rev="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [[ -n "$(git -C "$REPO" status --porcelain -- Sources Package.swift 2>/dev/null)" ]]; then rev="$rev+dirty"; fi
    echo "$rev"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
