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
  assert_output_has 'kiln:progress 9/9 generalized; /etc/packer-build kept'
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

@test "Ubuntu Pro is detached only when the build attached it" {
  run_stage 05-cleanup.sh
  assert_status 0
  [ -z "$(calls_matching '^pro ')" ]
  printf 'attached by the image build\n' >"$S/pro-attached-by-build"
  : >"$CALLS"
  run_stage 05-cleanup.sh
  assert_status 0
  assert_order '^pro detach --assume-yes' '^cloud-init clean'
  [ ! -e "$S/pro-attached-by-build" ]
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
