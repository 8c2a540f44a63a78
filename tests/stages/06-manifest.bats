#!/usr/bin/env bats
# Stage 06: image-manifest.json, schema 1.0, built with jq.
#
# Regenerate the golden sample (read by the console's tests) after a deliberate change:
#   KILN_MANIFEST_SAMPLE_OUT="$PWD/tests/stages/golden/image-manifest.json" bats tests/stages/06-manifest.bats

load helpers

GOLDEN="${BATS_TEST_DIRNAME}/golden/image-manifest.json"
REQUIRED='["built_at","built_by","fips_enabled","kubernetes","os","prepulled_images","schema_version"]'
EXTRAS='["artifacts_sha256","harbor_registry","image_name","packer_run_uuid","prepull_failures","prepulled_image_digests","prepulled_image_upstream","rke2_airgapped_checksum","source_image","ubuntu_pro"]'

setup() {
  setup_stage
  stub uname 'echo 5.15.0-101-generic'
  stub date 'echo 2026-04-07T11:23:14Z'
  S="$ROOT/etc/packer-build"
  mkdir -p "$S"
  cat >"$ROOT/etc/os-release" <<'OS'
NAME="Ubuntu"
VERSION_ID="22.04"
PRETTY_NAME="Ubuntu 22.04.4 LTS"
ID=ubuntu
OS
  printf 'v1.28.15+rke2r1\n' >"$S/rke2-version"
  printf 'requested=false\nstatus=disabled\n' >"$S/fips-status"
  cat >"$S/prepulled-images.txt" <<'TXT'
harbor.vitro.lan/k8s/provider-os/openstack-cloud-controller-manager:v1.30.0 sha256:1111111111111111111111111111111111111111111111111111111111111111 registry.k8s.io/provider-os/openstack-cloud-controller-manager:v1.30.0
harbor.vitro.lan/k8s/provider-os/cinder-csi-plugin:v1.30.0 sha256:2222222222222222222222222222222222222222222222222222222222222222 registry.k8s.io/provider-os/cinder-csi-plugin:v1.30.0
harbor.vitro.lan/k8s/sig-storage/csi-provisioner:v5.0.1 sha256:3333333333333333333333333333333333333333333333333333333333333333 registry.k8s.io/sig-storage/csi-provisioner:v5.0.1
TXT
  mkdir -p "$ROOT/opt/rke2-artifacts"
  printf '%s  rke2.linux-amd64.tar.gz\n' aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >"$ROOT/opt/rke2-artifacts/sha256sum-amd64.txt"
  printf 'source_attached=false\nattached_by_build=false\n' >"$S/ubuntu-pro"
  printf 'harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0\n' >"$S/prepull-failures.txt"
  printf '%s  rke2.linux-amd64.tar.gz\n%s  rke2-images.linux-amd64.tar.zst\n' \
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb \
    >"$S/artifacts.sha256"
  M="$S/image-manifest.json"
}

run_manifest() {
  run_stage 06-manifest.sh SOURCE_IMAGE=ubuntu-22.04 IMAGE_NAME=rke2-node-v1.28-20260407 \
    PACKER_RUN_UUID=3fc47c44-7c52-c4d7-0493-7258f129f6e1 HARBOR_REGISTRY=harbor.vitro.lan "$@"
}

@test "the manifest is valid JSON with exactly the document's fields and types" {
  run_manifest
  assert_status 0
  jq -e . "$M" >/dev/null
  jq -e --argjson req "$REQUIRED" --argjson extra "$EXTRAS" '
    (keys - $extra) == $req and
    .schema_version == "1.0" and
    .built_by == "packer" and
    .built_at == "2026-04-07T11:23:14Z" and
    (.os | keys) == ["kernel", "pretty_name"] and
    .os.pretty_name == "Ubuntu 22.04.4 LTS" and
    .os.kernel == "5.15.0-101-generic" and
    (.kubernetes | keys) == ["distribution", "version"] and
    .kubernetes.distribution == "rke2" and
    .kubernetes.version == "v1.28.15+rke2r1" and
    .fips_enabled == false and
    (.prepulled_images | type == "array" and length == 3 and all(type == "string")) and
    .prepulled_images[0] == "harbor.vitro.lan/k8s/provider-os/openstack-cloud-controller-manager:v1.30.0"
  ' "$M"
  assert_output_has 'kiln:progress 2/2 wrote /etc/packer-build/image-manifest.json'
}

@test "built_at is UTC RFC 3339 from date -u" {
  run_manifest
  grep -qx 'date -u +%Y-%m-%dT%H:%M:%SZ' "$CALLS"
  jq -e '.built_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$")' "$M"
}

@test "extras: failures, digests, artifact checksums and provenance" {
  run_manifest
  assert_status 0
  jq -e '
    .prepull_failures == ["harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0"] and
    .prepulled_image_digests["harbor.vitro.lan/k8s/sig-storage/csi-provisioner:v5.0.1"] == "sha256:3333333333333333333333333333333333333333333333333333333333333333" and
    .artifacts_sha256["rke2.linux-amd64.tar.gz"] == "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" and
    .source_image == "ubuntu-22.04" and
    .image_name == "rke2-node-v1.28-20260407" and
    .packer_run_uuid == "3fc47c44-7c52-c4d7-0493-7258f129f6e1" and
    .prepulled_image_upstream["harbor.vitro.lan/k8s/sig-storage/csi-provisioner:v5.0.1"] == "registry.k8s.io/sig-storage/csi-provisioner:v5.0.1" and
    .ubuntu_pro == {"source_attached": false, "attached_by_build": false, "detached_before_snapshot": false}' "$M"
}

@test "rke2_airgapped_checksum is the SHA-256 of /opt/rke2-artifacts/sha256sum-amd64.txt itself" {
  run_manifest
  assert_status 0
  [ "$(jq -r .rke2_airgapped_checksum "$M")" = "$(sha256sum "$ROOT/opt/rke2-artifacts/sha256sum-amd64.txt" | cut -d' ' -f1)" ]
  rm "$ROOT/opt/rke2-artifacts/sha256sum-amd64.txt"
  run_manifest
  jq -e 'has("rke2_airgapped_checksum") | not' "$M"
}

@test "ubuntu_pro says what was attached and that it is detached before the snapshot" {
  printf 'source_attached=true\nattached_by_build=false\n' >"$S/ubuntu-pro"
  run_manifest
  jq -e '.ubuntu_pro == {"source_attached": true, "attached_by_build": false, "detached_before_snapshot": true}' "$M"
  printf 'source_attached=false\nattached_by_build=true\n' >"$S/ubuntu-pro"
  run_manifest
  jq -e '.ubuntu_pro == {"source_attached": false, "attached_by_build": true, "detached_before_snapshot": true}' "$M"
  rm "$S/ubuntu-pro"
  run_manifest
  jq -e '.ubuntu_pro.source_attached == null' "$M"
}

@test "fips_enabled is true only when FIPS was really enabled" {
  printf 'requested=true\nstatus=unavailable\n' >"$S/fips-status"
  run_manifest
  jq -e '.fips_enabled == false' "$M"
  printf 'requested=true\nstatus=enabled\n' >"$S/fips-status"
  run_manifest
  jq -e '.fips_enabled == true' "$M"
}

@test "hostile values stay valid JSON (no string pasting)" {
  printf 'PRETTY_NAME="Ubuntu \\"22.04\\" \\\\ LTS, {x}"\n' >"$ROOT/etc/os-release"
  stub uname 'printf "5.15\"},\n\t{\"evil\": 1"'
  printf 'weird/"ref":v1 sha256:x\n' >"$S/prepulled-images.txt"
  run_manifest SOURCE_IMAGE='a"b'
  assert_status 0
  jq -e '(.os.kernel | contains("evil")) and .source_image == "a\"b" and (.prepulled_images | length == 1) and (keys | index("evil") == null)' "$M"
}

@test "duplicate failure lines (appended by several runs) appear once" {
  printf 'a/b:v1\na/b:v1\nc/d:v2\n' >"$S/prepull-failures.txt"
  run_manifest
  jq -e '.prepull_failures == ["a/b:v1", "c/d:v2"]' "$M"
}

@test "no pre-pull records gives empty arrays, not a failure" {
  rm "$S/prepulled-images.txt" "$S/prepull-failures.txt"
  run_manifest
  assert_status 0
  jq -e '.prepulled_images == [] and .prepull_failures == []' "$M"
}

@test "without a recorded version, K8S_VERSION is used; with neither, the stage fails" {
  rm "$S/rke2-version"
  run_manifest K8S_VERSION=v1.29.9+rke2r1
  jq -e '.kubernetes.version == "v1.29.9+rke2r1"' "$M"
  rm "$M"
  run_manifest
  assert_status 1
  assert_output_has 'no RKE2 version'
  [ ! -e "$M" ]
}

@test "matches the golden sample the console's tests parse" {
  run_manifest
  assert_status 0
  if [[ -n "${KILN_MANIFEST_SAMPLE_OUT:-}" ]]; then
    mkdir -p "$(dirname "$KILN_MANIFEST_SAMPLE_OUT")"
    jq . "$M" >"$KILN_MANIFEST_SAMPLE_OUT"
  fi
  diff <(jq -S . "$GOLDEN") <(jq -S . "$M")
}
