#!/usr/bin/env bash
# Stage 05: generalize the VM for imaging. Runs last. /etc/packer-build/ is kept: the image
# manifest is part of the deliverable.
#
# Environment:
#   TARGET_ROOT   prefix for every file touched (tests); empty on a build VM
set -euo pipefail
shopt -s nullglob

ROOT="${TARGET_ROOT:-}"
STATE_DIR="${ROOT}/etc/packer-build"

TOTAL=9
progress() { printf 'kiln:progress %s/%s %s\n' "$1" "$TOTAL" "$2"; }
warn() { printf 'kiln:warn %s\n' "$*"; }

detach_pro() {
  if [[ -f "${STATE_DIR}/pro-attached-by-build" ]]; then
    pro detach --assume-yes
    rm -f "${STATE_DIR}/pro-attached-by-build"
  fi
  rm -f "${STATE_DIR}/reboot-required"
}

clean_cloud_init() {
  # --machine-id needs cloud-init >= 22.3; older ones clean without it and we truncate below.
  cloud-init clean --logs --machine-id || cloud-init clean --logs
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
  for f in "${ROOT}"/root/.ssh/authorized_keys "${ROOT}"/home/*/.ssh/authorized_keys; do
    : >"$f"
  done
}

clear_history() {
  rm -f "${ROOT}"/root/.bash_history "${ROOT}"/home/*/.bash_history
}

truncate_logs() {
  journalctl --rotate || true
  journalctl --vacuum-time=1s || true
  if [[ -d "${ROOT}/var/log" ]]; then
    # rotated archives go; live logs are emptied in place, so owner and mode stay as they were
    find "${ROOT}/var/log" -path "${ROOT}/var/log/journal" -prune -o -type f \
      \( -name '*.gz' -o -name '*.[0-9]' -o -name '*.old' \) -print0 | xargs -0 -r rm -f
    find "${ROOT}/var/log" -path "${ROOT}/var/log/journal" -prune -o -type f -print0 |
      xargs -0 -r truncate -s 0
  fi
}

clean_apt() {
  apt-get clean
  rm -rf "${ROOT}"/var/lib/apt/lists/*
}

clean_tmp() {
  local d
  for d in "${ROOT}/tmp" "${ROOT}/var/tmp"; do
    if [[ -d "$d" ]]; then
      find "$d" -mindepth 1 -delete 2>/dev/null || find "$d" -mindepth 1 -exec rm -rf {} + 2>/dev/null || true
    fi
  done
}

trim() {
  fstrim -av || warn "fstrim failed; the image will not be sparsified (larger upload)"
  sync
}

detach_pro
progress 1 "ubuntu pro attachment checked"
clean_cloud_init
progress 2 "cloud-init cleaned, machine-id truncated"
remove_ssh_keys
progress 3 "ssh host keys and build keys removed"
clear_history
progress 4 "shell history cleared"
truncate_logs
progress 5 "logs truncated"
clean_apt
progress 6 "apt cache cleaned"
clean_tmp
progress 7 "/tmp cleaned"
trim
progress 8 "filesystem trimmed"
[[ -f "${STATE_DIR}/image-manifest.json" ]] || warn "no /etc/packer-build/image-manifest.json in the image"
progress 9 "generalized; /etc/packer-build kept"
