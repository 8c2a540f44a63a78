#!/bin/bash
# Fake stage 07 for kiln's recorded transcripts: validate the node before snapshot.
set -euo pipefail
say() { printf '%s\n' "$*"; sleep 0.03; }
err() { printf '%s\n' "$*" >&2; sleep 0.03; }
say "==> 07-validate: checking the node"
checks=("rke2 binary runs" "images present in containerd" "sysctl profile applied" "no swap")
total=${#checks[@]}
i=0
for c in "${checks[@]}"; do
  i=$((i + 1))
  say "[PASS] ${c}"
  say "kiln:progress ${i}/${total} ${c}"
done
err "validate: note: 1 optional image was not pre-pulled"
say "==> 07-validate: 4/4 checks passed"
