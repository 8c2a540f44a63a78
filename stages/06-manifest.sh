#!/usr/bin/env bash
# Stage 06: write /etc/packer-build/image-manifest.json (schema 1.x) with jq, never by pasting
# strings. Required fields are the document's; the extras are additive.
#
# Environment:
#   TARGET_ROOT      prefix for every file read and written (tests); empty on a build VM
#   K8S_VERSION      fallback when 02 recorded no version
#   SOURCE_IMAGE, IMAGE_NAME, PACKER_RUN_UUID, HARBOR_REGISTRY   provenance extras (optional)
#
# Additive fields (schema 1.x): prepull_failures, prepulled_image_digests,
# prepulled_image_upstream (Harbor ref -> the upstream name it is also tagged as), artifacts_sha256,
# rke2_airgapped_checksum (CAPRKE2's airGappedChecksum: SHA-256 of
# /opt/rke2-artifacts/sha256sum-amd64.txt), ubuntu_pro ({source_attached: true|false|null,
# attached_by_build, detached_before_snapshot}: 05 detaches and its final check enforces it),
# source_image, image_name, packer_run_uuid, harbor_registry.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
kiln_init 06-manifest

MANIFEST="${STATE_DIR}/image-manifest.json"
SCHEMA_VERSION="1.0"
AIRGAP_SUMS="${ROOT}/opt/rke2-artifacts/sha256sum-amd64.txt"

os_pretty_name() {
  local line
  line="$(grep -m1 '^PRETTY_NAME=' "${ROOT}/etc/os-release" 2>/dev/null || true)"
  line="${line#PRETTY_NAME=}"
  line="${line#\"}"
  printf '%s' "${line%\"}"
}

# lines_json FILE: the first field of every non-empty line of FILE as a JSON array, deduplicated
lines_json() {
  if [[ -f "$1" ]]; then
    awk '{ print $1 }' "$1" | awk 'NF && !seen[$0]++' | jq -R . | jq -s .
  else
    printf '[]'
  fi
}

digests_json() {
  if [[ -f "${STATE_DIR}/prepulled-images.txt" ]]; then
    awk 'NF >= 2 { print $1 "\t" $2 }' "${STATE_DIR}/prepulled-images.txt" |
      jq -R 'split("\t") | { (.[0]): .[1] }' | jq -s 'add // {}'
  else
    printf '{}'
  fi
}

upstream_json() {
  if [[ -f "${STATE_DIR}/prepulled-images.txt" ]]; then
    awk 'NF >= 3 { print $1 "\t" $3 }' "${STATE_DIR}/prepulled-images.txt" |
      jq -R 'split("\t") | { (.[0]): .[1] }' | jq -s 'add // {}'
  else
    printf '{}'
  fi
}

# pro_json: what 04 recorded about Ubuntu Pro; everything attached is detached by 05
pro_json() {
  local source_attached="null" by_build="false"
  case "$(sed -n 's/^source_attached=//p' "${STATE_DIR}/ubuntu-pro" 2>/dev/null)" in
    true) source_attached=true ;;
    false) source_attached=false ;;
  esac
  if grep -qx 'attached_by_build=true' "${STATE_DIR}/ubuntu-pro" 2>/dev/null; then
    by_build=true
  fi
  jq -n --argjson s "$source_attached" --argjson b "$by_build" \
    '{ source_attached: $s, attached_by_build: $b, detached_before_snapshot: ($s == true or $b) }'
}

artifacts_json() {
  if [[ -f "${STATE_DIR}/artifacts.sha256" ]]; then
    awk 'NF >= 2 { print $2 "\t" $1 }' "${STATE_DIR}/artifacts.sha256" |
      jq -R 'split("\t") | { (.[0]): .[1] }' | jq -s 'add // {}'
  else
    printf '{}'
  fi
}

gather() {
  pretty_name="$(os_pretty_name)"
  [[ -n "$pretty_name" ]] || die "no PRETTY_NAME in ${ROOT}/etc/os-release"
  kernel="$(uname -r)"
  k8s_version="$(cat "${STATE_DIR}/rke2-version" 2>/dev/null || true)"
  k8s_version="${k8s_version:-${K8S_VERSION:-}}"
  [[ -n "$k8s_version" ]] || die "no RKE2 version: ${STATE_DIR}/rke2-version missing and K8S_VERSION unset"
  fips_enabled=false
  if grep -qx 'status=enabled' "${STATE_DIR}/fips-status" 2>/dev/null; then
    fips_enabled=true
  fi
  airgapped_checksum=""
  if [[ -f "$AIRGAP_SUMS" ]]; then
    airgapped_checksum="$(sha256_of "$AIRGAP_SUMS")"
  fi
  built_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

write_manifest() {
  local tmp
  mkdir -p "$STATE_DIR"
  tmp="$(mktemp "${MANIFEST}.XXXXXX")"
  jq -n \
    --arg schema_version "$SCHEMA_VERSION" \
    --arg built_at "$built_at" \
    --arg pretty_name "$pretty_name" \
    --arg kernel "$kernel" \
    --arg k8s_version "$k8s_version" \
    --argjson fips_enabled "$fips_enabled" \
    --argjson prepulled "$(lines_json "${STATE_DIR}/prepulled-images.txt")" \
    --argjson failures "$(lines_json "${STATE_DIR}/prepull-failures.txt")" \
    --argjson digests "$(digests_json)" \
    --argjson upstream "$(upstream_json)" \
    --argjson artifacts "$(artifacts_json)" \
    --argjson pro "$(pro_json)" \
    --arg airgapped_checksum "$airgapped_checksum" \
    --arg source_image "${SOURCE_IMAGE:-}" \
    --arg image_name "${IMAGE_NAME:-}" \
    --arg packer_run_uuid "${PACKER_RUN_UUID:-}" \
    --arg harbor_registry "${HARBOR_REGISTRY:-}" \
    '{
      schema_version: $schema_version,
      built_by: "packer",
      built_at: $built_at,
      os: { pretty_name: $pretty_name, kernel: $kernel },
      kubernetes: { distribution: "rke2", version: $k8s_version },
      fips_enabled: $fips_enabled,
      prepulled_images: $prepulled,
      prepull_failures: $failures,
      prepulled_image_digests: $digests,
      prepulled_image_upstream: $upstream,
      artifacts_sha256: $artifacts,
      ubuntu_pro: $pro
    }
    + (if $airgapped_checksum != "" then { rke2_airgapped_checksum: $airgapped_checksum } else {} end)
    + (if $source_image != "" then { source_image: $source_image } else {} end)
    + (if $image_name != "" then { image_name: $image_name } else {} end)
    + (if $packer_run_uuid != "" then { packer_run_uuid: $packer_run_uuid } else {} end)
    + (if $harbor_registry != "" then { harbor_registry: $harbor_registry } else {} end)' >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$MANIFEST"
}

step gather "facts gathered"
step write_manifest "wrote /etc/packer-build/image-manifest.json"
run_steps
