# shellcheck shell=bash
# RKE2's own containerd, run standalone by 03 (pre-pull) and 07 (gate). Sourced after common.sh.
#
#   find_runtime              PATH gets RKE2's containerd and ctr (see below)
#   containerd_start          standalone daemon on CONTAINERD_ROOT, socket in a private run dir
#   ctrn ARGS...              ctr against it, namespace k8s.io, bounded by CTR_TIMEOUT seconds
#   containerd_stop           TERM, bounded wait, KILL; called from the EXIT trap
#
# Environment:
#   RKE2_BIN_DIR   RKE2's runtime binaries (default ${TARGET_ROOT}/var/lib/rancher/rke2/bin)

RKE2_BIN_DIR="${RKE2_BIN_DIR:-${ROOT}/var/lib/rancher/rke2/bin}"
# Extracted once by 03 and found again by 07. Not in /tmp: the FIPS reboot between 04 and 06
# wipes /tmp. If it is gone anyway, it is extracted again from the airgap tarball.
RUNTIME_CACHE="${BUILD_STATE_DIR}/rke2-runtime"
CONTAINERD_ROOT="${ROOT}/var/lib/rancher/rke2/agent/containerd"
AIRGAP_DIR="${ROOT}/var/lib/rancher/rke2/agent/images"
NAMESPACE="k8s.io"
# The only snapshotter RKE2 uses; the others are disabled so containerd does not probe them
# (modprobe aufs, btrfs/zfs/devmapper checks) on a build VM.
UNUSED_PLUGINS=(
  io.containerd.grpc.v1.cri
  io.containerd.snapshotter.v1.aufs
  io.containerd.snapshotter.v1.btrfs
  io.containerd.snapshotter.v1.devmapper
  io.containerd.snapshotter.v1.zfs
)
INTROSPECTION_UUID="${CONTAINERD_ROOT}/io.containerd.grpc.v1.introspection/uuid"
CONTAINERD_START_TIMEOUT="${CONTAINERD_START_TIMEOUT:-60}"
CONTAINERD_STOP_TIMEOUT="${CONTAINERD_STOP_TIMEOUT:-30}"

CONTAINERD_PID=""
CONTAINERD_RUN_DIR=""
CTR_SOCKET=""

# airgap_tarballs: RKE2's image tarballs in the agent images directory (the combined
# rke2-images.linux-amd64.tar.* or the split rke2-images-core + CNI ones), one path per line
airgap_tarballs() {
  local path
  for path in "${AIRGAP_DIR}"/rke2-images*.linux-amd64.tar.zst "${AIRGAP_DIR}"/rke2-images*.linux-amd64.tar.gz \
    "${AIRGAP_DIR}"/rke2-images*.linux-amd64.tar; do
    [[ -f "$path" ]] && printf '%s\n' "$path"
  done
  return 0
}

# extract_runtime TARBALL DEST: the rke2-runtime image's layers unpacked into DEST.
# Returns 1 when TARBALL has no rke2-runtime image (e.g. a CNI-only split tarball).
extract_runtime() {
  local tarball="$1" dest="$2" work layers=() layer
  local decompress=(cat)
  case "$tarball" in
    *.zst) decompress=(zstd -dc) ;;
    *.gz) decompress=(gzip -dc) ;;
  esac
  work="${dest}.extract"
  rm -rf "$work"
  mkdir -p "$work"
  "${decompress[@]}" "$tarball" | tar -x -C "$work" manifest.json
  mapfile -t layers < <(jq -r '.[] | select(any(.RepoTags[]?; test("/rke2-runtime:"))) | .Layers[]' "${work}/manifest.json")
  if ((${#layers[@]} == 0)); then
    rm -rf "$work"
    return 1
  fi
  "${decompress[@]}" "$tarball" | tar -x -C "$work" "${layers[@]}"
  rm -rf "$dest"
  mkdir -p "$dest"
  for layer in "${layers[@]}"; do
    tar -x -C "$dest" -f "${work}/${layer}"
  done
  rm -rf "$work"
  [[ -x "${dest}/bin/containerd" && -x "${dest}/bin/ctr" ]] || die "rke2-runtime in ${tarball} has no bin/containerd or bin/ctr"
}

# find_runtime: RKE2's containerd and ctr first on PATH. /var/lib/rancher/rke2/bin exists only
# once RKE2 has run (a build never runs it), so they are read out of the rke2-runtime image in
# the airgap tarball(s) instead, once, into RUNTIME_CACHE.
find_runtime() {
  local tarball
  if [[ -x "${RKE2_BIN_DIR}/containerd" ]]; then
    PATH="${RKE2_BIN_DIR}:${PATH}"
    return 0
  fi
  if [[ ! -x "${RUNTIME_CACHE}/bin/containerd" ]]; then
    while read -r tarball; do
      if extract_runtime "$tarball" "$RUNTIME_CACHE"; then
        printf 'RKE2 runtime read from %s\n' "${tarball#"$ROOT"}"
        break
      fi
    done < <(airgap_tarballs)
  fi
  if [[ -x "${RUNTIME_CACHE}/bin/containerd" ]]; then
    PATH="${RUNTIME_CACHE}/bin:${PATH}"
  elif have containerd && have ctr; then
    warn "RKE2's runtime not found; using containerd from PATH ($(command -v containerd))"
  else
    die "no containerd: neither ${RKE2_BIN_DIR} nor an rke2-runtime image in an airgap tarball in ${AIRGAP_DIR} (run 02 first)"
  fi
}

containerd_start() {
  local deadline plugins
  mkdir -p "${ROOT}/run" "$CONTAINERD_ROOT"
  # /run, not the state directory: the socket path must stay under 108 bytes
  CONTAINERD_RUN_DIR="$(mktemp -d "${ROOT}/run/kiln-ctd.XXXXXX")"
  CTR_SOCKET="${CONTAINERD_RUN_DIR}/sock"
  plugins="$(printf '"%s", ' "${UNUSED_PLUGINS[@]}")"
  cat >"${CONTAINERD_RUN_DIR}/config.toml" <<TOML
version = 2
root = "${CONTAINERD_ROOT}"
state = "${CONTAINERD_RUN_DIR}/state"
disabled_plugins = [${plugins%, }]

[grpc]
  address = "${CTR_SOCKET}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${CONTAINERD_RUN_DIR}/opt"
TOML
  containerd --config "${CONTAINERD_RUN_DIR}/config.toml" >"${CONTAINERD_RUN_DIR}/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  deadline=$((SECONDS + CONTAINERD_START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if timeout 5 ctr --address "$CTR_SOCKET" version >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$CONTAINERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "${CONTAINERD_RUN_DIR}/containerd.log" >&2 || true
  return 1
}

containerd_stop() {
  local deadline
  if [[ -n "$CONTAINERD_PID" ]]; then
    kill -TERM "$CONTAINERD_PID" 2>/dev/null || true
    deadline=$((SECONDS + CONTAINERD_STOP_TIMEOUT))
    while ((SECONDS < deadline)) && kill -0 "$CONTAINERD_PID" 2>/dev/null; do
      sleep 0.1
    done
    kill -KILL "$CONTAINERD_PID" 2>/dev/null || true
    wait "$CONTAINERD_PID" 2>/dev/null || true
    CONTAINERD_PID=""
    printf 'containerd stopped\n'
  fi
  # the introspection service's UUID would be shared by every clone of the image
  rm -f "$INTROSPECTION_UUID"
  if [[ -n "$CONTAINERD_RUN_DIR" ]]; then
    rm -rf "$CONTAINERD_RUN_DIR"
    CONTAINERD_RUN_DIR=""
  fi
}

# every ctr call against the local daemon is bounded too (pulls have their own PREPULL_TIMEOUT)
CTR_TIMEOUT="${CTR_TIMEOUT:-300}"
ctrn() { timeout --kill-after=10 "$CTR_TIMEOUT" ctr --address "$CTR_SOCKET" --namespace "$NAMESPACE" "$@"; }
