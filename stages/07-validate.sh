#!/usr/bin/env bash
# Stage 07: the validation gate. Runs after 06-manifest and before 05-cleanup, so a broken image is
# never snapshotted. Every check runs; any failure fails the build with the whole list. What only
# 05 can make true (host keys gone, machine-id empty, cloud-init state, /var/log small, Pro
# detached) is checked by 05's own last step.
#
# Environment:
#   TARGET_ROOT       prefix for every file read and written (tests); empty on a build VM
#   HARBOR_REGISTRY   registry host the pinned images came from (default harbor.vitro.lan)
#   PREPULL_STRICT    true: a pinned image that was not pre-pulled fails the gate; otherwise
#                     (partial pre-pulls allowed, the default) each is a `kiln:warn prepull-failed`.
#                     Nothing pre-pulled at all always fails.
#   PINNED_LIST       file holding the IMAGES array (default: the copy of itself 03 left in
#                     /var/lib/kiln-build/pinned-images.sh, else 03-prepull-images.sh beside
#                     this script, as in the repository)
#   RKE2_BIN_DIR      RKE2's runtime binaries (default ${TARGET_ROOT}/var/lib/rancher/rke2/bin)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=lib/containerd.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/containerd.sh"
kiln_init 07-validate

HARBOR_REGISTRY="${HARBOR_REGISTRY:-harbor.vitro.lan}"
PREPULL_STRICT="${PREPULL_STRICT:-false}"
PINNED_LIST="${PINNED_LIST:-}"
if [[ -z "$PINNED_LIST" ]]; then
  PINNED_LIST="${BUILD_STATE_DIR}/pinned-images.sh"
  [[ -f "$PINNED_LIST" ]] || PINNED_LIST="${KILN_STAGES_DIR}/03-prepull-images.sh"
fi
CAPRKE2_DIR="${ROOT}/opt/rke2-artifacts"
SYSCTL_FILE="${ROOT}/etc/sysctl.d/90-rke2-node.conf"
MODULES_FILE="${ROOT}/etc/modules-load.d/rke2.conf"
SSHD_DROPIN="${ROOT}/etc/ssh/sshd_config.d/10-rke2-node.conf"
MANIFEST="${STATE_DIR}/image-manifest.json"
PINNED_LABEL="io.cri-containerd.pinned=pinned"
# enabled at boot (qemu-guest-agent is static: udev starts it when Nova adds the channel)
ENABLED_SERVICES=(chrony multipathd iscsid qemu-guest-agent)
# installed, never enabled or started by the build: CAPRKE2 enables and starts one at first boot
RKE2_UNITS=(rke2-server rke2-agent)

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
  mapfile -t tarballs < <(airgap_tarballs)
  ((${#tarballs[@]})) || fail "rke2: no airgap images tarball in /var/lib/rancher/rke2/agent/images"
  [[ -s "${STATE_DIR}/rke2-version" ]] || fail "rke2: /etc/packer-build/rke2-version missing"
}

# CAPRKE2 airGapped: `sha256sum /opt/rke2-artifacts/sha256sum*.txt` must equal airGappedChecksum,
# then `INSTALL_RKE2_ARTIFACT_PATH=/opt/rke2-artifacts sh /opt/install.sh`
check_caprke2() {
  local sums=() names=() name want got recorded
  [[ -s "${ROOT}/opt/install.sh" ]] || fail "caprke2: /opt/install.sh missing"
  [[ -f "${CAPRKE2_DIR}/rke2.linux-amd64.tar.gz" ]] || fail "caprke2: /opt/rke2-artifacts/rke2.linux-amd64.tar.gz missing"
  if ! compgen -G "${CAPRKE2_DIR}/rke2-images*.linux-amd64.tar.*" >/dev/null; then
    fail "caprke2: no rke2-images*.linux-amd64.tar.* in /opt/rke2-artifacts"
  fi
  mapfile -t sums < <(find "$CAPRKE2_DIR" -maxdepth 1 -name 'sha256sum*.txt' 2>/dev/null)
  if ((${#sums[@]} != 1)); then
    fail "caprke2: /opt/rke2-artifacts must hold exactly one sha256sum*.txt (CAPRKE2 hashes the glob), found ${#sums[@]}"
    return 0
  fi
  mapfile -t names < <(find "$CAPRKE2_DIR" -maxdepth 1 -type f \( -name rke2.linux-amd64.tar.gz -o -name 'rke2-images*.linux-amd64.tar.*' \) -printf '%f\n')
  for name in "${names[@]}"; do
    want="$(awk -v f="$name" '$2 == f || $2 == "*" f { print $1; exit }' "${sums[0]}")"
    got="$(sha256_of "${CAPRKE2_DIR}/${name}")"
    [[ -n "$want" && "$want" == "$got" ]] || fail "caprke2: /opt/rke2-artifacts/${name} does not match ${sums[0]##*/}"
  done
  recorded="$(jq -r '.rke2_airgapped_checksum // empty' "$MANIFEST" 2>/dev/null || true)"
  got="$(sha256_of "${sums[0]}")"
  [[ "$recorded" == "$got" ]] || fail "caprke2: manifest rke2_airgapped_checksum '${recorded:-missing}' is not the SHA-256 of ${sums[0]#"$ROOT"} (${got})"
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

# image-builder's goss services: enabled where they must be, and RKE2 installed but not running
check_services() {
  local svc state unit
  for svc in "${ENABLED_SERVICES[@]}"; do
    state="$(systemctl is-enabled "${svc}.service" 2>/dev/null || true)"
    case "$state" in
      enabled | static | indirect | alias | enabled-runtime) ;;
      *) fail "service: ${svc} is '${state:-unknown}', want enabled" ;;
    esac
  done
  for unit in "${RKE2_UNITS[@]}"; do
    if [[ ! -f "${ROOT}/usr/local/lib/systemd/system/${unit}.service" && ! -f "${ROOT}/lib/systemd/system/${unit}.service" &&
      ! -f "${ROOT}/etc/systemd/system/${unit}.service" ]]; then
      fail "service: ${unit}.service is not installed"
    fi
    state="$(systemctl is-enabled "${unit}.service" 2>/dev/null || true)"
    [[ "$state" != enabled* ]] || fail "service: ${unit} is enabled (CAPRKE2 enables it at first boot; the build must not)"
    state="$(systemctl is-active "${unit}.service" 2>/dev/null || true)"
    [[ "$state" != active && "$state" != activating ]] || fail "service: ${unit} is ${state} (the build must never start RKE2)"
  done
}

check_fips() {
  if grep -qx 'status=enabled' "${STATE_DIR}/fips-status" 2>/dev/null; then
    [[ "$(cat "${ROOT}/proc/sys/crypto/fips_enabled" 2>/dev/null || true)" == "1" ]] ||
      fail "fips: fips-updates enabled but the running kernel is not in FIPS mode"
  fi
}

check_manifest() {
  jq -e '
    (.schema_version | type == "string" and startswith("1.")) and
    (.built_by == "packer") and
    (.built_at | type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")) and
    (.os.pretty_name | type == "string") and (.os.kernel | type == "string") and
    (.kubernetes.distribution == "rke2") and (.kubernetes.version | type == "string") and
    (.fips_enabled | type == "boolean") and
    (.prepulled_images | type == "array" and all(type == "string"))' "$MANIFEST" >/dev/null 2>&1 ||
    fail "manifest: /etc/packer-build/image-manifest.json missing or not schema 1.x"
}

# image-builder's goss hygiene checks that hold before 05 runs (05 checks the rest)
check_hygiene() {
  local found
  found="$(find "${ROOT}/var/crash" "${ROOT}/var/lib/systemd/coredump" -xdev -type f \
    \( -name core -o -name 'core.*' -o -name '*.core' -o -name '*.crash' \) -print -quit 2>/dev/null || true)"
  [[ -z "$found" ]] || fail "hygiene: core dump ${found#"$ROOT"} in the image"
}

# --- pre-pulled images: against the pinned list, then in RKE2's containerd ------------------
PULLED_REFS=()
check_prepull_records() {
  local list="${STATE_DIR}/prepulled-images.txt" failures="${STATE_DIR}/prepull-failures.txt"
  local expected=() upstream path ref pulled_count partial=0
  if [[ ! -f "$list" ]]; then
    fail "images: /etc/packer-build/prepulled-images.txt missing (did 03 run?)"
    return 0
  fi
  [[ -f "$PINNED_LIST" ]] || die "the pinned list is missing: ${BUILD_STATE_DIR#"$ROOT"}/pinned-images.sh (03 leaves it) or ${PINNED_LIST}"
  while read -r upstream path; do
    expected+=("${HARBOR_REGISTRY}/${path}")
  done < <(pinned_images "$PINNED_LIST")
  mapfile -t PULLED_REFS < <(awk 'NF >= 2 { print $1 }' "$list")
  pulled_count="${#PULLED_REFS[@]}"
  if ((pulled_count == 0 && ${#expected[@]} > 0)); then
    fail "images: 0 of ${#expected[@]} pinned images pre-pulled"
    return 0
  fi
  for ref in "${expected[@]}"; do
    if grep -qF -x -- "$ref" <(printf '%s\n' "${PULLED_REFS[@]}"); then
      continue
    fi
    if grep -qF -x -- "$ref" "$failures" 2>/dev/null; then
      if [[ "$PREPULL_STRICT" == "true" ]]; then
        fail "images: ${ref} was not pre-pulled (PREPULL_STRICT=true)"
      else
        warn "prepull-failed ${ref}" # the console's contract: exactly this line per image
        partial=$((partial + 1))
      fi
    else
      fail "images: ${ref} is pinned but neither pre-pulled nor recorded as failed"
    fi
  done
  if ((partial)); then
    warn "${partial} pinned image(s) not in the image (partial pre-pulls allowed, prepull_strict=false): nodes pull them from the registry at boot"
  fi
  # shellcheck disable=SC2034 # read by the step runner in lib/common.sh
  STEP_LABEL="pre-pull records: ${pulled_count} of ${#expected[@]} pinned images"
}

# blobs_of DIGEST: the config and layer digests of an image (index: its linux/amd64 manifest)
blobs_of() {
  local json
  json="$(ctrn content get "$1")" || return 1
  if jq -e '.manifests' >/dev/null 2>&1 <<<"$json"; then
    json="$(ctrn content get "$(jq -r '[.manifests[] | select(.platform.os == "linux" and .platform.architecture == "amd64")][0].digest' <<<"$json")")" || return 1
  fi
  jq -r '.config.digest, .layers[].digest' <<<"$json"
}

check_images_in_containerd() {
  local check listing ref digest upstream line blob blobs got
  local list="${STATE_DIR}/prepulled-images.txt"
  ((${#PULLED_REFS[@]})) || return 0
  find_runtime
  if ! containerd_start; then
    fail "images: could not start RKE2's containerd to check the pre-pulled images"
    return 0
  fi
  if ! check="$(ctrn images check)" || ! listing="$(ctrn images ls)"; then
    fail "images: ctr images check failed"
    return 0
  fi
  while read -r ref digest upstream; do
    [[ -z "$ref" ]] && continue
    awk -v ref="$ref" '$1 == ref && $4 == "complete" { found = 1 } END { exit !found }' <<<"$check" ||
      { fail "images: ${ref} is not complete in containerd (namespace k8s.io)"; continue; }
    line="$(awk -v ref="$ref" '$1 == ref' <<<"$listing")"
    [[ "$(awk '{ print $3 }' <<<"$line")" == "$digest" ]] || fail "images: ${ref} has digest $(awk '{ print $3 }' <<<"$line"), recorded ${digest}"
    [[ "$line" == *"$PINNED_LABEL"* ]] || fail "images: ${ref} is not pinned (${PINNED_LABEL}); kubelet's image GC may delete it"
    if [[ -n "${upstream:-}" ]]; then
      line="$(awk -v ref="$upstream" '$1 == ref' <<<"$listing")"
      if [[ -z "$line" ]]; then
        fail "images: ${ref} is not tagged as ${upstream}; a manifest naming the upstream image would pull at boot"
      else
        [[ "$(awk '{ print $3 }' <<<"$line")" == "$digest" ]] || fail "images: ${upstream} is not the same image as ${ref}"
        [[ "$line" == *"$PINNED_LABEL"* ]] || fail "images: ${upstream} is not pinned (${PINNED_LABEL})"
      fi
    fi
    # `ctr images check` trusts metadata: read every blob back and verify its digest
    if ! blobs="$(blobs_of "$digest")"; then
      fail "images: ${ref}: manifest ${digest} is missing from the content store"
      continue
    fi
    while read -r blob; do
      got="$({ ctrn content get "$blob" 2>/dev/null || true; } | sha256sum | awk '{ print "sha256:" $1 }')"
      [[ "$got" == "$blob" ]] || fail "images: ${ref}: blob ${blob} is missing or corrupt in the content store"
    done <<<"$blobs"
  done <"$list"
  containerd_stop
}

trap containerd_stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step check_sysctls "sysctls checked"
step check_modules "kernel modules checked"
step check_swap "swap checked"
step check_rke2 "rke2 install checked"
step check_caprke2 "CAPRKE2 airgap artifacts checked"
step check_etcd_user "etcd user checked"
step check_sshd "sshd checked"
step check_services "services checked"
step check_fips "fips checked"
step check_manifest "manifest checked"
step check_hygiene "hygiene checked"
step check_prepull_records "pre-pull records checked"
step check_images_in_containerd "pre-pulled images checked in containerd"
run_steps

if ((${#FAILURES[@]})); then
  {
    printf '07-validate: %d check(s) failed, the image will not be snapshotted:\n' "${#FAILURES[@]}"
    printf '  - %s\n' "${FAILURES[@]}"
  } >&2
  exit 1
fi
printf 'all checks passed\n'
