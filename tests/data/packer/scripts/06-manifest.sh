#!/bin/bash
# Fake stage 06 for kiln's recorded transcripts: write the image manifest (a JSON line with commas).
set -euo pipefail
say() { printf '%s\n' "$*"; sleep 0.03; }
say "==> 06-manifest: writing /etc/rke2-image/manifest.json"
say '{"rke2_version":"v1.28.9+rke2r1","images":10,"fips":false,"built":"2026-11-24T10:00:00Z","labels":{"os":"ubuntu-22.04","arch":"amd64"}}'
say "kiln:progress 1/1 manifest written (10 images, 2 charts)"
say "==> 06-manifest: done"
