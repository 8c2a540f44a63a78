#!/usr/bin/env bash
# Stage 07: the validation gate. Runs after 06-manifest and before 05-cleanup, so a broken image is
# never snapshotted. Every check runs; any failure fails the build with the whole list.
#
# Environment:
#   TARGET_ROOT    prefix for every file read and written (tests); empty on a build VM
#   RKE2_BIN_DIR   RKE2's runtime binaries (default ${TARGET_ROOT}/var/lib/rancher/rke2/bin)
set -euo pipefail

ROOT="${TARGET_ROOT:-}"
STATE_DIR="${ROOT}/etc/packer-build"
RKE2_BIN_DIR="${RKE2_BIN_DIR:-${ROOT}/var/lib/rancher/rke2/bin}"
RUNTIME_CACHE="${ROOT}/tmp/kiln-rke2-runtime" # left by 03-prepull-images.sh
CONTAINERD_ROOT="${ROOT}/var/lib/rancher/rke2/agent/containerd"
IMAGES_DIR="${ROOT}/var/lib/rancher/rke2/agent/images"
SYSCTL_FILE="${ROOT}/etc/sysctl.d/90-rke2-node.conf"
MODULES_FILE="${ROOT}/etc/modules-load.d/rke2.conf"
SSHD_DROPIN="${ROOT}/etc/ssh/sshd_config.d/10-rke2-node.conf"

TOTAL=9
progress() { printf 'kiln:progress %s/%s %s\n' "$1" "$TOTAL" "$2"; }
warn() { printf 'kiln:warn %s\n' "$*"; }

FAILURES=()
fail() {
  FAILURES+=("$*")
  warn "validate-failed $*"
}

check_sysctls() {
  local key want got path
  if [[ ! -f "$SYSCTL_FILE" ]]; then
    fail "sysctl: ${SYSCTL_FILE#"$ROOT"} missing"
    return 0
  fi
  while IFS='=' read -r key want; do
    key="${key// /}"
    want="${want// /}"
    [[ -z "$key" || "$key" == \#* ]] && continue
    path="${ROOT}/proc/sys/${key//.//}"
    got="$(tr -s '[:space:]' ' ' <"$path" 2>/dev/null | sed 's/ $//' || true)"
    [[ "$got" == "$want" ]] || fail "sysctl: ${key} is '${got:-unset}', want '${want}'"
  done <"$SYSCTL_FILE"
}

check_modules() {
  local m
  if [[ ! -f "$MODULES_FILE" ]]; then
    fail "modules: ${MODULES_FILE#"$ROOT"} missing"
    return 0
  fi
  while read -r m; do
    [[ -z "$m" || "$m" == \#* ]] && continue
    [[ -d "${ROOT}/sys/module/${m}" ]] || fail "module: ${m} not loaded"
  done <"$MODULES_FILE"
}

check_swap() {
  local active
  active="$(awk 'NR > 1 && NF' "${ROOT}/proc/swaps" 2>/dev/null | wc -l)"
  ((active == 0)) || fail "swap: ${active} swap device(s) active"
  if awk '$1 !~ /^#/ && $3 == "swap" { found = 1 } END { exit !found }' "${ROOT}/etc/fstab" 2>/dev/null; then
    fail "swap: /etc/fstab still has an active swap entry"
  fi
}

check_rke2() {
  local tarballs=()
  if [[ ! -x "${ROOT}/usr/local/bin/rke2" && ! -x "${ROOT}/opt/rke2/bin/rke2" ]]; then
    fail "rke2: binary missing from /usr/local/bin and /opt/rke2/bin"
  fi
  shopt -s nullglob
  tarballs=("${IMAGES_DIR}"/rke2-images*.tar.zst "${IMAGES_DIR}"/rke2-images*.tar.gz)
  shopt -u nullglob
  ((${#tarballs[@]})) || fail "rke2: no airgap images tarball in /var/lib/rancher/rke2/agent/images"
  [[ -s "${STATE_DIR}/rke2-version" ]] || fail "rke2: /etc/packer-build/rke2-version missing"
}

check_etcd_user() {
  grep -q '^etcd:' "${ROOT}/etc/passwd" 2>/dev/null || fail "etcd: no etcd user in /etc/passwd"
}

check_sshd() {
  local setting effective
  if [[ ! -f "$SSHD_DROPIN" ]]; then
    fail "sshd: drop-in ${SSHD_DROPIN#"$ROOT"} missing"
    return 0
  fi
  if ! effective="$(sshd -T -f "${ROOT}/etc/ssh/sshd_config" 2>&1)"; then
    fail "sshd: sshd -T rejected the configuration"
    return 0
  fi
  for setting in "permitrootlogin no" "passwordauthentication no" "x11forwarding no"; do
    grep -qix "$setting" <<<"$effective" || fail "sshd: effective configuration lacks '${setting}'"
  done
}

check_fips() {
  if grep -qx 'status=enabled' "${STATE_DIR}/fips-status" 2>/dev/null; then
    [[ "$(cat "${ROOT}/proc/sys/crypto/fips_enabled" 2>/dev/null || true)" == "1" ]] ||
      fail "fips: fips-updates enabled but the running kernel is not in FIPS mode"
  fi
}

check_manifest() {
  local manifest="${STATE_DIR}/image-manifest.json"
  jq -e '
    (.schema_version | type == "string" and startswith("1.")) and
    (.built_by == "packer") and
    (.built_at | type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) and
    (.os.pretty_name | type == "string") and (.os.kernel | type == "string") and
    (.kubernetes.distribution == "rke2") and (.kubernetes.version | type == "string") and
    (.fips_enabled | type == "boolean") and
    (.prepulled_images | type == "array" and all(type == "string"))' "$manifest" >/dev/null 2>&1 ||
    fail "manifest: /etc/packer-build/image-manifest.json missing or not schema 1.x"
}

# --- prepulled images present in containerd (needs RKE2's containerd, standalone again) -------
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
  if [[ -x "${RKE2_BIN_DIR}/containerd" ]]; then
    PATH="${RKE2_BIN_DIR}:${PATH}"
  elif [[ -x "${RUNTIME_CACHE}/bin/containerd" ]]; then
    PATH="${RUNTIME_CACHE}/bin:${PATH}"
  fi
  command -v containerd >/dev/null || return 1
  mkdir -p "${ROOT}/tmp"
  WORK="$(mktemp -d "${ROOT}/tmp/kiln-validate.XXXXXX")"
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
  return 1
}

check_prepulled() {
  local list="${STATE_DIR}/prepulled-images.txt" check ref
  [[ -f "$list" ]] || {
    fail "images: /etc/packer-build/prepulled-images.txt missing"
    return 0
  }
  [[ -s "$list" ]] || return 0
  if ! start_containerd; then
    fail "images: could not start RKE2's containerd to check the pre-pulled images"
    return 0
  fi
  if ! check="$(ctr --address "$SOCKET" --namespace k8s.io images check)"; then
    fail "images: ctr images check failed"
    return 0
  fi
  while read -r ref _; do
    [[ -z "$ref" ]] && continue
    awk -v ref="$ref" '$1 == ref && $4 == "complete" { found = 1 } END { exit !found }' <<<"$check" ||
      fail "images: ${ref} is not complete in containerd (namespace k8s.io)"
  done <"$list"
}

check_sysctls
progress 1 "sysctls checked"
check_modules
progress 2 "kernel modules checked"
check_swap
progress 3 "swap checked"
check_rke2
progress 4 "rke2 install checked"
check_etcd_user
progress 5 "etcd user checked"
check_sshd
progress 6 "sshd checked"
check_fips
progress 7 "fips checked"
check_manifest
progress 8 "manifest checked"
check_prepulled
progress 9 "pre-pulled images checked"

if ((${#FAILURES[@]})); then
  {
    printf '07-validate: %d check(s) failed, the image will not be snapshotted:\n' "${#FAILURES[@]}"
    printf '  - %s\n' "${FAILURES[@]}"
  } >&2
  exit 1
fi
printf 'all checks passed\n'
