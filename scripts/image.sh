#!/usr/bin/env bash
# Builds the gateway's container image from docker/Dockerfile with the release binary built on this machine,
# for where no Swift image can be pulled (the Dockerfile's own build stage needs swift:6.3-bookworm):
#   1. the release binary, by the command CI runs (scripts/test.sh) and the Dockerfile's build stage runs:
#      swift build -c release --static-swift-stdlib --product trellis
#   2. stripped, as the build stage strips it;
#   3. the image, from docker/Dockerfile with --build-arg BINARY=prebuilt and a small build context holding
#      prebuilt/trellis and config/ (the Swift stage is not built).
# The binary links this machine's glibc, libsqlite3 and libstdc++ dynamically: build on Debian bookworm (or
# anything no newer than the base image), as the Swift image would.
#
#   scripts/image.sh [--tag NAME] [--no-build]   # build (--no-build: reuse .build/release/trellis as it is)
#   scripts/image.sh --check [--tag NAME]        # run the built image and check it as a deployment would
#
# --check starts the image with TRELLIS_SERVER_PORT=18180 (not the default 8080) and a named volume, waits for
# the image's own HEALTHCHECK command to pass, and checks: GET /readyz through the published port, the process
# runs as uid 10001, the database is in the volume, and `trellis health --ready`; then removes what it made.
#
# Environment:
#   TRELLIS_ENGINE          podman or docker (default: podman when installed, else docker)
#   TRELLIS_BASE_IMAGE      the runtime stage's base (default debian:bookworm-slim)
#   TRELLIS_ENGINE_FLAGS    flags for the engine itself, e.g. "--runtime runc"
#   TRELLIS_CONTAINER_FLAGS flags for `build` and `run`, e.g. "--ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
#                           where the engine's default limits exceed what the machine allows
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="localhost/trellis:latest"
mode=build
compile=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) TAG="$2"; shift 2 ;;
    --no-build) compile=0; shift ;;
    --check) mode=check; shift ;;
    -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "image.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

ENGINE="${TRELLIS_ENGINE:-$(command -v podman >/dev/null 2>&1 && echo podman || echo docker)}"
read -r -a engine_flags <<<"${TRELLIS_ENGINE_FLAGS:-}"
read -r -a container_flags <<<"${TRELLIS_CONTAINER_FLAGS:-}"
engine() { "$ENGINE" "${engine_flags[@]}" "$@"; }
log() { printf '[image] %s\n' "$*" >&2; }

build() {
  cd "$REPO"
  if [[ $compile == 1 ]]; then
    log "swift build -c release --static-swift-stdlib --product trellis"
    swift build -c release --static-swift-stdlib --product trellis
  fi
  local context
  context="$(mktemp -d "${TMPDIR:-/tmp}/trellis-image.XXXXXX")"
  trap 'rm -rf "$context"' RETURN
  mkdir -p "$context/prebuilt"
  cp -R config "$context/config"
  strip -o "$context/prebuilt/trellis" .build/release/trellis
  log "binary: $(du -m .build/release/trellis | cut -f1) MB, stripped $(du -m "$context/prebuilt/trellis" | cut -f1) MB"
  # podman writes OCI images by default, which have no HEALTHCHECK: ask for the docker format.
  local format=()
  [[ "$ENGINE" == podman ]] && format=(--format docker)
  engine build "${format[@]}" "${container_flags[@]}" -f "$REPO/docker/Dockerfile" --build-arg BINARY=prebuilt \
    --build-arg BASE_IMAGE="${TRELLIS_BASE_IMAGE:-debian:bookworm-slim}" -t "$TAG" "$context"
  engine images "$TAG"
}

name="trellis-image-check-$$"
volume="trellis-image-check-$$"
check() {
  local port=18180 i status=""
  cleanup() {
    engine rm -f "$name" >/dev/null 2>&1 || true
    engine volume rm -f "$volume" >/dev/null 2>&1 || true
  }
  trap cleanup EXIT
  fail() { log "FAILED: $*"; engine logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }
  engine volume create "$volume" >/dev/null
  engine run -d "${container_flags[@]}" --name "$name" -p "127.0.0.1::$port" -v "$volume:/data" \
    -e TRELLIS_SERVER_PORT=$port -e TRELLIS_ADMIN_KEY="check-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" "$TAG" >/dev/null
  # The image's HEALTHCHECK command, as the engine runs it (podman: `healthcheck run`; docker: its own timer).
  for ((i = 0; i < 60; i++)); do
    if [[ "$ENGINE" == podman ]]; then
      engine healthcheck run "$name" >/dev/null 2>&1 && { status=healthy; break; }
    else
      status="$(engine inspect -f '{{.State.Health.Status}}' "$name")"
      [[ "$status" == healthy ]] && break
    fi
    [[ "$(engine inspect -f '{{.State.Running}}' "$name")" == true ]] || fail "the container stopped"
    sleep 1
  done
  [[ "$status" == healthy ]] || fail "the HEALTHCHECK did not pass within 60 s"
  log "HEALTHCHECK ($(engine inspect -f '{{json .Config.Healthcheck.Test}}' "$name")): healthy on port $port"
  local published
  published="$(engine port "$name" "$port/tcp" | head -1)"
  curl -fsS "http://$published/readyz" >/dev/null || fail "GET /readyz through $published"
  log "GET http://$published/readyz: 200"
  local uid
  uid="$(engine exec "$name" sh -c 'ps -o uid= -p 1 2>/dev/null || awk "/^Uid:/ { print \$2 }" /proc/1/status' | tr -d ' ')"
  [[ "$uid" == 10001 ]] || fail "the gateway runs as uid $uid, not 10001"
  log "the gateway (pid 1) runs as uid $uid"
  engine exec "$name" trellis health --ready >&2 || fail "trellis health --ready"
  engine exec "$name" sh -c 'ls -ln /data' >&2
  engine exec "$name" test -s /data/trellis.sqlite || fail "no database in the volume (/data/trellis.sqlite)"
  log "the database is in the volume $volume"
  engine images "$TAG"
  log "check passed"
}

"$mode"
