#!/usr/bin/env bash
# Stage 03: pre-pull the pinned add-on images into RKE2's containerd image store, under their
# Harbor names AND their upstream names, pinned against kubelet's image GC.
#
# The pinned list: the IMAGES array below, ONE list read by this script, by 07-validate.sh (from
# the copy of this file 03 leaves in /var/lib/kiln-build) and by the console (without a shell). Format, one image per line:
#   "<upstream ref> <path under HARBOR_REGISTRY>"
# two fields separated by one space, inside double quotes, two spaces of indent, nothing else
# on the line (no variables, no comments). The Harbor ref is "${HARBOR_REGISTRY}/<path>".
# Harbor mirrors the upstream paths under its `k8s` project; bumping a tag is a deliberate change
# and a new image. Besides the document's list it holds the CSI livenessprobe sidecar (both Cinder
# CSI pods run it), cert-manager's startupapicheck (the chart's post-install job) and the CSI
# snapshot-controller (the csi-snapshotter sidecar does nothing without it, and Cinder CSI's chart
# does not deploy it by default); without them an airgapped node would still reach for a registry.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

IMAGES=(
  "registry.k8s.io/provider-os/openstack-cloud-controller-manager:v1.30.0 k8s/provider-os/openstack-cloud-controller-manager:v1.30.0"
  "registry.k8s.io/provider-os/cinder-csi-plugin:v1.30.0 k8s/provider-os/cinder-csi-plugin:v1.30.0"
  "registry.k8s.io/sig-storage/csi-provisioner:v5.0.1 k8s/sig-storage/csi-provisioner:v5.0.1"
  "registry.k8s.io/sig-storage/csi-attacher:v4.6.1 k8s/sig-storage/csi-attacher:v4.6.1"
  "registry.k8s.io/sig-storage/csi-resizer:v1.11.1 k8s/sig-storage/csi-resizer:v1.11.1"
  "registry.k8s.io/sig-storage/csi-snapshotter:v8.0.1 k8s/sig-storage/csi-snapshotter:v8.0.1"
  "registry.k8s.io/sig-storage/snapshot-controller:v8.0.1 k8s/sig-storage/snapshot-controller:v8.0.1"
  "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.11.1 k8s/sig-storage/csi-node-driver-registrar:v2.11.1"
  "registry.k8s.io/sig-storage/livenessprobe:v2.13.1 k8s/sig-storage/livenessprobe:v2.13.1"
  "ghcr.io/kube-vip/kube-vip:v0.8.0 k8s/kube-vip/kube-vip:v0.8.0"
  "quay.io/jetstack/cert-manager-controller:v1.14.5 k8s/jetstack/cert-manager-controller:v1.14.5"
  "quay.io/jetstack/cert-manager-webhook:v1.14.5 k8s/jetstack/cert-manager-webhook:v1.14.5"
  "quay.io/jetstack/cert-manager-cainjector:v1.14.5 k8s/jetstack/cert-manager-cainjector:v1.14.5"
  "quay.io/jetstack/cert-manager-startupapicheck:v1.14.5 k8s/jetstack/cert-manager-startupapicheck:v1.14.5"
)

# Environment:
#   TARGET_ROOT          prefix for every file written (tests); empty on a build VM
#   HARBOR_REGISTRY      registry host the images come from (default harbor.vitro.lan)
#   HARBOR_CA_FILE       CA bundle that signs Harbor's certificate (default: the system trust store)
#   HARBOR_INSECURE      true: skip TLS verification (warned about)
#   PREPULL_JOBS         parallel pulls (default 4)
#   PREPULL_STRICT       true: any failed pull fails the build (default: recorded, warned, and
#                        reported again by the gate as a warning)
#   PREPULL_TIMEOUT      seconds one pull attempt may take before it is killed (default 900)
#   PREPULL_ATTEMPTS     attempts per image, failed or timed out (default 2)
#   RKE2_REGISTRY_MIRROR true: write /etc/rancher/rke2/registries.yaml so the node's RKE2 pulls the
#                        upstream names through Harbor (no credentials are ever written)
#   RKE2_BIN_DIR         RKE2's runtime binaries (default ${TARGET_ROOT}/var/lib/rancher/rke2/bin)
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/containerd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/containerd.sh"
kiln_init 03-prepull-images

HARBOR_REGISTRY="${HARBOR_REGISTRY:-harbor.vitro.lan}"
HARBOR_HOST="${HARBOR_REGISTRY%%/*}"
HARBOR_CA_FILE="${HARBOR_CA_FILE:-}"
HARBOR_INSECURE="${HARBOR_INSECURE:-false}"
PREPULL_JOBS="${PREPULL_JOBS:-4}"
PREPULL_STRICT="${PREPULL_STRICT:-false}"
PREPULL_TIMEOUT="${PREPULL_TIMEOUT:-900}"
PREPULL_ATTEMPTS="${PREPULL_ATTEMPTS:-2}"
RKE2_REGISTRY_MIRROR="${RKE2_REGISTRY_MIRROR:-false}"
PINNED_LABEL="io.cri-containerd.pinned=pinned"
PREPULLED="${STATE_DIR}/prepulled-images.txt"
FAILURES="${STATE_DIR}/prepull-failures.txt"

for n in PREPULL_JOBS PREPULL_TIMEOUT PREPULL_ATTEMPTS; do
  [[ "${!n}" =~ ^[1-9][0-9]*$ ]] || die "${n} must be a positive integer, got '${!n}'"
done

UPSTREAM=()
HARBOR=()
for line in "${IMAGES[@]}"; do
  read -r upstream path extra <<<"$line"
  [[ -n "$upstream" && -n "$path" && -z "${extra:-}" ]] || die "bad IMAGES line: '${line}'"
  UPSTREAM+=("$upstream")
  HARBOR+=("${HARBOR_REGISTRY}/${path}")
done

WORK=""
cleanup() {
  containerd_stop
  if [[ -n "$WORK" ]]; then
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start() {
  # Each run starts clean: a rerun must not carry the previous run's failures (or successes).
  mkdir -p "$STATE_DIR" "$BUILD_STATE_DIR"
  : >"$PREPULLED"
  : >"$FAILURES"
  # 07 checks against the very list this run used (this file; removed with the state by 05)
  cp "${BASH_SOURCE[0]}" "${BUILD_STATE_DIR}/pinned-images.sh"
  find_runtime
  containerd_start || die "containerd did not come up on ${CTR_SOCKET} within ${CONTAINERD_START_TIMEOUT}s"
  WORK="${CONTAINERD_RUN_DIR}/prepull"
  mkdir -p "$WORK"
  write_hosts_toml
  STEP_LABEL="containerd started on ${CONTAINERD_ROOT#"$ROOT"}"
}

# --- registry TLS: hosts.toml (design 4b) ----------------------------------------------------
# The endpoint is a [host] (containerd 1.6 rejects a hosts.toml without one) and the `server`
# fallback: containerd falls back to `server` after a 404 from the [host], so the CA (or
# skip_verify) is written to both, or a missing image would be reported as an x509 error.
# --skip-verify alone proves nothing (ctr speaks plain HTTP to loopback without a hosts.toml).
write_hosts_toml() {
  local tls=""
  HOSTS_DIR="${WORK}/hosts.d"
  mkdir -p "${HOSTS_DIR}/${HARBOR_HOST}"
  if [[ "$HARBOR_INSECURE" == "true" ]]; then
    tls="skip_verify = true"
  elif [[ -n "$HARBOR_CA_FILE" ]]; then
    [[ -f "$HARBOR_CA_FILE" ]] || die "HARBOR_CA_FILE ${HARBOR_CA_FILE} does not exist"
    tls="ca = \"${HARBOR_CA_FILE}\""
  fi
  {
    printf 'server = "https://%s"\n' "$HARBOR_HOST"
    [[ -z "$tls" ]] || printf '%s\n' "$tls"
    printf '\n[host."https://%s"]\n' "$HARBOR_HOST"
    printf '  capabilities = ["pull", "resolve"]\n'
    [[ -z "$tls" ]] || printf '  %s\n' "$tls"
  } >"${HOSTS_DIR}/${HARBOR_HOST}/hosts.toml"
  if [[ "$HARBOR_INSECURE" == "true" ]]; then
    warn "HARBOR_INSECURE=true: TLS verification of ${HARBOR_HOST} is OFF for the pre-pull"
  fi
}

# pull_one I: pull, then tag under the upstream name, both pinned. Bounded: every attempt is
# killed after PREPULL_TIMEOUT seconds; PREPULL_ATTEMPTS attempts in all.
pull_one() {
  local i="$1" attempt rc
  local log="${WORK}/pull.${i}.log"
  : >"$log"
  for ((attempt = 1; attempt <= PREPULL_ATTEMPTS; attempt++)); do
    if timeout --kill-after=10 "$PREPULL_TIMEOUT" \
      ctr --address "$CTR_SOCKET" --namespace "$NAMESPACE" images pull --hosts-dir "$HOSTS_DIR" \
      --label "$PINNED_LABEL" "${HARBOR[$i]}" >>"$log" 2>&1; then
      if ctrn images tag --force "${HARBOR[$i]}" "${UPSTREAM[$i]}" >>"$log" 2>&1 &&
        ctrn images label "${HARBOR[$i]}" "$PINNED_LABEL" >>"$log" 2>&1 &&
        ctrn images label "${UPSTREAM[$i]}" "$PINNED_LABEL" >>"$log" 2>&1; then
        printf 'ok\n' >"${WORK}/result.${i}"
        return 0
      fi
    else
      rc=$?
      if ((rc == 124 || rc == 137)); then
        printf 'pull of %s timed out after %ss (attempt %s/%s)\n' "${HARBOR[$i]}" "$PREPULL_TIMEOUT" "$attempt" "$PREPULL_ATTEMPTS" >>"$log"
      fi
    fi
  done
  printf 'failed\n' >"${WORK}/result.${i}"
}

FAILED=()
PULLED=()
report() {
  local i="$1"
  if [[ "$(cat "${WORK}/result.${i}" 2>/dev/null || true)" == "ok" ]]; then
    progress_unit "pulled ${HARBOR[$i]} (also ${UPSTREAM[$i]})"
  else
    sed 's/^/    /' "${WORK}/pull.${i}.log" >&2 || true
    warn "prepull-failed ${HARBOR[$i]}"
    progress_unit "failed ${HARBOR[$i]}"
  fi
}

pull_all() {
  local i token pids=() reported=0
  # A FIFO of tokens bounds the parallelism; each finished pull hands back its index as the token,
  # so progress is reported as pulls complete without waiting on containerd (also our child).
  mkfifo "${WORK}/tokens"
  exec 3<>"${WORK}/tokens"
  for ((i = 0; i < PREPULL_JOBS; i++)); do
    printf 'start\n' >&3
  done
  for i in "${!HARBOR[@]}"; do
    read -r token <&3
    if [[ "$token" != "start" ]]; then
      report "$token"
      reported=$((reported + 1))
    fi
    {
      pull_one "$i" || true
      printf '%s\n' "$i" >&3
    } &
    pids+=($!)
  done
  while ((reported < ${#HARBOR[@]})); do
    read -r token <&3
    if [[ "$token" != "start" ]]; then
      report "$token"
      reported=$((reported + 1))
    fi
  done
  wait "${pids[@]}" || true
  exec 3>&-
  STEP_LABEL="pulls finished"
}

record() {
  local i digest upstream_digest listing
  listing="$(ctrn images ls)"
  for i in "${!HARBOR[@]}"; do
    digest=""
    if [[ "$(cat "${WORK}/result.${i}" 2>/dev/null || true)" == "ok" ]]; then
      digest="$(awk -v ref="${HARBOR[$i]}" '$1 == ref { print $3; exit }' <<<"$listing")"
      upstream_digest="$(awk -v ref="${UPSTREAM[$i]}" '$1 == ref { print $3; exit }' <<<"$listing")"
      if [[ -z "$digest" || "$digest" != "$upstream_digest" ]]; then
        printf '03-prepull-images: %s was pulled but is not in the image store under both names\n' "${HARBOR[$i]}" >&2
        warn "prepull-failed ${HARBOR[$i]}"
        digest=""
      fi
    fi
    if [[ -n "$digest" ]]; then
      printf '%s %s %s\n' "${HARBOR[$i]}" "$digest" "${UPSTREAM[$i]}" >>"$PREPULLED"
      PULLED+=("${HARBOR[$i]}")
    else
      printf '%s\n' "${HARBOR[$i]}" >>"$FAILURES"
      FAILED+=("${HARBOR[$i]}")
    fi
  done
  STEP_LABEL="${#PULLED[@]} of ${#HARBOR[@]} images pre-pulled (${#FAILED[@]} failed)"
}

# --- optional: RKE2 pulls upstream names through Harbor on the node ---------------------------
# Only on request: a cluster may have its own registries.yaml (CAPRKE2's privateRegistriesConfig).
# Never credentials: Harbor's k8s project must allow anonymous pulls, or the cluster adds auth.
# repo_of REF-WITHOUT-REGISTRY: the repository path, without :tag or @digest
repo_of() {
  local r="${1%%@*}"
  if [[ "${r##*/}" == *:* ]]; then
    r="${r%:*}"
  fi
  printf '%s' "$r"
}

write_registries_yaml() {
  local dir="${ROOT}/etc/rancher/rke2" registry i ca_line=""
  if [[ "$RKE2_REGISTRY_MIRROR" != "true" ]]; then
    STEP_LABEL="no registries.yaml (rke2_registry_mirror=false)"
    return 0
  fi
  mkdir -p "$dir"
  if [[ -n "$HARBOR_CA_FILE" && "$HARBOR_INSECURE" != "true" ]]; then
    cp "$HARBOR_CA_FILE" "${dir}/harbor-ca.crt"
    chmod 0644 "${dir}/harbor-ca.crt"
    ca_line="      ca_file: /etc/rancher/rke2/harbor-ca.crt"
  elif [[ "$HARBOR_INSECURE" == "true" ]]; then
    ca_line="      insecure_skip_verify: true"
  fi
  {
    printf '# Written by the rke2-node image build (stage 03): the pinned upstream names are pulled\n'
    printf '# from Harbor (one exact rewrite per pinned repository). No credentials here.\n'
    printf 'mirrors:\n'
    for registry in $(printf '%s\n' "${UPSTREAM[@]}" | cut -d/ -f1 | sort -u); do
      printf '  "%s":\n    endpoint:\n      - "https://%s"\n    rewrite:\n' "$registry" "$HARBOR_HOST"
      for i in "${!UPSTREAM[@]}"; do
        [[ "${UPSTREAM[$i]%%/*}" == "$registry" ]] || continue
        printf '      "^%s$": "%s"\n' "$(repo_of "${UPSTREAM[$i]#*/}")" "$(repo_of "${HARBOR[$i]#*/}")"
      done
    done
    if [[ -n "$ca_line" ]]; then
      printf 'configs:\n  "%s":\n    tls:\n%s\n' "$HARBOR_HOST" "$ca_line"
    fi
  } >"${dir}/registries.yaml"
  chmod 0600 "${dir}/registries.yaml"
  STEP_LABEL="wrote /etc/rancher/rke2/registries.yaml (mirror: ${HARBOR_HOST})"
}

finish() {
  local first
  if ((${#PULLED[@]} == 0)); then
    first="$(grep -h -m1 -E 'x509|certificate|not found|failed' "${WORK}"/pull.*.log 2>/dev/null | head -n1 || true)"
    if grep -qs 'x509' "${WORK}"/pull.*.log; then
      die "none of the ${#HARBOR[@]} images could be pulled: TLS verification of ${HARBOR_HOST} failed (set harbor_ca_file to the CA that signs its certificate): ${first}"
    fi
    die "none of the ${#HARBOR[@]} images could be pulled from ${HARBOR_HOST}: ${first}"
  fi
  if ((${#FAILED[@]})); then
    if [[ "$PREPULL_STRICT" == "true" ]]; then
      die "PREPULL_STRICT=true and ${#FAILED[@]} pull(s) failed: ${FAILED[*]}"
    fi
    warn "${#FAILED[@]} image(s) not pre-pulled, listed in /etc/packer-build/prepull-failures.txt"
  fi
  containerd_stop
  # shellcheck disable=SC2034 # read by the step runner in lib/common.sh
  STEP_LABEL="containerd stopped; records in /etc/packer-build"
}

step start "containerd started"
units "${#HARBOR[@]}"
step pull_all "pulls finished"
step record "images recorded"
step write_registries_yaml "registries.yaml"
step finish "done"
run_steps
