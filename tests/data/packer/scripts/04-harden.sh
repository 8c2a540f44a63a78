#!/bin/bash
# Fake stage 04 for kiln's recorded transcripts: CIS hardening. Interleaves stdout and stderr
# with no delay to show whether packer reorders them.
set -euo pipefail
say() { printf '%s\n' "$*"; sleep 0.03; }
say "==> 04-harden: applying CIS profile rke2-cis-1.23"
for n in 1 2 3 4 5; do
  printf 'harden: out %s\n' "$n"
  printf 'harden: err %s\n' "$n" >&2
done
sleep 0.03
say "kiln:progress 1/3 sysctl: vm.panic_on_oom=0, vm.overcommit_memory=1, kernel.panic=10"
say "kiln:progress 2/3 created etcd user and group (uid=52034, gid=52034)"
printf '%s\n' "sysctl: setting key \"kernel.keys.root_maxbytes\": Read-only file system" >&2
sleep 0.03
say "kiln:warn sysctl kernel.keys.root_maxbytes is read-only in this VM"
say "kiln:progress 3/3 wrote /etc/rancher/rke2/config.yaml (profile: cis-1.23)"
say "==> 04-harden: done"
