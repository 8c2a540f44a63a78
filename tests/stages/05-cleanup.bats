#!/usr/bin/env bats
# Stage 05: generalize for imaging, keep /etc/packer-build, detach Pro only if the build attached it.

load helpers

setup() {
  setup_stage
  S="$ROOT/etc/packer-build"
  mkdir -p "$S" "$ROOT/etc/ssh" "$ROOT/root/.ssh" "$ROOT/home/ubuntu/.ssh" "$ROOT/var/log/apt" \
    "$ROOT/var/log/journal/abc" "$ROOT/var/lib/apt/lists/partial" "$ROOT/tmp/rke2-artifacts" "$ROOT/var/tmp"
  printf '0123456789abcdef0123456789abcdef\n' >"$ROOT/etc/machine-id"
  touch "$ROOT/etc/ssh/ssh_host_rsa_key" "$ROOT/etc/ssh/ssh_host_rsa_key.pub" "$ROOT/etc/ssh/ssh_host_ed25519_key"
  printf 'Port 22\n' >"$ROOT/etc/ssh/sshd_config"
  printf 'ssh-rsa AAAA packer_temporary\n' >"$ROOT/home/ubuntu/.ssh/authorized_keys"
  printf 'ls\n' >"$ROOT/root/.bash_history"
  printf 'sudo ls\n' >"$ROOT/home/ubuntu/.bash_history"
  printf 'lots of log\n' >"$ROOT/var/log/syslog"
  chmod 0640 "$ROOT/var/log/syslog"
  printf 'apt log\n' >"$ROOT/var/log/apt/history.log"
  printf 'old\n' >"$ROOT/var/log/syslog.1"
  printf 'older\n' >"$ROOT/var/log/syslog.2.gz"
  printf 'journal\n' >"$ROOT/var/log/journal/abc/system.journal"
  printf 'list\n' >"$ROOT/var/lib/apt/lists/archive.ubuntu.com_dists_jammy_InRelease"
  printf 'tarball\n' >"$ROOT/tmp/rke2-artifacts/rke2.linux-amd64.tar.gz"
  printf 'x\n' >"$ROOT/var/tmp/leftover"
  printf '{"schema_version":"1.0"}\n' >"$S/image-manifest.json"
  printf 'h/a:v1 sha256:aa\n' >"$S/prepulled-images.txt"
  mkdir -p "$ROOT/opt/rke2-artifacts" "$ROOT/var/lib/kiln-build/rke2-runtime/bin" \
    "$ROOT/var/lib/rancher/rke2/agent/containerd/io.containerd.grpc.v1.introspection"
  printf '#!/bin/sh\n' >"$ROOT/opt/install.sh"
  printf 'x' >"$ROOT/opt/rke2-artifacts/rke2.linux-amd64.tar.gz"
  printf 'x' >"$ROOT/opt/rke2-artifacts/rke2-images.linux-amd64.tar.zst"
  printf 'sums\n' >"$ROOT/opt/rke2-artifacts/sha256sum-amd64.txt"
  printf 'bin' >"$ROOT/var/lib/kiln-build/rke2-runtime/bin/containerd"
  printf 'a6d0c4b5-uuid' >"$ROOT/var/lib/rancher/rke2/agent/containerd/io.containerd.grpc.v1.introspection/uuid"
  stub cloud-init
  stub journalctl
  stub apt-get
  stub fstrim
  stub sync
  stub pro
}

@test "generalizes in the document's order, fstrim last" {
  run_stage 05-cleanup.sh
  assert_status 0
  assert_order '^cloud-init clean --logs --machine-id' '^journalctl --rotate' '^journalctl --vacuum-time=1s' \
    '^apt-get clean' '^fstrim -av' '^sync'
  assert_output_has 'kiln:progress 9/9 generalized and checked; /etc/packer-build and /opt/rke2-artifacts kept'
}

@test "CAPRKE2's /opt artifacts stay; build state and containerd's introspection UUID go" {
  run_stage 05-cleanup.sh
  assert_status 0
  [ -s "$ROOT/opt/install.sh" ]
  [ -s "$ROOT/opt/rke2-artifacts/sha256sum-amd64.txt" ]
  [ -s "$ROOT/opt/rke2-artifacts/rke2-images.linux-amd64.tar.zst" ]
  [ ! -e "$ROOT/var/lib/kiln-build" ]
  [ ! -e "$ROOT/var/lib/rancher/rke2/agent/containerd/io.containerd.grpc.v1.introspection/uuid" ]
}

@test "a minimal image (no /root/.ssh, no cloud-init, journalctl, apt-get, fstrim, pro) is cleaned without dying" {
  rm -rf "${ROOT:?}/root" "${ROOT:?}/home" "${ROOT:?}/var/log" "${ROOT:?}/etc/ssh"
  rm "$STUBS"/*
  run_stage 05-cleanup.sh
  assert_status 0
  assert_output_has 'kiln:warn no cloud-init in the image'
  assert_output_has 'kiln:warn no fstrim'
  assert_output_has 'kiln:progress 9/9 generalized and checked'
  [ ! -s "$ROOT/etc/machine-id" ]
}

@test "the final check fails the build on what cleanup could not make true" {
  mkdir -p "$ROOT/var/crash" "$ROOT/var/lib/cloud/data"
  printf 'core' >"$ROOT/var/crash/core.1234"
  stub cloud-init # a cloud-init that cleaned nothing
  printf 'i-0123\n' >"$ROOT/var/lib/cloud/data/instance-id"
  head -c 2097152 /dev/zero >"$ROOT/var/log/journal/abc/system.journal"
  rm "$ROOT/opt/install.sh"
  run_stage 05-cleanup.sh VAR_LOG_MAX_MB=1
  assert_status 1
  assert_output_has '05-cleanup: 4 final check(s) failed, the image will not be snapshotted:'
  assert_output_has '  - hygiene: core dump /var/crash/core.1234 in the image'
  assert_output_has '  - hygiene: cloud-init instance id /var/lib/cloud/data/instance-id still present'
  assert_output_has '  - hygiene: /var/log is 3 MB (at most 1 MB)'
  assert_output_has '  - caprke2: /opt/install.sh missing'
}

@test "machine-id is emptied (not removed), host keys and build keys are gone, history cleared" {
  run_stage 05-cleanup.sh
  assert_status 0
  [ -f "$ROOT/etc/machine-id" ]
  [ ! -s "$ROOT/etc/machine-id" ]
  [ -z "$(find "$ROOT/etc/ssh" -name 'ssh_host_*')" ]
  [ -f "$ROOT/etc/ssh/sshd_config" ]
  [ ! -s "$ROOT/home/ubuntu/.ssh/authorized_keys" ]
  [ ! -e "$ROOT/root/.bash_history" ]
  [ ! -e "$ROOT/home/ubuntu/.bash_history" ]
}

@test "logs are truncated in place, rotated ones removed, the journal left to journalctl" {
  run_stage 05-cleanup.sh
  assert_status 0
  [ -f "$ROOT/var/log/syslog" ]
  [ ! -s "$ROOT/var/log/syslog" ]
  [ "$(stat -c %a "$ROOT/var/log/syslog")" = 640 ]
  [ -f "$ROOT/var/log/apt/history.log" ]
  [ ! -s "$ROOT/var/log/apt/history.log" ]
  [ ! -e "$ROOT/var/log/syslog.1" ]
  [ ! -e "$ROOT/var/log/syslog.2.gz" ]
  [ -s "$ROOT/var/log/journal/abc/system.journal" ]
}

@test "apt lists, /tmp and /var/tmp are emptied; /etc/packer-build is kept" {
  run_stage 05-cleanup.sh
  assert_status 0
  [ -d "$ROOT/tmp" ]
  [ -z "$(ls -A "$ROOT/tmp")" ]
  [ -d "$ROOT/var/tmp" ]
  [ -z "$(ls -A "$ROOT/var/tmp")" ]
  [ -z "$(ls -A "$ROOT/var/lib/apt/lists")" ]
  [ -s "$S/image-manifest.json" ]
  [ -s "$S/prepulled-images.txt" ]
}

# pro: attached until `pro detach` runs (or for ever when $1 is "stuck")
stub_pro() {
  stub pro 'state="'"$BATS_TEST_TMPDIR"'/pro-state"
case "$1" in
  status) if [[ -e "$state" ]]; then echo "{\"attached\": true}"; else echo "{\"attached\": false}"; fi ;;
  detach) [[ "'"${1:-}"'" == stuck ]] || rm -f "$state" ;;
esac'
  touch "$BATS_TEST_TMPDIR/pro-state"
}

@test "Ubuntu Pro: nothing to do when nothing is attached" {
  stub pro 'if [[ "$1" == status ]]; then echo "{\"attached\": false}"; fi'
  run_stage 05-cleanup.sh
  assert_status 0
  [ -z "$(calls_matching '^pro detach')" ]
  assert_output_has 'kiln:progress 1/9 ubuntu pro: not attached'
}

@test "Ubuntu Pro attached by the build is detached before cloud-init clean" {
  stub_pro
  printf 'attached by the image build\n' >"$S/pro-attached-by-build"
  printf 'source_attached=false\nattached_by_build=true\n' >"$S/ubuntu-pro"
  run_stage 05-cleanup.sh
  assert_status 0
  assert_order '^pro detach --assume-yes' '^cloud-init clean'
  [ ! -e "$S/pro-attached-by-build" ]
  assert_output_has 'ubuntu pro detached (attached by this build)'
}

@test "Ubuntu Pro attached in the SOURCE image is detached too" {
  stub_pro
  printf 'source_attached=true\nattached_by_build=false\n' >"$S/ubuntu-pro"
  run_stage 05-cleanup.sh
  assert_status 0
  [ -n "$(calls_matching '^pro detach --assume-yes')" ]
  assert_output_has 'ubuntu pro detached (attached in the source image)'
}

@test "a Pro attachment that survives detach fails the final check" {
  stub_pro stuck
  run_stage 05-cleanup.sh
  assert_status 1
  assert_output_has "ubuntu pro: still attached; every clone would carry this machine's token"
}

@test "an older cloud-init without --machine-id still gets cleaned" {
  stub cloud-init 'if [[ "$*" == *--machine-id* ]]; then exit 2; fi'
  run_stage 05-cleanup.sh
  assert_status 0
  assert_order '^cloud-init clean --logs --machine-id' '^cloud-init clean --logs$'
  [ ! -s "$ROOT/etc/machine-id" ]
}

@test "fstrim failing only warns" {
  stub fstrim 'exit 1'
  run_stage 05-cleanup.sh
  assert_status 0
  assert_output_has 'kiln:warn fstrim failed'
}
