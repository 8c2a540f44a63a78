#!/usr/bin/env bash
# Stage 06: write /etc/packer-build/image-manifest.json (schema 1.x) with jq, never by pasting
# strings. Required fields are the document's; the extras are additive.
#
# Environment:
#   TARGET_ROOT      prefix for every file read and written (tests); empty on a build VM
#   K8S_VERSION      fallback when 02 recorded no version
#   SOURCE_IMAGE, IMAGE_NAME, PACKER_RUN_UUID, HARBOR_REGISTRY   provenance extras (optional)
set -euo pipefail

ROOT="${TARGET_ROOT:-}"
STATE_DIR="${ROOT}/etc/packer-build"
MANIFEST="${STATE_DIR}/image-manifest.json"
SCHEMA_VERSION="1.0"

TOTAL=2
progress() { printf 'kiln:progress %s/%s %s\n' "$1" "$TOTAL" "$2"; }
die() { printf '06-manifest: %s\n' "$*" >&2; exit 1; }

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

artifacts_json() {
  if [[ -f "${STATE_DIR}/artifacts.sha256" ]]; then
    awk 'NF >= 2 { print $2 "\t" $1 }' "${STATE_DIR}/artifacts.sha256" |
      jq -R 'split("\t") | { (.[0]): .[1] }' | jq -s 'add // {}'
  else
    printf '{}'
  fi
}

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
built_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
progress 1 "facts gathered"

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
  --argjson artifacts "$(artifacts_json)" \
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
    artifacts_sha256: $artifacts
  }
  + (if $source_image != "" then { source_image: $source_image } else {} end)
  + (if $image_name != "" then { image_name: $image_name } else {} end)
  + (if $packer_run_uuid != "" then { packer_run_uuid: $packer_run_uuid } else {} end)
  + (if $harbor_registry != "" then { harbor_registry: $harbor_registry } else {} end)' >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$MANIFEST"
progress 2 "wrote /etc/packer-build/image-manifest.json"
