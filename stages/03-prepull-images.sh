#!/usr/bin/env bash
# Stage 03: pre-pull the pinned add-on images into RKE2's containerd image store.
# The console reads the IMAGES array below (one quoted image per line): keep that format.
# Besides the document's list it holds the CSI livenessprobe sidecar (both Cinder CSI pods run
# it) and cert-manager's startupapicheck (the Helm chart's post-install job); without them an
# airgapped node would still reach for a registry.
set -euo pipefail

HARBOR_REGISTRY="${HARBOR_REGISTRY:-harbor.vitro.lan}"

IMAGES=(
  "${HARBOR_REGISTRY}/k8s/provider-os/openstack-cloud-controller-manager:v1.30.0"
  "${HARBOR_REGISTRY}/k8s/provider-os/cinder-csi-plugin:v1.30.0"
  "${HARBOR_REGISTRY}/k8s/sig-storage/csi-provisioner:v5.0.1"
  "${HARBOR_REGISTRY}/k8s/sig-storage/csi-attacher:v4.6.1"
  "${HARBOR_REGISTRY}/k8s/sig-storage/csi-resizer:v1.11.1"
  "${HARBOR_REGISTRY}/k8s/sig-storage/csi-snapshotter:v8.0.1"
  "${HARBOR_REGISTRY}/k8s/sig-storage/csi-node-driver-registrar:v2.11.1"
  "${HARBOR_REGISTRY}/k8s/sig-storage/livenessprobe:v2.13.1"
  "${HARBOR_REGISTRY}/k8s/kube-vip/kube-vip:v0.8.0"
  "${HARBOR_REGISTRY}/k8s/jetstack/cert-manager-controller:v1.14.5"
  "${HARBOR_REGISTRY}/k8s/jetstack/cert-manager-webhook:v1.14.5"
  "${HARBOR_REGISTRY}/k8s/jetstack/cert-manager-cainjector:v1.14.5"
  "${HARBOR_REGISTRY}/k8s/jetstack/cert-manager-startupapicheck:v1.14.5"
)

# Environment:
#   TARGET_ROOT       prefix for every file written (tests); empty on a build VM
#   HARBOR_REGISTRY   registry host the images come from (default harbor.vitro.lan)
#   HARBOR_CA_FILE    CA bundle that signs Harbor's certificate (default: the system trust store)
#   HARBOR_INSECURE   true: skip TLS verification (warned about)
#   PREPULL_JOBS      parallel pulls (default 4)
#   PREPULL_STRICT    true: any failed pull fails the build (default: recorded, build goes on)
#   RKE2_BIN_DIR      RKE2's runtime binaries (default ${TARGET_ROOT}/var/lib/rancher/rke2/bin)
ROOT="${TARGET_ROOT:-}"
HARBOR_CA_FILE="${HARBOR_CA_FILE:-}"
HARBOR_INSECURE="${HARBOR_INSECURE:-false}"
PREPULL_JOBS="${PREPULL_JOBS:-4}"
PREPULL_STRICT="${PREPULL_STRICT:-false}"
RKE2_BIN_DIR="${RKE2_BIN_DIR:-${ROOT}/var/lib/rancher/rke2/bin}"
RUNTIME_CACHE="${ROOT}/tmp/kiln-rke2-runtime" # shared with 07-validate.sh, removed by 05-cleanup.sh
CONTAINERD_ROOT="${ROOT}/var/lib/rancher/rke2/agent/containerd"
AIRGAP_DIR="${ROOT}/var/lib/rancher/rke2/agent/images"
STATE_DIR="${ROOT}/etc/packer-build"
NAMESPACE="k8s.io"

TOTAL=$((${#IMAGES[@]} + 2))
progress() { printf 'kiln:progress %s/%s %s\n' "$1" "$TOTAL" "$2"; }
warn() { printf 'kiln:warn %s\n' "$*"; }
die() { printf '03-prepull-images: %s\n' "$*" >&2; exit 1; }

[[ "$PREPULL_JOBS" =~ ^[1-9][0-9]*$ ]] || die "PREPULL_JOBS must be a positive integer, got '${PREPULL_JOBS}'"

# --- RKE2's own containerd, standalone ------------------------------------------------------
# /var/lib/rancher/rke2/bin only exists once RKE2 has run, and this build never runs it, so the
# binaries are read out of the rke2-runtime image inside the airgap tarball instead.
extract_runtime() {
  local tarball="$1" dest="$2" work layers=() layer
  local decompress=(cat)
  case "$tarball" in
    *.zst) decompress=(zstd -dc) ;;
    *.gz) decompress=(gzip -dc) ;;
  esac
  work="${dest}.extract"
  rm -rf "$work" "$dest"
  mkdir -p "$work" "$dest"
  "${decompress[@]}" "$tarball" | tar -x -C "$work" manifest.json
  mapfile -t layers < <(jq -r '.[] | select(any(.RepoTags[]?; test("/rke2-runtime:"))) | .Layers[]' "${work}/manifest.json")
  ((${#layers[@]})) || die "no rke2-runtime image in ${tarball}"
  "${decompress[@]}" "$tarball" | tar -x -C "$work" "${layers[@]}"
  for layer in "${layers[@]}"; do
    tar -x -C "$dest" -f "${work}/${layer}"
  done
  rm -rf "$work"
  [[ -x "${dest}/bin/containerd" && -x "${dest}/bin/ctr" ]] || die "rke2-runtime in ${tarball} has no bin/containerd or bin/ctr"
}

find_runtime() {
  local tarball
  if [[ -x "${RKE2_BIN_DIR}/containerd" ]]; then
    PATH="${RKE2_BIN_DIR}:${PATH}"
    return 0
  fi
  if [[ ! -x "${RUNTIME_CACHE}/bin/containerd" ]]; then
    for tarball in "${AIRGAP_DIR}"/rke2-images.linux-amd64.tar.zst "${AIRGAP_DIR}"/rke2-images.linux-amd64.tar.gz; do
      if [[ -f "$tarball" ]]; then
        extract_runtime "$tarball" "$RUNTIME_CACHE"
        break
      fi
    done
  fi
  if [[ -x "${RUNTIME_CACHE}/bin/containerd" ]]; then
    PATH="${RUNTIME_CACHE}/bin:${PATH}"
  elif command -v containerd >/dev/null && command -v ctr >/dev/null; then
    warn "RKE2's runtime not found; using containerd from PATH ($(command -v containerd))"
  else
    die "no containerd: neither ${RKE2_BIN_DIR} nor an airgap tarball in ${AIRGAP_DIR} (run 02 first)"
  fi
}

WORK=""
CONTAINERD_PID=""
cleanup() {
  local i
  if [[ -n "$CONTAINERD_PID" ]]; then
    kill -TERM "$CONTAINERD_PID" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      kill -0 "$CONTAINERD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$CONTAINERD_PID" 2>/dev/null || true
    wait "$CONTAINERD_PID" 2>/dev/null || true
    printf 'containerd stopped\n'
  fi
  if [[ -n "$WORK" ]]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_containerd() {
  local i
  mkdir -p "${ROOT}/tmp" "$CONTAINERD_ROOT"
  WORK="$(mktemp -d "${ROOT}/tmp/kiln-prepull.XXXXXX")"
  SOCKET="${WORK}/containerd.sock"
  cat >"${WORK}/config.toml" <<TOML
version = 2
root = "${CONTAINERD_ROOT}"
state = "${WORK}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "${SOCKET}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${WORK}/opt"
TOML
  containerd --config "${WORK}/config.toml" >"${WORK}/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  for ((i = 0; i < 600; i++)); do
    if ctr --address "$SOCKET" version >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$CONTAINERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "${WORK}/containerd.log" >&2 || true
  die "containerd did not come up on ${SOCKET}"
}

# --- registry TLS (design 4b: a hosts.toml; --skip-verify alone proves nothing) -----------------
write_hosts_toml() {
  local host="${HARBOR_REGISTRY%%/*}"
  HOSTS_DIR="${WORK}/hosts.d"
  mkdir -p "${HOSTS_DIR}/${host}"
  {
    printf 'server = "https://%s"\n\n' "$host"
    printf '[host."https://%s"]\n' "$host"
    printf '  capabilities = ["pull", "resolve"]\n'
    if [[ "$HARBOR_INSECURE" == "true" ]]; then
      printf '  skip_verify = true\n'
    elif [[ -n "$HARBOR_CA_FILE" ]]; then
      printf '  ca = "%s"\n' "$HARBOR_CA_FILE"
    fi
  } >"${HOSTS_DIR}/${host}/hosts.toml"
  if [[ "$HARBOR_INSECURE" == "true" ]]; then
    warn "HARBOR_INSECURE=true: TLS verification of ${host} is OFF for the pre-pull"
  elif [[ -n "$HARBOR_CA_FILE" && ! -f "$HARBOR_CA_FILE" ]]; then
    die "HARBOR_CA_FILE ${HARBOR_CA_FILE} does not exist"
  fi
}

ctrn() { ctr --address "$SOCKET" --namespace "$NAMESPACE" "$@"; }

pull_one() {
  local i="$1"
  if ctrn images pull --hosts-dir "$HOSTS_DIR" "${IMAGES[$i]}" >"${WORK}/pull.${i}.log" 2>&1; then
    printf 'ok\n' >"${WORK}/result.${i}"
  else
    printf 'failed\n' >"${WORK}/result.${i}"
  fi
}

FAILED=()
PULLED=()
report() {
  local i="$1" step="$(($2 + 1))"
  if [[ "$(cat "${WORK}/result.${i}" 2>/dev/null || true)" == "ok" ]]; then
    progress "$step" "pulled ${IMAGES[$i]}"
  else
    sed 's/^/    /' "${WORK}/pull.${i}.log" >&2 || true
    warn "prepull-failed ${IMAGES[$i]}"
    progress "$step" "failed ${IMAGES[$i]}"
  fi
}

pull_all() {
  local i token done_count=0 pids=()
  # A FIFO of tokens bounds the parallelism; each finished pull hands back its index as the token,
  # so progress is reported as pulls complete without waiting on containerd (also our child).
  mkfifo "${WORK}/tokens"
  exec 3<>"${WORK}/tokens"
  for ((i = 0; i < PREPULL_JOBS; i++)); do
    printf 'start\n' >&3
  done
  for i in "${!IMAGES[@]}"; do
    read -r token <&3
    if [[ "$token" != "start" ]]; then
      report "$token" "$((done_count + 1))"
      done_count=$((done_count + 1))
    fi
    { pull_one "$i" || true; printf '%s\n' "$i" >&3; } &
    pids+=($!)
  done
  while ((done_count < ${#IMAGES[@]})); do
    read -r token <&3
    if [[ "$token" != "start" ]]; then
      report "$token" "$((done_count + 1))"
      done_count=$((done_count + 1))
    fi
  done
  wait "${pids[@]}" || true
  exec 3>&-
}

record() {
  local i digest listing
  mkdir -p "$STATE_DIR"
  listing="$(ctrn images ls)"
  : >"${STATE_DIR}/prepulled-images.txt"
  for i in "${!IMAGES[@]}"; do
    digest=""
    if [[ "$(cat "${WORK}/result.${i}" 2>/dev/null || true)" == "ok" ]]; then
      digest="$(awk -v ref="${IMAGES[$i]}" '$1 == ref { print $3; exit }' <<<"$listing")"
      if [[ -z "$digest" ]]; then
        warn "prepull-failed ${IMAGES[$i]} (pulled but not in the image store)"
      fi
    fi
    if [[ -n "$digest" ]]; then
      printf '%s %s\n' "${IMAGES[$i]}" "$digest" >>"${STATE_DIR}/prepulled-images.txt"
      PULLED+=("${IMAGES[$i]}")
    else
      printf '%s\n' "${IMAGES[$i]}" >>"${STATE_DIR}/prepull-failures.txt"
      FAILED+=("${IMAGES[$i]}")
    fi
  done
}

find_runtime
start_containerd
write_hosts_toml
progress 1 "containerd started on ${CONTAINERD_ROOT}"
pull_all
record
progress "$TOTAL" "${#PULLED[@]} of ${#IMAGES[@]} images pre-pulled (${#FAILED[@]} failed)"
if ((${#FAILED[@]})); then
  if [[ "$PREPULL_STRICT" == "true" ]]; then
    die "PREPULL_STRICT=true and ${#FAILED[@]} pull(s) failed: ${FAILED[*]}"
  fi
  warn "${#FAILED[@]} image(s) not pre-pulled, listed in /etc/packer-build/prepull-failures.txt"
fi
