#!/bin/bash
# Fake stage 05 for kiln's recorded transcripts: clean the VM before the snapshot (runs last).
set -euo pipefail
say() { printf '%s\n' "$*"; sleep 0.03; }
say "==> 05-cleanup: removing build leftovers"
say "removed /tmp/rke2-artifacts (1.9 GiB)"
say "kiln:progress 1/3 removed artifacts"
say "truncated /etc/machine-id; cloud-init clean --logs --seed"
say "kiln:progress 2/3 reset machine identity"
say "kiln:progress 3/3 cleared shell history"
say "==> 05-cleanup: done"
