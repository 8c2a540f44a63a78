# Helpers for the real-containerd stage tests and the pre-pull benchmark (loaded with `load real`
# or sourced). Real programs only: Debian's containerd 1.6 and ctr, the CNCF registry
# (docker-registry) with TLS from a CA made here, images written as OCI layouts by
# tools/make-oci.py and pushed with skopeo. Everything binds 127.0.0.1 on ports picked here, and
# every process started here is stopped by PID.
# shellcheck disable=SC2034 # variables shared with the .bats files and the benchmark
# shellcheck source-path=SCRIPTDIR

REAL_TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REAL_STAGES_DIR="$(cd "${REAL_TOOLS_DIR}/../../stages" && pwd)"

# tool -> Debian package (.ci/run installs these)
declare -A REAL_PKG=([containerd]=containerd [ctr]=containerd [docker-registry]=docker-registry
  [skopeo]=skopeo [openssl]=openssl [python3]=python3 [zstd]=zstd [curl]=curl [timeout]=coreutils
  [jq]=jq)

# require_real: fail (never skip) when a prerequisite is missing, naming the package
require_real() {
  local tool missing=()
  for tool in "${!REAL_PKG[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${REAL_PKG[$tool]}")
  done
  if ((${#missing[@]})); then
    printf 'real-containerd tests need: apt-get install %s (.ci/run installs them)\n' "$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')" >&2
    return 1
  fi
  if [[ "$(id -u)" != 0 ]]; then
    printf 'real-containerd tests need root (containerd mounts overlayfs snapshots)\n' >&2
    return 1
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds; fail after SECONDS
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  while ((SECONDS < deadline)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  printf 'timed out after %ss waiting for: %s\n' "$1" "$*" >&2
  return 1
}

# stop_pid PID [SECONDS]: TERM, bounded wait, KILL
stop_pid() {
  local pid="$1" deadline=$((SECONDS + ${2:-15}))
  [[ -n "$pid" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  while ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null; do
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# pids_with_arg TEXT: PIDs whose command line contains TEXT (to prove nothing was left running)
pids_with_arg() {
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$1"; then
      printf '%s\n' "${p#/proc/}"
    fi
  done
  return 0
}

# make_ca DIR NAME: DIR/NAME.crt and DIR/NAME.key, a self-signed CA
make_ca() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kiln test CA $2" \
    -keyout "$1/$2.key" -out "$1/$2.crt" 2>/dev/null
}

# make_server_cert DIR CA: DIR/server.crt (IP SAN 127.0.0.1, signed by DIR/CA.crt) and server.key
make_server_cert() {
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$1/server.key" -out "$1/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$1/san.ext"
  openssl x509 -req -in "$1/server.csr" -CA "$1/$2.crt" -CAkey "$1/$2.key" -CAcreateserial -days 2 \
    -extfile "$1/san.ext" -out "$1/server.crt" 2>/dev/null
}

# registry_start DIR: the CNCF registry with TLS on 127.0.0.1; sets REGISTRY_PID, REGISTRY_PORT,
# REGISTRY (host:port), REGISTRY_CA (the CA file), REGISTRY_CERTS (a directory for skopeo)
registry_start() {
  local dir="$1"
  mkdir -p "$dir/store" "$dir/certs"
  make_ca "$dir/certs" ca
  make_server_cert "$dir/certs" ca
  REGISTRY_CA="$dir/certs/ca.crt"
  REGISTRY_CERTS="$dir/skopeo-certs"
  mkdir -p "$REGISTRY_CERTS"
  cp "$REGISTRY_CA" "$REGISTRY_CERTS/ca.crt"
  REGISTRY_PORT="$(free_port)"
  REGISTRY="127.0.0.1:${REGISTRY_PORT}"
  cat >"$dir/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/store
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${REGISTRY_PORT}
  tls:
    certificate: $dir/certs/server.crt
    key: $dir/certs/server.key
YML
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 3>&- &
  REGISTRY_PID=$!
  if ! wait_until 20 curl -fsS --cacert "$REGISTRY_CA" "https://${REGISTRY}/v2/"; then
    cat "$dir/registry.log" >&2
    return 1
  fi
}

# push_image WORKDIR REF UNIQUE_BYTES [SHARED_BYTES]: build an OCI layout and push it to REF
push_image() {
  local layout="$1/oci.$RANDOM$RANDOM"
  python3 "${REAL_TOOLS_DIR}/tools/make-oci.py" "$layout" latest "$3" "${4:-4096}" >/dev/null
  skopeo --insecure-policy copy -q --dest-cert-dir "$REGISTRY_CERTS" "oci:${layout}:latest" "docker://$2"
  rm -rf "$layout"
}

# remote_digest REF: the manifest digest the registry serves for REF
remote_digest() {
  skopeo inspect --cert-dir "$REGISTRY_CERTS" --raw "docker://$1" | sha256sum | awk '{ print "sha256:" $1 }'
}

# pinned_list: "<upstream> <harbor path>" per line, from the unmodified stage 03
pinned_list() {
  # shellcheck source=../../stages/lib/common.sh
  (source "${REAL_STAGES_DIR}/lib/common.sh" && pinned_images "${REAL_STAGES_DIR}/03-prepull-images.sh")
}

# make_airgap_tarball OUT: an RKE2-style airgap tarball (docker-archive, zstd) whose rke2-runtime
# image carries the real containerd and ctr in bin/, plus a second image, like RKE2's
make_airgap_tarball() {
  local out="$1" work
  work="$(mktemp -d "${out}.work.XXXXXX")"
  mkdir -p "$work/layer/bin" "$work/archive/runtime" "$work/archive/pause" "$work/pause/pause"
  cp "$(command -v containerd)" "$(command -v ctr)" "$work/layer/bin/"
  tar -C "$work/layer" -cf "$work/archive/runtime/layer.tar" bin
  printf 'pause\n' >"$work/pause/pause/pause"
  tar -C "$work/pause" -cf "$work/archive/pause/layer.tar" pause
  printf '[{"Config":"runtime.json","RepoTags":["docker.io/rancher/rke2-runtime:v1.28.15-rke2r1"],"Layers":["runtime/layer.tar"]},{"Config":"pause.json","RepoTags":["docker.io/rancher/mirrored-pause:3.6"],"Layers":["pause/layer.tar"]}]' \
    >"$work/archive/manifest.json"
  printf '{}' >"$work/archive/runtime.json"
  printf '{}' >"$work/archive/pause.json"
  tar -C "$work/archive" -cf - manifest.json runtime.json pause.json runtime pause | zstd -q -1 -T0 -o "$out"
  rm -rf "$work"
}

# inspect_start ROOT: a containerd of our own on ROOT's image store (for assertions: the stage's
# containerd is stopped by then); sets INSPECT_PID, INSPECT_SOCK
inspect_start() {
  local root="$1" run
  # under the test's own directory: teardown_file kills whatever runs from there
  run="$(mktemp -d "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/inspect.XXXXXX")"
  INSPECT_RUN="$run"
  INSPECT_SOCK="$run/sock"
  cat >"$run/config.toml" <<TOML
version = 2
root = "$root/var/lib/rancher/rke2/agent/containerd"
state = "$run/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$INSPECT_SOCK"
TOML
  containerd --config "$run/config.toml" >"$run/log" 2>&1 3>&- &
  INSPECT_PID=$!
  wait_until 30 ctr --address "$INSPECT_SOCK" version
}

inspect_ctr() { ctr --address "$INSPECT_SOCK" --namespace k8s.io "$@"; }

inspect_stop() {
  stop_pid "${INSPECT_PID:-}" 30
  INSPECT_PID=""
  rm -rf "${INSPECT_RUN:-/nonexistent}"
  rm -f "$1/var/lib/rancher/rke2/agent/containerd/io.containerd.grpc.v1.introspection/uuid"
}
