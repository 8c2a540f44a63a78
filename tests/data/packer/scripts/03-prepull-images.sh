#!/bin/bash
# Fake stage 03 for kiln's recorded transcripts: pre-pull the RKE2 images from Harbor.
# KILN_SCENARIO=fail   -> fails on the 6th image with exit 3
# KILN_SCENARIO=cancel -> hangs in a long pull (sleep 300) so that packer can be interrupted;
#                         the sleep's PID is written to KILN_PIDFILE so the recorder can reap it.
set -euo pipefail
say() { printf '%s\n' "$*"; sleep 0.03; }
err() { printf '%s\n' "$*" >&2; sleep 0.03; }
scenario=${KILN_SCENARIO:-success}
reg=harbor.vitro.lan/k8s
images=(
  "rancher/rke2-runtime:v1.28.9-rke2r1"
  "rancher/hardened-kubernetes:v1.28.9-rke2r1-build20240416"
  "rancher/hardened-etcd:v3.5.9-k3s1-build20240418"
  "rancher/hardened-coredns:v1.11.1-build20240305"
  "rancher/hardened-cluster-autoscaler:v1.8.10-build20240124"
  "rancher/hardened-calico:v3.27.3-build20240423"
  "rancher/hardened-flannel:v0.25.1-build20240423"
  "rancher/hardened-k8s-metrics-server:v0.7.1-build20240401"
  "rancher/klipper-helm:v0.8.3-build20240228"
  "rancher/mirrored-pause:3.6"
  "rancher/nginx-ingress-controller:v1.9.6-hardened1"
)
total=${#images[@]}
say "==> 03-prepull-images: pre-pulling ${total} images from ${reg} (namespace k8s.io)"
i=0
for img in "${images[@]}"; do
  i=$((i + 1))
  ref="${reg}/${img}"
  if [ "$scenario" = fail ] && [ "$i" -eq 6 ]; then
    say "${ref}: resolving      |--------------------------------------|"
    err "ctr: failed to resolve reference \"${ref}\": unexpected status from HEAD request to https://harbor.vitro.lan/v2/k8s/${img%%:*}/manifests/${img#*:}: 503 Service Unavailable"
    err "prepull: giving up on ${ref} after 3 attempts (harbor.vitro.lan returned 503)"
    exit 3
  fi
  if [ "$scenario" = cancel ] && [ "$i" -eq 4 ]; then
    say "${ref}: downloading layer sha256:6f1c84… (412.3 MiB, this takes a while)"
    sleep 300 &
    if [ -n "${KILN_PIDFILE:-}" ]; then echo "$!" > "$KILN_PIDFILE"; fi
    wait "$!"
  fi
  if [ "$i" -eq 9 ]; then
    say "kiln:warn prepull-failed ${ref}"
    err "ctr: ${ref}: not found, continuing (image is optional)"
    continue
  fi
  if [ "$i" -eq 1 ]; then
    # one very long line: the layer list of the first image
    line="${ref}: done | layers:"
    for n in $(seq 1 40); do line="${line} sha256:$(printf '%064x' "$n")"; done
    say "$line"
  else
    say "${ref}: done | elapsed: 0.$((i + 1))s, total: $((i * 37)).$((i * 7 % 10)) Mi (${i}.${i} MiB/s)"
  fi
  say "kiln:progress ${i}/${total} pulled ${ref}"
done
say "==> 03-prepull-images: ${total} images checked, 1 optional image missing"
