#!/usr/bin/env bash
# Stage 05: generalize the VM for imaging. Runs last, after the 07 gate. /etc/packer-build/ is
# kept (the image manifest is part of the deliverable) and so are /opt/install.sh and
# /opt/rke2-artifacts/ (CAPRKE2 installs RKE2 from them at first boot).
#
# Every step is safe on a minimal image: a missing tool or directory is skipped (or warned
# about), never fatal half-way. The last step is a check of what only this stage can make true
# (image-builder's goss image-hygiene checks and kiln's own); any failure fails the build, so the
# image is not snapshotted.
#
# Environment:
#   TARGET_ROOT   prefix for every file touched (tests); empty on a build VM
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
shopt -s nullglob
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
kiln_init 05-cleanup

CONTAINERD_ROOT="${ROOT}/var/lib/rancher/rke2/agent/containerd"
INTROSPECTION_UUID="${CONTAINERD_ROOT}/io.containerd.grpc.v1.introspection/uuid"
VAR_LOG_MAX_MB="${VAR_LOG_MAX_MB:-200}"

pro_attached() {
  have pro || return 1
  [[ "$(pro status --format json 2>/dev/null | jq -r '.attached' 2>/dev/null || true)" == "true" ]]
}

# Detach whatever is attached: by this build (04 with a token) or already in the source image.
# Either way no clone may carry the machine token. 06 recorded which in the manifest.
detach_pro() {
  local why="attached by this build"
  if pro_attached; then
    grep -qx 'source_attached=true' "${STATE_DIR}/ubuntu-pro" 2>/dev/null && why="attached in the source image"
    pro detach --assume-yes
    STEP_LABEL="ubuntu pro detached (${why})"
  else
    STEP_LABEL="ubuntu pro: not attached"
  fi
  rm -f "${STATE_DIR}/pro-attached-by-build" "${STATE_DIR}/reboot-required"
}

clean_cloud_init() {
  if have cloud-init; then
    # --machine-id needs cloud-init >= 22.3; older ones clean without it and we truncate below.
    cloud-init clean --logs --machine-id || cloud-init clean --logs || warn "cloud-init clean failed"
  else
    warn "no cloud-init in the image; its state was not cleaned"
  fi
  if [[ -e "${ROOT}/etc/machine-id" ]]; then
    : >"${ROOT}/etc/machine-id" # empty, not absent: systemd regenerates it on first boot
  fi
  if [[ -f "${ROOT}/var/lib/dbus/machine-id" && ! -L "${ROOT}/var/lib/dbus/machine-id" ]]; then
    rm -f "${ROOT}/var/lib/dbus/machine-id"
  fi
}

remove_ssh_keys() {
  local f
  rm -f "${ROOT}"/etc/ssh/ssh_host_*
  # cloud-init put Packer's temporary key here; a node gets its own keys from CAPO at first boot.
  # Only files that exist: a minimal image may have no /root/.ssh at all.
  for f in "${ROOT}"/root/.ssh/authorized_keys "${ROOT}"/home/*/.ssh/authorized_keys; do
    if [[ -f "$f" ]]; then
      : >"$f"
    fi
  done
}

clear_history() {
  rm -f "${ROOT}"/root/.bash_history "${ROOT}"/home/*/.bash_history
}

truncate_logs() {
  if have journalctl; then
    journalctl --rotate || true
    journalctl --vacuum-time=1s || true
  fi
  if [[ -d "${ROOT}/var/log" ]]; then
    # rotated archives go; live logs are emptied in place, so owner and mode stay as they were
    find "${ROOT}/var/log" -path "${ROOT}/var/log/journal" -prune -o -type f \
      \( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' \) -print0 | xargs -0 -r rm -f
    find "${ROOT}/var/log" -path "${ROOT}/var/log/journal" -prune -o -type f -print0 |
      xargs -0 -r truncate -s 0
  fi
}

clean_apt() {
  if have apt-get; then
    apt-get clean || warn "apt-get clean failed"
  fi
  rm -rf "${ROOT}"/var/lib/apt/lists/*
}

# build-time state: the runtime cache and work files (outside /tmp so they survived the FIPS
# reboot), containerd's introspection UUID (every clone would share it), /tmp and /var/tmp
# (the uploaded stage scripts and artifacts live there)
clean_build_state() {
  local d
  rm -rf "$BUILD_STATE_DIR"
  rm -f "$INTROSPECTION_UUID"
  for d in "${ROOT}/tmp" "${ROOT}/var/tmp"; do
    if [[ -d "$d" ]]; then
      find "$d" -mindepth 1 -delete 2>/dev/null || find "$d" -mindepth 1 -exec rm -rf {} + 2>/dev/null || true
    fi
  done
}

trim() {
  if have fstrim; then
    fstrim -av || warn "fstrim failed; the image will not be sparsified (larger upload)"
  else
    warn "no fstrim; the image will not be sparsified (larger upload)"
  fi
  if have sync; then
    sync
  fi
}

# --- the last check: what only 05 makes true -----------------------------------------------
FAILURES=()
fail() {
  FAILURES+=("$*")
  warn "validate-failed $*"
}

final_check() {
  local found f mb
  found="$(find "${ROOT}/etc/ssh" -xdev -type f -name 'ssh_host_*_key' -print -quit 2>/dev/null || true)"
  [[ -z "$found" ]] || fail "hygiene: SSH host key ${found#"$ROOT"} still present"
  if [[ -s "${ROOT}/etc/machine-id" ]] && ! grep -qx uninitialized "${ROOT}/etc/machine-id"; then
    fail "hygiene: /etc/machine-id is not empty"
  fi
  [[ ! -e "${ROOT}/var/lib/cloud/data/instance-id" ]] || fail "hygiene: cloud-init instance id /var/lib/cloud/data/instance-id still present"
  found="$(find "${ROOT}/var/crash" "${ROOT}/var/lib/systemd/coredump" "${ROOT}/var/tmp" "${ROOT}/tmp" -xdev -type f \
    \( -name core -o -name 'core.*' -o -name '*.core' -o -name '*.crash' \) -print -quit 2>/dev/null || true)"
  [[ -z "$found" ]] || fail "hygiene: core dump ${found#"$ROOT"} in the image"
  if [[ -d "${ROOT}/var/log" ]]; then
    mb="$(du -sm "${ROOT}/var/log" | awk '{ print $1 }')"
    ((mb <= VAR_LOG_MAX_MB)) || fail "hygiene: /var/log is ${mb} MB (at most ${VAR_LOG_MAX_MB} MB)"
  fi
  for f in "${ROOT}"/root/.ssh/authorized_keys "${ROOT}"/home/*/.ssh/authorized_keys; do
    [[ ! -s "$f" ]] || fail "hygiene: ${f#"$ROOT"} still holds keys"
  done
  [[ ! -e "$INTROSPECTION_UUID" ]] || fail "hygiene: containerd's introspection UUID is still in the image"
  [[ ! -e "$BUILD_STATE_DIR" ]] || fail "hygiene: build state ${BUILD_STATE_DIR#"$ROOT"} still in the image"
  ! pro_attached || fail "ubuntu pro: still attached; every clone would carry this machine's token"
  [[ -f "${STATE_DIR}/image-manifest.json" ]] || fail "manifest: /etc/packer-build/image-manifest.json missing"
  for f in /opt/install.sh /opt/rke2-artifacts/sha256sum-amd64.txt /opt/rke2-artifacts/rke2.linux-amd64.tar.gz; do
    [[ -f "${ROOT}${f}" ]] || fail "caprke2: ${f} missing (CAPRKE2 installs RKE2 from it at first boot)"
  done
  if ((${#FAILURES[@]})); then
    {
      printf '05-cleanup: %d final check(s) failed, the image will not be snapshotted:\n' "${#FAILURES[@]}"
      printf '  - %s\n' "${FAILURES[@]}"
    } >&2
    exit 1
  fi
  # shellcheck disable=SC2034 # read by the step runner in lib/common.sh
  STEP_LABEL="generalized and checked; /etc/packer-build and /opt/rke2-artifacts kept"
}

step detach_pro "ubuntu pro attachment checked"
step clean_cloud_init "cloud-init cleaned, machine-id truncated"
step remove_ssh_keys "ssh host keys and build keys removed"
step clear_history "shell history cleared"
step truncate_logs "logs truncated"
step clean_apt "apt cache cleaned"
step clean_build_state "build state, /tmp and /var/tmp cleaned"
step trim "filesystem trimmed"
step final_check "final checks passed"
run_steps
