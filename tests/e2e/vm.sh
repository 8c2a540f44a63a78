#!/usr/bin/env bash
# The build VM of the end-to-end build (tests/e2e_build.rs, benches/e2e.rs): this host, reached
# over a test sshd on 127.0.0.1, with every file a stage writes under a VM root (TARGET_ROOT) and
# every command that would change a machine a stub (bin/) that acts on that root instead.
#
#   vm.sh setup DIR   DIR/bin (the stubs), DIR/safe (symlinks to the harmless host tools the
#                     stages use; the sessions' PATH is DIR/bin:DIR/safe, nothing else), DIR/files
#                     (a stand-in RKE2 release for the workspace's files/: the rke2 tarball, an
#                     airgap tarball whose rke2-runtime image holds stub containerd/ctr, the
#                     installer, sha256sum-amd64.txt), DIR/scenario, then DIR/root as below
#   vm.sh root DIR    DIR/root afresh: the source image's disk as a new server would boot it
#
# DIR/scenario (read by the stubs at each call): ok, partial-03 (Harbor lacks one pinned image:
# a partial pre-pull, warned about by 03 and the gate, the build goes on), fail-03 (Harbor
# unreachable: every pull fails, so 03 fails the build), hang-03 (every pull hangs for 120 s: a
# build to cancel).
# Every stub call is logged to DIR/calls.log. Needs: bash, tar, gzip, zstd, sha256sum, scp.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# What the stages (and packer's remote commands: scp, chmod, mkdir, rm) may run from the host.
SAFE_TOOLS=(awk basename bash cat chmod cmp cp cut date dirname du env find grep gzip head id
  install jq ln ls mkdir mkfifo mktemp mv rm scp sed seq sh sha256sum sleep sort stat tail
  tar tee timeout touch tr truncate uname uniq wc xargs zstd)

make_root() {
  local dir="$1" r
  r="${dir}/root"
  rm -rf "$r"
  mkdir -p "$r"/{etc/ssh/sshd_config.d,etc/systemd/system,etc/default,proc/sys,sys/module,run,tmp,var/tmp} \
    "$r"/{var/log/apt,var/lib/cloud/data,var/lib/cloud/instances/i-0001,var/lib/dbus,var/lib/apt/lists} \
    "$r"/{root/.ssh,home/ubuntu/.ssh,var/crash,usr/local/bin}
  printf 'root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash\n' >"$r/etc/passwd"
  printf 'root:x:0:\nubuntu:x:1000:\n' >"$r/etc/group"
  cat >"$r/etc/os-release" <<'OS'
PRETTY_NAME="Ubuntu 22.04.5 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.5 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
VERSION_CODENAME=jammy
OS
  printf 'LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n/swap.img none swap sw 0 0\n' >"$r/etc/fstab"
  printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/swap.img                               file\t\t1048572\t\t0\t\t-2\n' >"$r/proc/swaps"
  printf '0f9a3c1e5b7d4e2a8c6b1d3f5e7a9c0b\n' >"$r/etc/machine-id"
  cp "$r/etc/machine-id" "$r/var/lib/dbus/machine-id"
  printf 'Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\nX11Forwarding yes\n' >"$r/etc/ssh/sshd_config"
  printf 'PasswordAuthentication no\n' >"$r/etc/ssh/sshd_config.d/50-cloudimg-settings.conf"
  for k in rsa ecdsa ed25519; do
    printf 'host key\n' >"$r/etc/ssh/ssh_host_${k}_key"
    printf 'ssh-%s AAAA host\n' "$k" >"$r/etc/ssh/ssh_host_${k}_key.pub"
  done
  printf 'ssh-rsa AAAA packer\n' >"$r/root/.ssh/authorized_keys"
  printf 'ssh-rsa AAAA packer\n' >"$r/home/ubuntu/.ssh/authorized_keys"
  printf 'i-0001\n' >"$r/var/lib/cloud/data/instance-id"
  printf 'ls\n' >"$r/root/.bash_history"
  printf 'boot log\n' >"$r/var/log/syslog"
  printf 'old\n' >"$r/var/log/syslog.1"
  printf 'cloud-init ran\n' >"$r/var/log/cloud-init.log"
  printf 'apt history\n' >"$r/var/log/apt/history.log"
  printf 'list\n' >"$r/var/lib/apt/lists/archive.ubuntu.com_ubuntu_dists_jammy_InRelease"
}

# make_release DIR: the stand-in RKE2 release in DIR/files
make_release() {
  local dir="$1" files work
  files="${dir}/files"
  work="$(mktemp -d "${dir}/release.XXXXXX")"
  rm -rf "$files"
  mkdir -p "$files" "$work/tar/bin" "$work/tar/lib/systemd/system" "$work/layer/bin" "$work/archive/7f3c9a"
  # rke2.linux-amd64.tar.gz: the binary and the units, laid out as the release's tarball
  install -m 0755 "${here}/release/rke2" "$work/tar/bin/rke2"
  for unit in rke2-server rke2-agent; do
    printf '[Unit]\nDescription=Rancher Kubernetes Engine v2 (%s)\n\n[Service]\nExecStart=/usr/local/bin/rke2 %s\n\n[Install]\nWantedBy=multi-user.target\n' \
      "${unit#rke2-}" "${unit#rke2-}" >"$work/tar/lib/systemd/system/${unit}.service"
  done
  tar -C "$work/tar" -czf "$files/rke2.linux-amd64.tar.gz" bin lib
  # rke2-images.linux-amd64.tar.zst: a docker archive whose rke2-runtime image holds the stubs
  install -m 0755 "${here}/runtime/containerd" "${here}/runtime/ctr" "$work/layer/bin/"
  tar -C "$work/layer" -cf "$work/archive/7f3c9a/layer.tar" bin
  printf '[{"Config":"7f3c9a.json","RepoTags":["docker.io/rancher/rke2-runtime:v1.28.15-rke2r1"],"Layers":["7f3c9a/layer.tar"]}]\n' \
    >"$work/archive/manifest.json"
  printf '{"architecture":"amd64","os":"linux"}\n' >"$work/archive/7f3c9a.json"
  tar -C "$work/archive" -cf - manifest.json 7f3c9a.json 7f3c9a | zstd -q -o "$files/rke2-images.linux-amd64.tar.zst"
  install -m 0755 "${here}/release/rke2-install.sh" "$files/rke2-install.sh"
  # the release's list, plus the installer's line (files/README.md: verified, not warned about)
  (cd "$files" && sha256sum rke2.linux-amd64.tar.gz rke2-images.linux-amd64.tar.zst rke2-install.sh >sha256sum-amd64.txt)
  rm -rf "$work"
}

setup() {
  local dir="$1" tool
  mkdir -p "$dir/bin" "$dir/safe"
  install -m 0755 "${here}"/bin/* "$dir/bin/"
  for tool in "${SAFE_TOOLS[@]}"; do
    ln -sf "$(command -v "$tool")" "$dir/safe/$tool"
  done
  printf 'ok\n' >"$dir/scenario"
  : >"$dir/calls.log"
  make_release "$dir"
  make_root "$dir"
}

case "${1:-}" in
  setup) setup "$(cd "$2" && pwd)" ;;
  root) make_root "$(cd "$2" && pwd)" ;;
  *)
    echo "usage: vm.sh setup|root DIR" >&2
    exit 2
    ;;
esac
