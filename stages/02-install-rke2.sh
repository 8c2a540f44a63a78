#!/usr/bin/env bash
# Stage 02: verify the offline artifacts, install RKE2 from them (no network), stage the airgap
# images tarball, create the etcd user the CIS profile needs, record the version. RKE2 is never
# started or enabled here: CAPI's bootstrap decides server or agent on first boot.
#
# Environment:
#   TARGET_ROOT   prefix for every file written (tests); empty on a build VM
#   ARTIFACT_DIR  where files/ was uploaded (default ${TARGET_ROOT}/tmp/rke2-artifacts)
#   K8S_VERSION   expected RKE2 version (e.g. v1.28.15+rke2r1); the build fails on a mismatch
set -euo pipefail

ROOT="${TARGET_ROOT:-}"
ARTIFACT_DIR="${ARTIFACT_DIR:-${ROOT}/tmp/rke2-artifacts}"
K8S_VERSION="${K8S_VERSION:-}"
SUMS_NAME="sha256sum-amd64.txt"
STATE_DIR="${ROOT}/etc/packer-build"
IMAGES_DIR="${ROOT}/var/lib/rancher/rke2/agent/images"

TOTAL=5
progress() { printf 'kiln:progress %s/%s %s\n' "$1" "$TOTAL" "$2"; }
warn() { printf 'kiln:warn %s\n' "$*"; }
die() { printf '02-install-rke2: %s\n' "$*" >&2; exit 1; }

# expected_sum NAME: the checksum sha256sum-amd64.txt lists for NAME (text or binary mode)
expected_sum() {
  awk -v f="$1" '$2 == f || $2 == "*" f { print $1; exit }' "${ARTIFACT_DIR}/${SUMS_NAME}"
}

verify_one() {
  local name="$1" want got
  [[ -f "${ARTIFACT_DIR}/${name}" ]] || die "missing artifact: ${name} (expected in ${ARTIFACT_DIR})"
  want="$(expected_sum "$name")"
  [[ -n "$want" ]] || die "no checksum for ${name} in ${SUMS_NAME}"
  got="$(sha256sum "${ARTIFACT_DIR}/${name}" | awk '{ print $1 }')"
  [[ "$got" == "$want" ]] || die "checksum mismatch: ${name} (expected ${want}, got ${got})"
  printf '%s  %s\n' "$got" "$name" >>"${STATE_DIR}/artifacts.sha256"
}

AIRGAP_TARBALLS=()
verify_artifacts() {
  local path name installer_sum
  [[ -f "${ARTIFACT_DIR}/${SUMS_NAME}" ]] || die "missing artifact: ${SUMS_NAME} (expected in ${ARTIFACT_DIR})"
  [[ -f "${ARTIFACT_DIR}/rke2-install.sh" ]] || die "missing artifact: rke2-install.sh (expected in ${ARTIFACT_DIR})"
  mkdir -p "$STATE_DIR"
  : >"${STATE_DIR}/artifacts.sha256"
  verify_one rke2.linux-amd64.tar.gz
  shopt -s nullglob
  for path in "${ARTIFACT_DIR}"/rke2-images*.linux-amd64.tar.zst "${ARTIFACT_DIR}"/rke2-images*.linux-amd64.tar.gz; do
    AIRGAP_TARBALLS+=("${path##*/}")
  done
  shopt -u nullglob
  ((${#AIRGAP_TARBALLS[@]})) || die "missing artifact: rke2-images.linux-amd64.tar.zst (expected in ${ARTIFACT_DIR})"
  for name in "${AIRGAP_TARBALLS[@]}"; do
    verify_one "$name"
  done
  # The release's sha256sum-amd64.txt does not list the installer (it comes from get.rke2.io):
  # verify it when the operator added a line for it, warn otherwise.
  installer_sum="$(expected_sum rke2-install.sh)"
  if [[ -n "$installer_sum" ]]; then
    verify_one rke2-install.sh
  else
    warn "rke2-install.sh has no line in ${SUMS_NAME}; it was not verified (see files/README.md)"
  fi
}

install_rke2() {
  INSTALL_RKE2_ARTIFACT_PATH="$ARTIFACT_DIR" \
    INSTALL_RKE2_METHOD=tar \
    INSTALL_RKE2_TAR_PREFIX="${ROOT}/usr/local" \
    INSTALL_RKE2_AGENT_IMAGES_DIR="$IMAGES_DIR" \
    sh "${ARTIFACT_DIR}/rke2-install.sh"
}

stage_images() {
  local name
  mkdir -p "$IMAGES_DIR"
  for name in "${AIRGAP_TARBALLS[@]}"; do
    # The installer copies the main tarball itself; make sure every verified one is in place.
    if [[ ! -f "${IMAGES_DIR}/${name}" ]] ||
      [[ "$(stat -c %s "${IMAGES_DIR}/${name}")" != "$(stat -c %s "${ARTIFACT_DIR}/${name}")" ]]; then
      cp "${ARTIFACT_DIR}/${name}" "${IMAGES_DIR}/${name}"
    fi
  done
}

create_etcd_user() {
  local args=(--system --no-create-home --user-group --shell /usr/sbin/nologin --comment "etcd user")
  if grep -q '^etcd:' "${ROOT}/etc/passwd" 2>/dev/null; then
    return 0
  fi
  if [[ -n "$ROOT" ]]; then
    args+=(--root "$ROOT")
  fi
  useradd "${args[@]}" etcd
}

record_version() {
  local version
  version="$(rke2 --version | awk '$2 == "version" { print $3; exit }')"
  [[ -n "$version" ]] || die "could not read the installed RKE2 version from 'rke2 --version'"
  if [[ -n "$K8S_VERSION" && "$version" != "$K8S_VERSION" ]]; then
    die "the artifacts in files/ are RKE2 ${version} but k8s_version is ${K8S_VERSION}"
  fi
  printf '%s\n' "$version" >"${STATE_DIR}/rke2-version"
}

verify_artifacts
progress 1 "artifacts verified against ${SUMS_NAME}"
install_rke2
progress 2 "rke2 installed from ${ARTIFACT_DIR}"
stage_images
progress 3 "airgap images staged in /var/lib/rancher/rke2/agent/images"
create_etcd_user
progress 4 "etcd user present"
record_version
progress 5 "rke2 version recorded"
