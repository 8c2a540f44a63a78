#!/usr/bin/env bash
# Stage 02: verify the offline artifacts, install RKE2 from them (no network), stage the airgap
# images tarball, leave CAPRKE2's airgap artifacts in /opt, create the etcd user the CIS profile
# needs, record the version. RKE2 is never started or enabled here: CAPI's bootstrap decides
# server or agent on first boot.
#
# CAPRKE2 (Cluster API's RKE2 bootstrap provider) with `airGapped: true` runs at first boot
#   [[ $(sha256sum /opt/rke2-artifacts/sha256sum*.txt | awk '{print $1}') == <airGappedChecksum> ]]
#   INSTALL_RKE2_ARTIFACT_PATH=/opt/rke2-artifacts sh /opt/install.sh
# so the image carries /opt/install.sh and /opt/rke2-artifacts/ (rke2.linux-amd64.tar.gz, the
# images tarball(s), sha256sum-amd64.txt: exactly one sha256sum*.txt, the glob must match one
# file). The SHA-256 of that sha256sum file is recorded for the operator (airGappedChecksum).
#
# Environment:
#   TARGET_ROOT   prefix for every file written (tests); empty on a build VM
#   ARTIFACT_DIR  where files/ was uploaded (default ${TARGET_ROOT}/tmp/rke2-artifacts)
#   K8S_VERSION   expected RKE2 version (e.g. v1.28.15+rke2r1); the build fails on a mismatch
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
kiln_init 02-install-rke2

ARTIFACT_DIR="${ARTIFACT_DIR:-${ROOT}/tmp/rke2-artifacts}"
K8S_VERSION="${K8S_VERSION:-}"
SUMS_NAME="sha256sum-amd64.txt"
IMAGES_DIR="${ROOT}/var/lib/rancher/rke2/agent/images"
CAPRKE2_DIR="${ROOT}/opt/rke2-artifacts"
CAPRKE2_INSTALLER="${ROOT}/opt/install.sh"

# expected_sum NAME: the checksum sha256sum-amd64.txt lists for NAME (text or binary mode)
expected_sum() {
  awk -v f="$1" '$2 == f || $2 == "*" f { print $1; exit }' "${ARTIFACT_DIR}/${SUMS_NAME}"
}

verify_one() {
  local name="$1" want got
  [[ -f "${ARTIFACT_DIR}/${name}" ]] || die "missing artifact: ${name} (expected in ${ARTIFACT_DIR})"
  want="$(expected_sum "$name")"
  [[ -n "$want" ]] || die "no checksum for ${name} in ${SUMS_NAME}"
  got="$(sha256_of "${ARTIFACT_DIR}/${name}")"
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

# place SRC DEST: a hard link to the staged copy when possible (the tarball is ~1 GB; CAPRKE2's
# install.sh at first boot copies identical, verified bytes over it), a copy otherwise
place() {
  rm -f "$2"
  ln "$1" "$2" 2>/dev/null || cp "$1" "$2"
  chmod 0644 "$2"
}

stage_caprke2_artifacts() {
  local name
  mkdir -p "$CAPRKE2_DIR"
  # only what CAPRKE2 expects: its checksum glob (sha256sum*.txt) must match exactly one file
  find "$CAPRKE2_DIR" -mindepth 1 -maxdepth 1 -type f -delete
  place "${ARTIFACT_DIR}/rke2.linux-amd64.tar.gz" "${CAPRKE2_DIR}/rke2.linux-amd64.tar.gz"
  for name in "${AIRGAP_TARBALLS[@]}"; do
    if [[ -f "${IMAGES_DIR}/${name}" ]]; then
      place "${IMAGES_DIR}/${name}" "${CAPRKE2_DIR}/${name}"
    else
      place "${ARTIFACT_DIR}/${name}" "${CAPRKE2_DIR}/${name}"
    fi
  done
  cp "${ARTIFACT_DIR}/${SUMS_NAME}" "${CAPRKE2_DIR}/${SUMS_NAME}"
  chmod 0644 "${CAPRKE2_DIR}/${SUMS_NAME}"
  install -m 0755 "${ARTIFACT_DIR}/rke2-install.sh" "$CAPRKE2_INSTALLER"
  # CAPRKE2's airGappedChecksum: the SHA-256 of the sha256sum file itself
  sha256_of "${CAPRKE2_DIR}/${SUMS_NAME}" >"${STATE_DIR}/rke2-airgapped-checksum"
  # shellcheck disable=SC2034 # read by the step runner in lib/common.sh
  STEP_LABEL="CAPRKE2 airgap artifacts in /opt/rke2-artifacts and /opt/install.sh (airGappedChecksum $(cat "${STATE_DIR}/rke2-airgapped-checksum"))"
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

step verify_artifacts "artifacts verified against ${SUMS_NAME}"
step install_rke2 "rke2 installed from ${ARTIFACT_DIR#"$ROOT"}"
step stage_images "airgap images staged in /var/lib/rancher/rke2/agent/images"
step stage_caprke2_artifacts "CAPRKE2 airgap artifacts in /opt"
step create_etcd_user "etcd user present"
step record_version "rke2 version recorded"
run_steps
