#!/usr/bin/env bats
# Stage 04: modules, sysctls, services off, sshd drop-in, FIPS.

load helpers

setup() {
  setup_stage
  stub modprobe
  stub sysctl
  stub sshd
  # ufw and apparmor exist, firewalld does not
  stub systemctl 'if [[ "$1" == cat && "$2" == firewalld.service ]]; then exit 1; fi'
}

@test "modules are loaded and persisted" {
  run_stage 04-harden.sh
  assert_status 0
  for m in br_netfilter overlay nf_conntrack ip_vs ip_vs_rr ip_vs_wrr ip_vs_sh; do
    grep -qx "$m" "$ROOT/etc/modules-load.d/rke2.conf"
    grep -qx "modprobe $m" "$CALLS"
  done
}

@test "one sysctl.d file holds the document's and RKE2's CIS sysctls, applied after the modules" {
  run_stage 04-harden.sh
  assert_status 0
  f="$ROOT/etc/sysctl.d/90-rke2-node.conf"
  for kv in net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 net.ipv4.ip_forward=1 \
    net.netfilter.nf_conntrack_max=1048576 vm.overcommit_memory=1 vm.panic_on_oom=0 kernel.panic=10 \
    kernel.panic_on_oops=1 fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=524288 \
    kernel.keys.root_maxkeys=1000000 kernel.keys.root_maxbytes=25000000; do
    grep -qx "$kv" "$f"
  done
  [ "$(find "$ROOT/etc/sysctl.d" -type f | wc -l)" -eq 1 ]
  assert_order '^modprobe br_netfilter' "^sysctl -p $f\$"
}

@test "ufw, firewalld and apparmor are disabled when installed" {
  run_stage 04-harden.sh
  assert_status 0
  assert_order '^systemctl disable --now ufw.service' '^systemctl mask ufw.service' \
    '^systemctl disable --now apparmor.service' '^systemctl mask apparmor.service'
  [ -z "$(calls_matching '^systemctl (disable|mask) .*firewalld')" ]
  assert_output_has 'firewalld is not installed'
}

@test "the sshd drop-in forbids root login, passwords and X11 and is checked with sshd -t" {
  run_stage 04-harden.sh
  assert_status 0
  f="$ROOT/etc/ssh/sshd_config.d/10-rke2-node.conf"
  grep -qx 'PermitRootLogin no' "$f"
  grep -qx 'PasswordAuthentication no' "$f"
  grep -qx 'X11Forwarding no' "$f"
  grep -qx "sshd -t -f $ROOT/etc/ssh/sshd_config" "$CALLS"
}

@test "a configuration sshd -t rejects fails the build" {
  stub sshd 'echo "bad option" >&2; exit 255'
  run_stage 04-harden.sh
  assert_status 1
  assert_output_has 'sshd -t rejected the configuration'
}

@test "no FIPS by default: fips-status says so and pro is only asked for its status" {
  stub pro
  run_stage 04-harden.sh
  assert_status 0
  [ "$(cat "$ROOT/etc/packer-build/fips-status")" = "$(printf 'requested=false\nstatus=disabled')" ]
  [ "$(calls_matching '^pro ')" = "pro status --format json" ]
  refute_output_has 'kiln:warn'
}

@test "FIPS on an attached Ubuntu Pro image enables fips-updates and asks for a reboot" {
  stub pro 'if [[ "$1" == status ]]; then echo "{\"attached\": true}"; fi'
  run_stage 04-harden.sh FIPS_ENABLED=true
  assert_status 0
  grep -qx 'pro enable fips-updates --assume-yes' "$CALLS"
  grep -qx 'status=enabled' "$ROOT/etc/packer-build/fips-status"
  [ -f "$ROOT/etc/packer-build/reboot-required" ]
  [ ! -e "$ROOT/etc/packer-build/pro-attached-by-build" ]
}

@test "FIPS on a non-Pro image warns that the image will NOT be FIPS-validated" {
  stub pro 'if [[ "$1" == status ]]; then echo "{\"attached\": false}"; fi'
  run_stage 04-harden.sh FIPS_ENABLED=true
  assert_status 0
  assert_output_has 'will NOT be FIPS-validated'
  [ -z "$(calls_matching '^pro enable')" ]
  [ "$(cat "$ROOT/etc/packer-build/fips-status")" = "$(printf 'requested=true\nstatus=unavailable')" ]
}

@test "FIPS without the pro client at all warns too" {
  run_stage 04-harden.sh FIPS_ENABLED=true
  assert_status 0
  assert_output_has 'kiln:warn FIPS requested but the source image is not Ubuntu Pro'
}

@test "a Pro token attaches for the build, marks it for 05, and never lands on a command line" {
  stub pro 'if [[ "$1" == status ]]; then echo "{\"attached\": false}"; fi
if [[ "$1" == attach ]]; then cp "$3" "'"$BATS_TEST_TMPDIR"'/attach.yaml"; fi'
  run_stage 04-harden.sh FIPS_ENABLED=true UBUNTU_PRO_TOKEN=s3cr3t
  assert_status 0
  assert_order '^pro attach --attach-config ' '^pro enable fips-updates --assume-yes'
  grep -qx 'token: s3cr3t' "$BATS_TEST_TMPDIR/attach.yaml"
  [ "$(grep -c s3cr3t "$CALLS")" -eq 0 ]
  refute_output_has s3cr3t
  [ -f "$ROOT/etc/packer-build/pro-attached-by-build" ]
  [ -z "$(find "$ROOT/etc/packer-build" -name 'pro-attach.*')" ]
  [ "$(cat "$ROOT/etc/packer-build/ubuntu-pro")" = "$(printf 'source_attached=false\nattached_by_build=true')" ]
}

@test "a source image that was already Pro-attached is recorded and warned about" {
  stub pro 'if [[ "$1" == status ]]; then echo "{\"attached\": true}"; fi'
  run_stage 04-harden.sh
  assert_status 0
  [ "$(cat "$ROOT/etc/packer-build/ubuntu-pro")" = "$(printf 'source_attached=true\nattached_by_build=false')" ]
  assert_output_has 'kiln:warn the source image is attached to Ubuntu Pro; 05-cleanup detaches it'
  assert_output_has 'kiln:progress 5/5 fips: disabled'
}

@test "without the pro client the source attachment is unknown, not assumed" {
  run_stage 04-harden.sh
  assert_status 0
  grep -qx 'source_attached=unknown' "$ROOT/etc/packer-build/ubuntu-pro"
}
