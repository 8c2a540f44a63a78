#!/usr/bin/env bash
# Stage 04: kernel modules, sysctls (the document's plus RKE2's CIS ones), conflicting services
# off, SSH hardening, optional FIPS.
#
# Environment:
#   TARGET_ROOT        prefix for every file written (tests); empty on a build VM
#   FIPS_ENABLED       true: enable fips-updates through Ubuntu Pro (default false)
#   UBUNTU_PRO_TOKEN   optional: attach an unattached image for the build (detached by 05).
#                      Arrives in the environment only (the template's root-only env file),
#                      goes to `pro attach` in a 0600 attach config, never on a command line.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
kiln_init 04-harden

FIPS_ENABLED="${FIPS_ENABLED:-false}"
UBUNTU_PRO_TOKEN="${UBUNTU_PRO_TOKEN:-}"
MODULES_FILE="${ROOT}/etc/modules-load.d/rke2.conf"
SYSCTL_FILE="${ROOT}/etc/sysctl.d/90-rke2-node.conf"
SSHD_DROPIN="${ROOT}/etc/ssh/sshd_config.d/10-rke2-node.conf"

MODULES=(br_netfilter overlay nf_conntrack ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh)
SYSCTLS=(
  "net.bridge.bridge-nf-call-iptables=1"
  "net.bridge.bridge-nf-call-ip6tables=1"
  "net.ipv4.ip_forward=1"
  "net.ipv6.conf.all.forwarding=1"
  "net.netfilter.nf_conntrack_max=1048576"
  "vm.overcommit_memory=1"
  "vm.panic_on_oom=0"
  "kernel.panic=10"
  "kernel.panic_on_oops=1"
  "kernel.keys.root_maxkeys=1000000"
  "kernel.keys.root_maxbytes=25000000"
  "fs.inotify.max_user_instances=8192"
  "fs.inotify.max_user_watches=524288"
)
DISABLED_SERVICES=(ufw firewalld apparmor)

load_modules() {
  local m
  mkdir -p "${MODULES_FILE%/*}"
  {
    printf '# Written by the rke2-node image build (stage 04): loaded on every boot.\n'
    printf '%s\n' "${MODULES[@]}"
  } >"$MODULES_FILE"
  for m in "${MODULES[@]}"; do
    modprobe "$m"
  done
}

apply_sysctls() {
  mkdir -p "${SYSCTL_FILE%/*}"
  {
    printf '# Written by the rke2-node image build (stage 04): Kubernetes and RKE2 CIS sysctls.\n'
    printf '%s\n' "${SYSCTLS[@]}"
  } >"$SYSCTL_FILE"
  sysctl -p "$SYSCTL_FILE"
}

disable_services() {
  local svc
  for svc in "${DISABLED_SERVICES[@]}"; do
    if systemctl cat "${svc}.service" >/dev/null 2>&1; then
      systemctl disable --now "${svc}.service"
      systemctl mask "${svc}.service"
    else
      printf '%s is not installed\n' "$svc"
    fi
  done
}

harden_ssh() {
  mkdir -p "${SSHD_DROPIN%/*}"
  cat >"$SSHD_DROPIN" <<'CONF'
# Written by the rke2-node image build (stage 04). sshd keeps the first value it reads, and this
# file sorts before the cloud image's 50-cloudimg-settings.conf.
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
X11Forwarding no
CONF
  if ! sshd -t -f "${ROOT}/etc/ssh/sshd_config"; then
    die "sshd -t rejected the configuration with ${SSHD_DROPIN}"
  fi
}

pro_attached() {
  command -v pro >/dev/null || return 1
  [[ "$(pro status --format json 2>/dev/null | jq -r '.attached' 2>/dev/null || true)" == "true" ]]
}

pro_attach_for_build() {
  local cfg
  command -v pro >/dev/null || return 1
  [[ -n "$UBUNTU_PRO_TOKEN" ]] || return 1
  mkdir -p "$STATE_DIR"
  cfg="$(umask 077 && mktemp "${STATE_DIR}/pro-attach.XXXXXX")"
  printf 'token: %s\nenable_services: []\n' "$UBUNTU_PRO_TOKEN" >"$cfg"
  if pro attach --attach-config "$cfg"; then
    rm -f "$cfg"
    printf 'attached by the image build; 05-cleanup.sh detaches before the snapshot\n' >"${STATE_DIR}/pro-attached-by-build"
    sed -i 's/^attached_by_build=.*/attached_by_build=true/' "${STATE_DIR}/ubuntu-pro"
    return 0
  fi
  rm -f "$cfg"
  return 1
}

write_fips_status() {
  mkdir -p "$STATE_DIR"
  printf 'requested=%s\nstatus=%s\n' "$1" "$2" >"${STATE_DIR}/fips-status"
}

# /etc/packer-build/ubuntu-pro: was the SOURCE image already attached (then every clone would
# carry its machine token: 05 detaches it too), and did this build attach it?
record_pro_source() {
  local source_attached=unknown
  if have pro; then
    if pro_attached; then source_attached=true; else source_attached=false; fi
  fi
  mkdir -p "$STATE_DIR"
  printf 'source_attached=%s\nattached_by_build=false\n' "$source_attached" >"${STATE_DIR}/ubuntu-pro"
  if [[ "$source_attached" == "true" ]]; then
    warn "the source image is attached to Ubuntu Pro; 05-cleanup detaches it before the snapshot (a clone must not carry its machine token)"
  fi
}

fips() {
  record_pro_source
  if [[ "$FIPS_ENABLED" != "true" ]]; then
    write_fips_status false disabled
    STEP_LABEL="fips: disabled"
    return 0
  fi
  if pro_attached || pro_attach_for_build; then
    pro enable fips-updates --assume-yes
    write_fips_status true enabled
    # The FIPS kernel only runs after a reboot; the template reboots when this marker exists.
    printf 'fips-updates enabled\n' >"${STATE_DIR}/reboot-required"
  else
    warn "FIPS requested but the source image is not Ubuntu Pro (or no Pro token): this image will NOT be FIPS-validated"
    write_fips_status true unavailable
  fi
  # shellcheck disable=SC2034 # read by the step runner in lib/common.sh
  STEP_LABEL="fips: $(sed -n 's/^status=//p' "${STATE_DIR}/fips-status")"
}

step load_modules "kernel modules loaded: ${MODULES[*]}"
step apply_sysctls "sysctls applied"
step disable_services "ufw, firewalld, apparmor disabled"
step harden_ssh "sshd hardened"
step fips "fips"
run_steps
