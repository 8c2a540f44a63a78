#!/bin/bash
# Fake stage 01 for kiln's recorded transcripts: OS packages (prints apt-like output).
set -euo pipefail
say() { printf '%s\n' "$*"; sleep 0.03; }
err() { printf '%s\n' "$*" >&2; sleep 0.03; }
say "==> 01-system-packages: installing base packages for RKE2"
say "Hit:1 http://apt.vitro.lan/ubuntu jammy InRelease"
say "Get:2 http://apt.vitro.lan/ubuntu jammy-updates InRelease [119 kB]"
say "  (indented) Fetched 119 kB in 0s (2,310 kB/s)"
say ""
say "Reading package lists..."
pkgs=(conntrack ebtables ethtool iptables nfs-common open-iscsi)
total=${#pkgs[@]}
i=0
for p in "${pkgs[@]}"; do
  i=$((i + 1))
  say "Setting up ${p} ..."
  say "kiln:progress ${i}/${total} installed ${p}"
done
err "debconf: delaying package configuration, since apt-utils is not installed"
# carriage-return progress, as apt/dpkg print it
printf 'Progress: [  0%%]\rProgress: [ 42%%]\rProgress: [100%%]\n'
sleep 0.03
say "0 upgraded, 6 newly installed, 0 to remove and 3 not upgraded."
say "kiln:warn 3 packages not upgraded (held back): linux-generic, linux-headers-generic, linux-image-generic"
say "==> 01-system-packages: done"
