#!/bin/bash
# Fake stage 02 for kiln's recorded transcripts: airgapped RKE2 install.
set -euo pipefail
say() { printf '%s\n' "$*"; sleep 0.03; }
err() { printf '%s\n' "$*" >&2; sleep 0.03; }
say "==> 02-install-rke2: installing RKE2 v1.28.9+rke2r1 from /tmp/rke2-artifacts"
# a literal backslash-n inside one line (NOT a newline)
printf '%s\n' 'env: INSTALL_RKE2_ARTIFACT_PATH=/tmp/rke2-artifacts\nINSTALL_RKE2_METHOD=tar'
sleep 0.03
say "kiln:progress 1/4 verified sha256sum-amd64.txt"
err "[INFO]  staging local checksums from /tmp/rke2-artifacts/sha256sum-amd64.txt"
say "kiln:progress 2/4 unpacked rke2.linux-amd64.tar.gz"
err "[INFO]  installing tarball to /usr/local"
say "kiln:progress 3/4 installed /usr/local/bin/rke2"
say "✓ rke2 v1.28.9+rke2r1 installé — sha256 vérifié (überprüft, 校验通过)"
say "kiln:progress 4/4 enabled rke2-server.service"
say "Created symlink /etc/systemd/system/multi-user.target.wants/rke2-server.service → /usr/local/lib/systemd/system/rke2-server.service."
say "==> 02-install-rke2: done"
