#!/usr/bin/env bash
# Builds Presence's container image with podman and checks it for real:
# runs it, creates an API key inside it, runs the README's walk-through
# against it, reports the image's size and start time, and stops it.
#
#   scripts/container.sh build    build the image (presence:latest)
#   scripts/container.sh test     build, then run the walk-through against it
#   scripts/container.sh nodes    build, then two nodes on one PostgreSQL
#
# With an image registry, `podman build -t presence .` is all it takes.
# Without one (as on the project's build machines), the Debian bookworm
# base is made here with debootstrap from the machine's own Debian mirror
# and imported, and the build stage uses the Go toolchain and module cache
# of this machine (mounted, never copied into the image) and the models
# already fetched in .cache (mounted; setup checks every hash).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-presence:latest}
BASE_IMAGE=localhost/presence-base:bookworm
command -v podman >/dev/null || { echo "container: podman is needed (apt-get install podman)" >&2; exit 1; }

# Some hosts (a VM without CAP_SYS_RESOURCE, cgroups v1 and v2 mixed)
# refuse podman's defaults: crun cannot run there and the default
# rlimits cannot be raised. Use runc and the host's own limits then.
flags=()
compat() {
  podman run --rm "${flags[@]}" "$BASE_IMAGE" true >/dev/null 2>&1 && return 0
  flags=(--runtime runc --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=1024:1024")
  if podman run --rm "${flags[@]}" "$BASE_IMAGE" true >/dev/null 2>&1; then
    echo "container: this host needs runc and its own rlimits: ${flags[*]}" >&2
    return 0
  fi
  echo "container: podman cannot run containers here" >&2
  exit 1
}

base() {
  if podman image exists "$BASE_IMAGE"; then return; fi
  if podman pull -q debian:bookworm-slim >/dev/null 2>&1; then
    podman tag debian:bookworm-slim "$BASE_IMAGE"
    return
  fi
  command -v debootstrap >/dev/null || { echo "container: no registry and no debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
  root=$(mktemp -d)
  trap 'rm -rf "$root"' RETURN
  echo "container: making the bookworm base with debootstrap" >&2
  debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import -q - "$BASE_IMAGE" >/dev/null
}

build() {
  base
  compat
  local args=()
  if ! podman pull -q golang:1.26-bookworm >/dev/null 2>&1; then
    # No registry: build on the bookworm base with this machine's Go.
    goroot=$(go env GOROOT)
    modcache=$(go env GOMODCACHE)
    mkdir -p "$modcache"
    args+=(--build-arg "BUILDER=$BASE_IMAGE" -v "$goroot:/usr/local/go:ro" -v "$modcache:/go/pkg/mod")
  fi
  podman image exists debian:bookworm-slim || args+=(--build-arg "BASE=$BASE_IMAGE")
  [ -d .cache/packages ] && args+=(-v "$PWD/.cache:/seed:ro")
  # The Go module proxy and the npm registry through this machine's
  # TLS-inspecting proxy, if it has one: trust its CA in the build only.
  if [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
    args+=(-v "$SSL_CERT_FILE:/run/host-ca.crt:ro" --build-arg SSL_CERT_FILE=/run/host-ca.crt --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt)
  fi
  start=$(date +%s)
  podman build -q "${flags[@]}" "${args[@]}" -t "$IMAGE" -f Containerfile . >/dev/null
  echo "container: built $IMAGE in $(( $(date +%s) - start )) s, $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"
}

# walkthrough prints the README's walk-through blocks as one script.
walkthrough() {
  awk '/<!-- walkthrough -->/ {on=1; next} /<!-- \/walkthrough -->/ {on=0} on && !/^```/' README.md
}

test_image() {
  build
  name=presence-test-$$
  work=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18080)
  cleanup() {
    podman rm -f "$name" >/dev/null 2>&1 || true
    podman volume rm -f "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
  }
  trap cleanup EXIT
  podman run --rm "${flags[@]}" "$IMAGE" templates keygen > "$work/template.key"
  chmod 644 "$work/template.key"
  started=$(date +%s.%N)
  podman run -d --name "$name" "${flags[@]}" -p "127.0.0.1:$port:8080" \
    -v "$name:/var/lib/presence" -v "$work/template.key:/run/secrets/template_key:ro" \
    -e PRESENCE_TEMPLATE_KEY_FILE=/run/secrets/template_key "$IMAGE" >/dev/null
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { podman logs "$name" >&2; echo "container: not ready" >&2; exit 1; }
  ready=$(date +%s.%N)
  echo "container: ready $(awk "BEGIN{printf \"%.1f\", $ready-$started}") s after podman run"
  [ "$(podman exec "$name" id -u)" != 0 ] || { echo "container: runs as root" >&2; exit 1; }
  script=$(walkthrough | sed -e "s#http://127.0.0.1:8080#http://127.0.0.1:$port#g" -e "s#bin/presence apikey#podman exec $name presence apikey#g")
  out=$(bash -euo pipefail -c "$script" 2>&1) || { echo "$out" >&2; podman logs "$name" >&2; echo "container: walk-through failed" >&2; exit 1; }
  for want in '"status": "succeeded"' '"decision": "realface"' '"templates": 1'; do
    grep -qF "$want" <<<"$out" || { echo "$out" >&2; echo "container: walk-through output lacks $want" >&2; exit 1; }
  done
  # State lives on the volume: a new container on it finds the key.
  podman rm -f "$name" >/dev/null
  podman run -d --name "$name" "${flags[@]}" -p "127.0.0.1:$port:8080" \
    -v "$name:/var/lib/presence" -v "$work/template.key:/run/secrets/template_key:ro" \
    -e PRESENCE_TEMPLATE_KEY_FILE=/run/secrets/template_key "$IMAGE" >/dev/null
  keys=$(podman exec "$name" presence apikey list | grep -c demo || true)
  [ "$keys" -ge 1 ] || { echo "container: the volume lost the API key" >&2; exit 1; }
  echo "container: walk-through passed against $IMAGE; state kept on its volume across containers"
}

# nodes runs what compose.yaml describes, with podman alone: PostgreSQL
# (Debian's, on the same base) and two Presence nodes in one pod; a
# session is created on one node, its frame sent to the other, and its
# verdict read on the first.
nodes() {
  build
  podman build -q "${flags[@]}" -t localhost/presence-postgres:15 -f - . >/dev/null <<PG
FROM $BASE_IMAGE
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-15 && rm -rf /var/lib/apt/lists/*
USER postgres
CMD ["sh", "-c", "/usr/lib/postgresql/15/bin/initdb -D /tmp/pg -A trust -U presence >/dev/null && exec /usr/lib/postgresql/15/bin/postgres -D /tmp/pg -k /tmp -c listen_addresses=127.0.0.1"]
PG
  pod=presence-nodes-$$
  work=$(mktemp -d)
  p1=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  p2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cleanup() { podman rm -f "$pod-1" "$pod-2" "$pod-pg" >/dev/null 2>&1 || true; rm -rf "$work"; }
  trap cleanup EXIT
  podman run --rm "${flags[@]}" "$IMAGE" templates keygen > "$work/template.key"
  chmod 644 "$work/template.key"
  # One network namespace for the three, as a pod or a compose network
  # would give (a pod's infra container needs crun, which some hosts
  # cannot run).
  podman run -d "${flags[@]}" --name "$pod-pg" -p "127.0.0.1:$p1:8081" -p "127.0.0.1:$p2:8082" localhost/presence-postgres:15 >/dev/null
  for _ in $(seq 1 100); do podman exec "$pod-pg" pg_isready -q -h 127.0.0.1 && break; sleep 0.2; done
  for n in 1 2; do
    podman run -d "${flags[@]}" --network "container:$pod-pg" --name "$pod-$n" -v "$work/template.key:/run/secrets/template_key:ro" \
      -e PRESENCE_TEMPLATE_KEY_FILE=/run/secrets/template_key -e PRESENCE_DB='postgres://presence@127.0.0.1:5432/postgres?sslmode=disable' \
      -e PRESENCE_LISTEN=0.0.0.0:808$n -e PRESENCE_METRICS_LISTEN=127.0.0.1:946$n "$IMAGE" >/dev/null
  done
  for port in "$p1" "$p2"; do
    for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
  key=$(podman exec "$pod-1" presence apikey create --name nodes --quiet)
  created=$(curl -sf -H "Authorization: Bearer $key" -H 'Content-Type: application/json' -d '{"correlation_id":"two-nodes"}' "http://127.0.0.1:$p1/v1/sessions")
  id=$(jq -r .id <<<"$created"); token=$(jq -r .client_token <<<"$created")
  curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: image/jpeg' --data-binary @../shared/data/pad_silentface_samples/image_T1.jpg \
    "http://127.0.0.1:$p2/v1/sessions/$id/frames" >/dev/null
  verdict=$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$p1/v1/sessions/$id" | jq -r '.status + " " + .decision')
  [ "$verdict" = "succeeded realface" ] || { podman logs "$pod-1" >&2; echo "container: two nodes: verdict $verdict" >&2; exit 1; }
  echo "container: two nodes on one PostgreSQL: created on node 1, frame on node 2, verdict on node 1: $verdict"
}

case "${1:-test}" in
  build) build ;;
  test) test_image ;;
  nodes) nodes ;;
  *) echo "usage: scripts/container.sh build|test|nodes" >&2; exit 2 ;;
esac
