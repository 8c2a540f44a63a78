#!/usr/bin/env bash
# Stage 01: OS packages RKE2 and Cinder CSI need, swap off for good, guest services enabled.
#
# Environment:
#   TARGET_ROOT       prefix for every file written (tests); empty on a build VM
#   APT_TRIES         apt-get attempts before the offline fallback (default 3)
#   APT_RETRY_DELAY   base backoff in seconds, doubled after each failure (default 10)
#   PACKER_DEBS_DIR   offline .deb directory (default ${TARGET_ROOT}/tmp/packer-debs)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
kiln_init 01-system-packages

APT_TRIES="${APT_TRIES:-3}"
APT_RETRY_DELAY="${APT_RETRY_DELAY:-10}"
DEBS_DIR="${PACKER_DEBS_DIR:-${ROOT}/tmp/packer-debs}"
export DEBIAN_FRONTEND=noninteractive

# The document's package table, plus jq (stages 04, 06 and 07 build and read JSON with it)
# and zstd (stage 03 reads RKE2's runtime out of the .tar.zst airgap tarball).
PACKAGES=(
  qemu-guest-agent
  multipath-tools
  open-iscsi
  nfs-common
  cryptsetup
  conntrack
  socat
  ebtables
  ethtool
  chrony
  jq
  zstd
)
SERVICES=(qemu-guest-agent multipathd iscsid chrony)

apt_install() {
  apt-get -o DPkg::Lock::Timeout=300 -q update &&
    apt-get -o DPkg::Lock::Timeout=300 -q install -y --no-install-recommends "${PACKAGES[@]}"
}

missing_packages() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    # shellcheck disable=SC2016 # ${Status} is a dpkg-query format field, not a shell expansion
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

install_offline() {
  local debs=() missing=()
  shopt -s nullglob
  debs=("$DEBS_DIR"/*.deb)
  shopt -u nullglob
  if ((${#debs[@]} == 0)); then
    die "apt-get failed ${APT_TRIES} times and there are no offline packages in ${DEBS_DIR} (stage .deb files there, see stages/README.md)"
  fi
  warn "apt-get failed ${APT_TRIES} times; installing ${#debs[@]} offline packages from ${DEBS_DIR}"
  dpkg -i "${debs[@]}" || warn "dpkg -i reported errors; checking what got installed"
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]})); then
    die "apt-get failed ${APT_TRIES} times and the offline packages in ${DEBS_DIR} did not install: ${missing[*]}"
  fi
}

install_packages() {
  local try delay
  for ((try = 1; try <= APT_TRIES; try++)); do
    if apt_install; then
      return 0
    fi
    if ((try < APT_TRIES)); then
      delay=$((APT_RETRY_DELAY * (1 << (try - 1))))
      warn "apt-get failed (attempt ${try}/${APT_TRIES}); retrying in ${delay}s"
      sleep "$delay"
    fi
  done
  install_offline
}

disable_swap() {
  local fstab="${ROOT}/etc/fstab" tmp units=()
  swapoff -a
  if [[ -f "$fstab" ]]; then
    tmp="$(mktemp "${fstab}.XXXXXX")"
    awk '$1 !~ /^#/ && $3 == "swap" { print "# disabled by rke2-node image build (kubelet refuses swap): " $0; next } { print }' \
      "$fstab" >"$tmp"
    cat "$tmp" >"$fstab" # keep the file's inode, owner and mode
    rm -f "$tmp"
  fi
  mapfile -t units < <(systemctl list-units --type=swap --all --plain --no-legend | awk '$1 ~ /\.swap$/ { print $1 }')
  systemctl mask swap.target "${units[@]}"
}

enable_services() {
  local svc state
  for svc in "${SERVICES[@]}"; do
    if ! systemctl enable "$svc"; then
      # qemu-guest-agent is a static unit (started by udev when Nova adds the channel)
      state="$(systemctl is-enabled "$svc" 2>/dev/null || true)"
      case "$state" in
        enabled | static | indirect | alias) ;;
        *) die "could not enable ${svc} (is-enabled: ${state:-unknown})" ;;
      esac
    fi
  done
}

step install_packages "packages installed"
step disable_swap "swap disabled"
step enable_services "services enabled: ${SERVICES[*]}"
run_steps
