#!/usr/bin/env bats
# The template's side of "the Pro token never on an argv" (and its uploads), proven with real
# Packer: stages/rke2-node.pkr.hcl with only its openstack source swapped for the null builder,
# connected over real SSH to a throwaway sshd on 127.0.0.1 (own host and client keys, started
# and stopped by PID). Every provisioner of the template runs as written (inline ones, file
# uploads, execute_command, use_env_var_file, sudo); the seven stage scripts are replaced by one
# probe that records its environment, its folder and every process command line on the machine.
# A sampler scans /proc during the whole build as well. Needs root (sshd, sudo), packer, sudo.

load helpers

SECRET="kiln-pro-token-$$-C0FFEE"

setup_file() {
  local tool missing=()
  for tool in packer sudo ssh-keygen python3 /usr/sbin/sshd; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if ((${#missing[@]})); then
    printf 'template-secrets.bats needs %s (apt-get install packer sudo openssh-server openssh-client python3)\n' "${missing[*]}" >&3
    return 1
  fi
  [[ "$(id -u)" == 0 ]] || { printf 'template-secrets.bats needs root (sshd as root, sudo)\n' >&3; return 1; }
  W="$BATS_FILE_TMPDIR"
  export W
  # $W/home: sessions start in an empty home, not root's (whose .bashrc may run anything, e.g.
  # a `pyenv init` that waits 60 s on a lock another session left)
  mkdir -p "$W/run/stages/offline-debs" "$W/run/files" "$W/ssh" "$W/probe" "$W/vm" "$W/bin" "$W/home"
  cp -r "$STAGES_DIR/lib" "$W/run/stages/"
  printf 'placeholder\n' >"$W/run/stages/offline-debs/README"
  printf '%s  rke2.linux-amd64.tar.gz\n' "$(printf rke2 | sha256sum | cut -d' ' -f1)" >"$W/run/files/sha256sum-amd64.txt"
  printf 'rke2' >"$W/run/files/rke2.linux-amd64.tar.gz"
  # the probe, under every stage script name the template runs
  cat >"$W/probe.sh" <<'PROBE'
#!/bin/bash
name="$(basename "$0")"
out="__PROBE__/$(id -u).$$.log"
{
  printf 'script=%s\nuid=%s\n' "$0" "$(id -u)"
  printf 'token_set=%s\n' "${UBUNTU_PRO_TOKEN:+yes}"
  printf 'token_value_ok=%s\n' "$([[ "${UBUNTU_PRO_TOKEN:-}" == "__SECRET__" ]] && echo yes || echo no)"
  printf 'harbor=%s\nartifact_dir=%s\n' "${HARBOR_REGISTRY:-}" "${ARTIFACT_DIR:-}"
  dir="$(dirname "$0")"
  [[ -f "$dir/lib/common.sh" && -f "$dir/lib/containerd.sh" ]] && echo lib_beside=yes
  for f in "$dir"/varfile_*; do printf 'varfile_mode=%s\n' "$(stat -c %a "$f")"; done
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "__SECRET__"; then
      printf 'LEAK pid=%s cmdline=%s\n' "${p#/proc/}" "$(tr '\0' ' ' <"$p/cmdline")"
    fi
  done
} >"$out"
PROBE
  sed -i "s|__PROBE__|$W/probe|; s|__SECRET__|$SECRET|g" "$W/probe.sh"
  for s in 01-system-packages 02-install-rke2 03-prepull-images 04-harden 05-cleanup 06-manifest 07-validate; do
    cp "$W/probe.sh" "$W/run/stages/$s.sh"
    chmod +x "$W/run/stages/$s.sh"
  done
  # cloud-init for the template's first inline provisioner (sshd puts $W/bin first on PATH)
  printf '#!/bin/sh\nexit 0\n' >"$W/bin/cloud-init"
  chmod +x "$W/bin/cloud-init"

  ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$W/ssh/client_key"
  cp "$W/ssh/client_key.pub" "$W/ssh/authorized_keys"
  chmod 600 "$W/ssh/authorized_keys"
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  cat >"$W/ssh/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $PORT
HostKey $W/ssh/host_key
PidFile $W/ssh/sshd.pid
AuthorizedKeysFile $W/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowUsers root
SetEnv PATH=$W/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=$W/home
LogLevel ERROR
CFG
  [ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }
  /usr/sbin/sshd -D -e -f "$W/ssh/sshd_config" 2>"$W/ssh/sshd.log" 3>&- &
  echo $! >"$W/sshd.pid"
  local deadline=$((SECONDS + 20))
  until (exec 4<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    ((SECONDS < deadline)) || { cat "$W/ssh/sshd.log" >&3; return 1; }
    sleep 0.05
  done

  # the template, its openstack source swapped for the null builder (nothing else changes)
  python3 - "$STAGES_DIR/rke2-node.pkr.hcl" "$W/run/stages/rke2-node.pkr.hcl" "$PORT" "$W/ssh/client_key" <<'PY'
import re, sys
src, dst, port, key = sys.argv[1:]
t = open(src).read()
start = t.index('source "openstack" "rke2" {')
end = t.index('\n}\n', start) + 3
null = ('source "null" "rke2" {\n  communicator         = "ssh"\n  ssh_host             = "127.0.0.1"\n'
        f'  ssh_port             = {port}\n  ssh_username         = var.ssh_username\n'
        f'  ssh_private_key_file = "{key}"\n}}\n')
t = t[:start] + null + t[end:]
assert t.count('"source.openstack.rke2"') == 1
t = t.replace('"source.openstack.rke2"', '"source.null.rke2"')
open(dst, "w").write(t)
PY

  # a sampler: every command line on the machine while packer runs (bounded)
  (
    deadline=$((SECONDS + 300))
    while [[ ! -e "$W/build.done" ]] && ((SECONDS < deadline)); do
      for p in /proc/[0-9]*; do
        if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF "$SECRET"; then
          printf 'LEAK pid=%s cmdline=%s\n' "${p#/proc/}" "$(tr '\0' ' ' <"$p/cmdline")" >>"$W/sampler.leaks"
        fi
      done
      printf '.' >>"$W/sampler.rounds"
    done
  ) 3>&- &
  echo $! >"$W/sampler.pid"

  # the secret only in packer's environment (kiln's side passes PKR_VAR_*, never -var)
  (cd "$W/run" && env PKR_VAR_ubuntu_pro_token="$SECRET" CHECKPOINT_DISABLE=1 \
    timeout 300 packer build -machine-readable \
    -var flavor=unused -var network_id=unused -var ssh_username=root -var "build_dir=$W/vm" \
    stages/rke2-node.pkr.hcl >"$W/packer.out" 2>&1 3>&-; echo $? >"$W/packer.rc")
  touch "$W/build.done"
  wait "$(cat "$W/sampler.pid")" 2>/dev/null || true
}

teardown_file() {
  local pid
  touch "$W/build.done"
  for pid in "$(cat "$W/sampler.pid" 2>/dev/null)" "$(cat "$W/sshd.pid" 2>/dev/null)"; do
    [[ -n "$pid" ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

probe_of() { grep -l "^script=.*/script_[0-9]*\.sh$" "$W"/probe/*.log | xargs grep -l "$1" || true; }

@test "the real template builds to the end over SSH with the null builder" {
  [ "$(cat "$W/packer.rc")" = 0 ] || { cat "$W/packer.out"; false; }
  grep -q ',artifact,0,builder-id,' "$W/packer.out"
  # seven stage scripts ran, as root through sudo
  [ "$(find "$W/probe" -name '*.log' | wc -l)" -eq 7 ]
  [ "$(grep -l '^uid=0$' "$W"/probe/*.log | wc -l)" -eq 7 ]
}

@test "ubuntu_pro_token is a sensitive variable (packer inspect hides it)" {
  run env PKR_VAR_ubuntu_pro_token="$SECRET" CHECKPOINT_DISABLE=1 packer inspect "$STAGES_DIR/rke2-node.pkr.hcl"
  assert_status 0
  assert_output_has 'var.ubuntu_pro_token: "<sensitive>"'
  refute_output_has "$SECRET"
}

@test "the token reaches stage 04's environment, and only stage 04's" {
  [ "$(grep -l '^token_value_ok=yes$' "$W"/probe/*.log | wc -l)" -eq 1 ]
  [ "$(grep -l '^token_set=yes$' "$W"/probe/*.log | wc -l)" -eq 1 ]
  # every stage got the ordinary variables the same way
  [ "$(grep -l '^harbor=harbor.vitro.lan$' "$W"/probe/*.log | wc -l)" -eq 7 ]
  [ "$(grep -lx "artifact_dir=$W/vm/artifacts" "$W"/probe/*.log | wc -l)" -eq 7 ]
}

@test "no command line carried the token: not packer's, ssh's, sudo's nor the scripts'" {
  [ -z "$(grep -h '^LEAK' "$W"/probe/*.log)" ] || { grep -h '^LEAK' "$W"/probe/*.log; false; }
  [ ! -e "$W/sampler.leaks" ] || { cat "$W/sampler.leaks"; false; }
  # the sampler really sampled during the build
  [ "$(wc -c <"$W/sampler.rounds")" -ge 3 ]
  # nor packer's output
  [ "$(grep -c "$SECRET" "$W/packer.out")" -eq 0 ]
}

@test "the env var file is 0600 while a script runs and gone after the build" {
  [ "$(grep -h '^varfile_mode=' "$W"/probe/*.log | sort -u)" = "varfile_mode=600" ]
  [ "$(grep -rlF "$SECRET" "$W/vm" | wc -l)" -eq 0 ]
  [ -z "$(find "$W/vm" -name 'varfile_*')" ]
}

@test "lib/ is uploaded beside the stage scripts, outside /tmp" {
  [ "$(grep -l '^lib_beside=yes$' "$W"/probe/*.log | wc -l)" -eq 7 ]
  [ "$(grep -h '^script=' "$W"/probe/*.log | grep -vc "^script=$W/vm/stages/script_[0-9]*\.sh$")" -eq 0 ]
  [ -f "$W/vm/artifacts/sha256sum-amd64.txt" ]
}

@test "the airGappedChecksum provenance (Glance property and packer-manifest.json) is the SHA-256 of files/sha256sum-amd64.txt" {
  want="$(sha256sum "$W/run/files/sha256sum-amd64.txt" | cut -d' ' -f1)"
  got="$(jq -r '.builds[0].custom_data.rke2_airgapped_checksum' "$W/run/packer-manifest.json")"
  [ "$got" = "$want" ] || { ls "$W/run"; cat "$W/run/packer-manifest.json"; echo "want $want"; false; }
  # the same provenance map is the openstack source's metadata (Glance properties)
  grep -q 'metadata = merge(local.provenance, { hw_qemu_guest_agent = "yes" })' "$STAGES_DIR/rke2-node.pkr.hcl"
}

@test "the console's stage order: scripts first named in the template in pipeline order" {
  # kiln orders its stages by each .sh file's first mention in the template (comments aside)
  order="$(sed 's/#.*//' "$STAGES_DIR/rke2-node.pkr.hcl" | grep -o '[0-9][0-9]-[a-z0-9-]*\.sh' | awk '!seen[$0]++' | tr '\n' ' ')"
  [ "$order" = "01-system-packages.sh 02-install-rke2.sh 03-prepull-images.sh 04-harden.sh 06-manifest.sh 07-validate.sh 05-cleanup.sh " ]
}
