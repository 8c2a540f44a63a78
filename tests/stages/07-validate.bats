#!/usr/bin/env bats
# Stage 07: the validation gate before cleanup. A healthy fake root passes; each broken check
# fails the build, and all failures are listed together.

load helpers

setup() {
  setup_stage
  S="$ROOT/etc/packer-build"
  mkdir -p "$S" "$ROOT/etc/sysctl.d" "$ROOT/etc/modules-load.d" "$ROOT/etc/ssh/sshd_config.d" \
    "$ROOT/proc" "$ROOT/usr/local/bin" "$ROOT/var/lib/rancher/rke2/agent/images"
  printf 'vm.panic_on_oom=0\nkernel.panic = 10\nnet.ipv4.ip_forward=1\n' >"$ROOT/etc/sysctl.d/90-rke2-node.conf"
  set_sysctl vm.panic_on_oom 0
  set_sysctl kernel.panic 10
  set_sysctl net.ipv4.ip_forward 1
  printf '# comment\nbr_netfilter\noverlay\n' >"$ROOT/etc/modules-load.d/rke2.conf"
  mkdir -p "$ROOT/sys/module/br_netfilter" "$ROOT/sys/module/overlay"
  printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$ROOT/proc/swaps"
  printf '# /swap.img none swap sw 0 0\n' >"$ROOT/etc/fstab"
  printf '#!/bin/sh\n' >"$ROOT/usr/local/bin/rke2" && chmod +x "$ROOT/usr/local/bin/rke2"
  printf 'x' >"$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst"
  printf 'v1.28.15+rke2r1\n' >"$S/rke2-version"
  printf 'root:x:0:0::/root:/bin/bash\netcd:x:998:998:etcd user:/:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
  printf 'PermitRootLogin no\n' >"$ROOT/etc/ssh/sshd_config.d/10-rke2-node.conf"
  printf 'requested=false\nstatus=disabled\n' >"$S/fips-status"
  printf '{"schema_version":"1.0","built_by":"packer","built_at":"2026-04-07T11:23:14Z","os":{"pretty_name":"Ubuntu 22.04.4 LTS","kernel":"5.15.0-101-generic"},"kubernetes":{"distribution":"rke2","version":"v1.28.15+rke2r1"},"fips_enabled":false,"prepulled_images":["h/a:v1","h/b:v2"]}\n' >"$S/image-manifest.json"
  printf 'h/a:v1 sha256:aa\nh/b:v2 sha256:bb\n' >"$S/prepulled-images.txt"
  stub sshd 'printf "port 22\npermitrootlogin no\npasswordauthentication no\nx11forwarding no\n"'
  stub containerd 'printf "%s\n" "$$" >"'"$BATS_TEST_TMPDIR"'/containerd.pid"; exec "'"$REAL_SLEEP"'" 600'
  stub ctr 'while [[ "$1" == --* ]]; do shift 2; done
case "$1 ${2:-}" in
  "version ") [[ -s "'"$BATS_TEST_TMPDIR"'/containerd.pid" ]] ;;
  "images check")
    printf "REF TYPE DIGEST STATUS SIZE UNPACKED\n"
    printf "h/a:v1 application/vnd.oci.image.index.v1+json sha256:aa complete (3/3) 1.0 MiB/1.0 MiB true\n"
    printf "h/b:v2 application/vnd.oci.image.index.v1+json sha256:bb complete (2/2) 2.0 MiB/2.0 MiB true\n" ;;
esac'
}

set_sysctl() {
  mkdir -p "$(dirname "$ROOT/proc/sys/${1//.//}")"
  printf '%s\n' "$2" >"$ROOT/proc/sys/${1//.//}"
}

# shellcheck disable=SC2120 # callers may add VAR=value arguments
run_gate() {
  run_stage 07-validate.sh RKE2_BIN_DIR="$STUBS" "$@"
}

assert_containerd_stopped() {
  local pid
  pid="$(cat "$BATS_TEST_TMPDIR/containerd.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    echo "containerd ($pid) is still running" >&2
    return 1
  fi
}

@test "a healthy image passes every check" {
  run_gate
  assert_status 0
  assert_output_has 'all checks passed'
  assert_output_has 'kiln:progress 9/9 pre-pulled images checked'
  refute_output_has 'kiln:warn'
  grep -q '^ctr .*--namespace k8s.io images check' "$CALLS"
  assert_containerd_stopped
}

@test "a sysctl not in effect fails the build" {
  set_sysctl kernel.panic 0
  run_gate
  assert_status 1
  assert_output_has "sysctl: kernel.panic is '0', want '10'"
}

@test "a module not loaded fails the build" {
  rmdir "$ROOT/sys/module/overlay"
  run_gate
  assert_status 1
  assert_output_has 'module: overlay not loaded'
}

@test "active swap fails the build" {
  printf '/swap.img file 1048572 0 -2\n' >>"$ROOT/proc/swaps"
  printf '/swap.img none swap sw 0 0\n' >>"$ROOT/etc/fstab"
  run_gate
  assert_status 1
  assert_output_has 'swap: 1 swap device(s) active'
  assert_output_has 'swap: /etc/fstab still has an active swap entry'
}

@test "a pre-pulled image missing from containerd fails the build" {
  printf 'h/c:v3 sha256:cc\n' >>"$S/prepulled-images.txt"
  run_gate
  assert_status 1
  assert_output_has 'images: h/c:v3 is not complete in containerd (namespace k8s.io)'
  assert_containerd_stopped
}

@test "an sshd configuration that is not in effect fails the build" {
  stub sshd 'printf "permitrootlogin prohibit-password\npasswordauthentication no\nx11forwarding no\n"'
  run_gate
  assert_status 1
  assert_output_has "sshd: effective configuration lacks 'permitrootlogin no'"
}

@test "FIPS enabled but not running fails the build" {
  printf 'requested=true\nstatus=enabled\n' >"$S/fips-status"
  set_sysctl crypto.fips_enabled 0
  run_gate
  assert_status 1
  assert_output_has 'fips: fips-updates enabled but the running kernel is not in FIPS mode'
  set_sysctl crypto.fips_enabled 1
  run_gate
  assert_status 0
}

@test "every failure is listed together" {
  rm "$ROOT/usr/local/bin/rke2" "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst"
  printf 'root:x:0:0::/root:/bin/bash\n' >"$ROOT/etc/passwd"
  rm "$ROOT/etc/ssh/sshd_config.d/10-rke2-node.conf"
  printf '{"schema_version":"1.0"}' >"$S/image-manifest.json"
  run_gate
  assert_status 1
  assert_output_has '07-validate: 5 check(s) failed, the image will not be snapshotted:'
  assert_output_has '  - rke2: binary missing'
  assert_output_has '  - rke2: no airgap images tarball'
  assert_output_has '  - etcd: no etcd user in /etc/passwd'
  assert_output_has '  - sshd: drop-in /etc/ssh/sshd_config.d/10-rke2-node.conf missing'
  assert_output_has '  - manifest: /etc/packer-build/image-manifest.json missing or not schema 1.x'
  assert_output_has 'kiln:warn validate-failed etcd: no etcd user in /etc/passwd'
}
