#!/usr/bin/env bats
# Stage 07: the validation gate before cleanup. A healthy fake root passes; each broken check
# fails the build, and all failures are listed together. ctr is a stub over a fake content store
# (blobs by digest, images with labels); the real-containerd suite runs the gate on a real one.

load helpers

setup() {
  setup_stage
  S="$ROOT/etc/packer-build"
  BLOBS="$BATS_TEST_TMPDIR/blobs"
  IMAGES_DB="$BATS_TEST_TMPDIR/images"
  mkdir -p "$S" "$ROOT/etc/sysctl.d" "$ROOT/etc/modules-load.d" "$ROOT/etc/ssh/sshd_config.d" "$BLOBS" \
    "$ROOT/proc" "$ROOT/usr/local/bin" "$ROOT/var/lib/rancher/rke2/agent/images" "$ROOT/opt/rke2-artifacts" \
    "$ROOT/usr/local/lib/systemd/system"
  : >"$IMAGES_DB"
  printf 'vm.panic_on_oom=0\nkernel.panic = 10\nnet.ipv4.ip_forward=1\n' >"$ROOT/etc/sysctl.d/90-rke2-node.conf"
  set_sysctl vm.panic_on_oom 0
  set_sysctl kernel.panic 10
  set_sysctl net.ipv4.ip_forward 1
  printf '# comment\nbr_netfilter\noverlay\n' >"$ROOT/etc/modules-load.d/rke2.conf"
  mkdir -p "$ROOT/sys/module/br_netfilter" "$ROOT/sys/module/overlay"
  printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$ROOT/proc/swaps"
  printf '# /swap.img none swap sw 0 0\n' >"$ROOT/etc/fstab"
  printf '#!/bin/sh\n' >"$ROOT/usr/local/bin/rke2" && chmod +x "$ROOT/usr/local/bin/rke2"
  touch "$ROOT/usr/local/lib/systemd/system/rke2-server.service" "$ROOT/usr/local/lib/systemd/system/rke2-agent.service"
  printf 'x' >"$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst"
  printf 'v1.28.15+rke2r1\n' >"$S/rke2-version"
  printf 'root:x:0:0::/root:/bin/bash\netcd:x:998:998:etcd user:/:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
  printf 'PermitRootLogin no\n' >"$ROOT/etc/ssh/sshd_config.d/10-rke2-node.conf"
  printf 'requested=false\nstatus=disabled\n' >"$S/fips-status"
  # CAPRKE2's artifacts
  printf '#!/bin/sh\n' >"$ROOT/opt/install.sh"
  printf 'rke2' >"$ROOT/opt/rke2-artifacts/rke2.linux-amd64.tar.gz"
  printf 'images' >"$ROOT/opt/rke2-artifacts/rke2-images.linux-amd64.tar.zst"
  (cd "$ROOT/opt/rke2-artifacts" && sha256sum rke2.linux-amd64.tar.gz rke2-images.linux-amd64.tar.zst >sha256sum-amd64.txt)
  AIRGAPPED="$(sha256sum "$ROOT/opt/rke2-artifacts/sha256sum-amd64.txt" | cut -d' ' -f1)"
  write_manifest "$AIRGAPPED"
  # the pinned list (same format as 03's IMAGES array)
  PINNED="$BATS_TEST_TMPDIR/pinned.sh"
  printf 'IMAGES=(\n  "up.io/a:v1 k8s/a:v1"\n  "up.io/b:v2 k8s/b:v2"\n)\n' >"$PINNED"
  : >"$S/prepulled-images.txt"
  : >"$S/prepull-failures.txt"
  make_image h/k8s/a:v1 up.io/a:v1
  make_image h/k8s/b:v2 up.io/b:v2
  stub sshd 'printf "port 22\npermitrootlogin no\npasswordauthentication no\nx11forwarding no\n"'
  stub systemctl 'case "$1 $2" in
  "is-enabled rke2-server.service"|"is-enabled rke2-agent.service") echo disabled; exit 1 ;;
  "is-active "*) echo inactive; exit 3 ;;
  "is-enabled qemu-guest-agent.service") echo static ;;
  "is-enabled "*) echo enabled ;;
esac'
  stub containerd 'printf "%s\n" "$$" >"'"$BATS_TEST_TMPDIR"'/containerd.pid"; exec "'"$REAL_SLEEP"'" 600'
  stub_ctr ctr
}

# ctr over the fake store: images check/ls from $IMAGES_DB ("ref digest labels"), content get
# from $BLOBS/<hex>
stub_ctr() {
  stub "$1" 'while [[ "$1" == --* ]]; do shift 2; done
case "$1 ${2:-}" in
  "version ") [[ -s "'"$BATS_TEST_TMPDIR"'/containerd.pid" ]] ;;
  "images check")
    printf "REF TYPE DIGEST STATUS SIZE UNPACKED\n"
    while read -r r d l; do printf "%s application/vnd.oci.image.manifest.v1+json %s complete (3/3) 1.0 KiB/1.0 KiB true\n" "$r" "$d"; done <"'"$IMAGES_DB"'" ;;
  "images ls")
    printf "REF TYPE DIGEST SIZE PLATFORMS LABELS\n"
    while read -r r d l; do printf "%s application/vnd.oci.image.manifest.v1+json %s 1.0 KiB linux/amd64 %s\n" "$r" "$d" "$l"; done <"'"$IMAGES_DB"'" ;;
  "content get") cat "'"$BLOBS"'/${3#sha256:}" ;;
  *) exit 1 ;;
esac'
}

# blob CONTENT: stores CONTENT, prints its digest
blob() {
  local hex
  hex="$(printf '%s' "$1" | sha256sum | cut -d' ' -f1)"
  printf '%s' "$1" >"$BLOBS/$hex"
  printf 'sha256:%s' "$hex"
}

# make_image HARBOR_REF UPSTREAM_REF: a manifest, config and layer in the store, both names pinned,
# recorded by "03" in prepulled-images.txt
make_image() {
  local layer config manifest
  layer="$(blob "layer of $1")"
  config="$(blob "{\"config\":\"$1\"}")"
  manifest="$(blob "{\"schemaVersion\":2,\"config\":{\"digest\":\"$config\"},\"layers\":[{\"digest\":\"$layer\"}]}")"
  printf '%s %s io.cri-containerd.pinned=pinned\n%s %s io.cri-containerd.pinned=pinned\n' "$1" "$manifest" "$2" "$manifest" >>"$IMAGES_DB"
  printf '%s %s %s\n' "$1" "$manifest" "$2" >>"$S/prepulled-images.txt"
  LAST_LAYER="${layer#sha256:}"
}

write_manifest() {
  printf '{"schema_version":"1.0","built_by":"packer","built_at":"2026-04-07T11:23:14Z","os":{"pretty_name":"Ubuntu 22.04.4 LTS","kernel":"5.15.0-101-generic"},"kubernetes":{"distribution":"rke2","version":"v1.28.15+rke2r1"},"fips_enabled":false,"prepulled_images":["h/k8s/a:v1","h/k8s/b:v2"],"rke2_airgapped_checksum":"%s"}\n' "$1" >"$S/image-manifest.json"
}

set_sysctl() {
  mkdir -p "$(dirname "$ROOT/proc/sys/${1//.//}")"
  printf '%s\n' "$2" >"$ROOT/proc/sys/${1//.//}"
}

# shellcheck disable=SC2120 # callers may add VAR=value arguments
run_gate() {
  run_stage 07-validate.sh RKE2_BIN_DIR="$STUBS" HARBOR_REGISTRY=h PINNED_LIST="$PINNED" "$@"
}

assert_containerd_stopped() {
  local pid
  pid="$(cat "$BATS_TEST_TMPDIR/containerd.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    echo "containerd ($pid) is still running" >&2
    return 1
  fi
}

@test "a healthy image passes every check" {
  run_gate
  assert_status 0
  assert_output_has 'all checks passed'
  assert_output_has 'kiln:progress 13/13 pre-pulled images checked in containerd'
  assert_output_has 'kiln:progress 12/13 pre-pull records: 2 of 2 pinned images'
  refute_output_has 'kiln:warn'
  grep -q '^ctr .*--namespace k8s.io images check' "$CALLS"
  assert_containerd_stopped
}

@test "the gate checks against the list 03 ran with (its copy in /var/lib/kiln-build)" {
  mkdir -p "$ROOT/var/lib/kiln-build"
  cp "$PINNED" "$ROOT/var/lib/kiln-build/pinned-images.sh"
  run_stage 07-validate.sh RKE2_BIN_DIR="$STUBS" HARBOR_REGISTRY=h
  assert_status 0
  printf 'IMAGES=(\n  "up.io/a:v1 k8s/a:v1"\n  "up.io/b:v2 k8s/b:v2"\n  "up.io/c:v3 k8s/c:v3"\n)\n' >"$ROOT/var/lib/kiln-build/pinned-images.sh"
  run_stage 07-validate.sh RKE2_BIN_DIR="$STUBS" HARBOR_REGISTRY=h
  assert_status 1
  assert_output_has 'images: h/k8s/c:v3 is pinned but neither pre-pulled nor recorded as failed'
}

@test "without 03's copy the gate reads 03 beside it (the repository layout)" {
  run_stage 07-validate.sh RKE2_BIN_DIR="$STUBS" HARBOR_REGISTRY=h
  assert_status 1
  assert_output_has 'images: h/k8s/provider-os/openstack-cloud-controller-manager:v1.30.0 is pinned but neither pre-pulled nor recorded as failed'
}

@test "a sysctl not in effect fails the build" {
  set_sysctl kernel.panic 0
  run_gate
  assert_status 1
  assert_output_has "sysctl: kernel.panic is '0', want '10'"
}

@test "a module not loaded fails the build" {
  rmdir "$ROOT/sys/module/overlay"
  run_gate
  assert_status 1
  assert_output_has 'module: overlay not loaded'
}

@test "active swap fails the build" {
  printf '/swap.img file 1048572 0 -2\n' >>"$ROOT/proc/swaps"
  printf '/swap.img none swap sw 0 0\n' >>"$ROOT/etc/fstab"
  run_gate
  assert_status 1
  assert_output_has 'swap: 1 swap device(s) active'
  assert_output_has 'swap: /etc/fstab still has an active swap entry'
}

@test "nothing pre-pulled fails the gate, whatever PREPULL_STRICT says" {
  : >"$S/prepulled-images.txt"
  printf 'h/k8s/a:v1\nh/k8s/b:v2\n' >"$S/prepull-failures.txt"
  run_gate PREPULL_STRICT=false
  assert_status 1
  assert_output_has 'images: 0 of 2 pinned images pre-pulled'
}

@test "a recorded pre-pull failure is a warning by default and a failure with PREPULL_STRICT=true" {
  sed -i '/h\/k8s\/b:v2/d' "$S/prepulled-images.txt"
  printf 'h/k8s/b:v2\n' >"$S/prepull-failures.txt"
  run_gate
  assert_status 0
  grep -qx 'kiln:warn prepull-failed h/k8s/b:v2' <<<"$output"
  assert_output_has 'kiln:warn 1 pinned image(s) not in the image (partial pre-pulls allowed, prepull_strict=false)'
  run_gate PREPULL_STRICT=true
  assert_status 1
  assert_output_has 'images: h/k8s/b:v2 was not pre-pulled (PREPULL_STRICT=true)'
}

@test "a pinned image neither pulled nor recorded as failed fails the gate" {
  sed -i '/h\/k8s\/b:v2/d' "$S/prepulled-images.txt"
  run_gate
  assert_status 1
  assert_output_has 'images: h/k8s/b:v2 is pinned but neither pre-pulled nor recorded as failed'
}

@test "a pre-pulled image missing from containerd fails the build, naming it" {
  sed -i '/^h\/k8s\/a:v1 /d' "$IMAGES_DB"
  run_gate
  assert_status 1
  assert_output_has 'images: h/k8s/a:v1 is not complete in containerd (namespace k8s.io)'
  assert_containerd_stopped
}

@test "a deleted layer blob fails the build although ctr images check says complete" {
  rm "$BLOBS/$LAST_LAYER"
  run_gate
  assert_status 1
  assert_output_has "images: h/k8s/b:v2: blob sha256:${LAST_LAYER} is missing or corrupt in the content store"
  refute_output_has 'h/k8s/a:v1'
}

@test "an image without its upstream tag or without the pinned label fails the build" {
  sed -i '/^up.io\/a:v1 /d' "$IMAGES_DB"
  sed -i 's/^\(h\/k8s\/b:v2 [^ ]*\) .*/\1 -/' "$IMAGES_DB"
  run_gate
  assert_status 1
  assert_output_has 'images: h/k8s/a:v1 is not tagged as up.io/a:v1'
  assert_output_has 'images: h/k8s/b:v2 is not pinned (io.cri-containerd.pinned=pinned)'
}

@test "CAPRKE2's artifacts: install.sh, one sha256sum file, matching tarballs, checksum in the manifest" {
  rm "$ROOT/opt/install.sh"
  printf 'tampered' >"$ROOT/opt/rke2-artifacts/rke2-images.linux-amd64.tar.zst"
  run_gate
  assert_status 1
  assert_output_has 'caprke2: /opt/install.sh missing'
  assert_output_has 'caprke2: /opt/rke2-artifacts/rke2-images.linux-amd64.tar.zst does not match sha256sum-amd64.txt'
  refute_output_has 'rke2_airgapped_checksum'
  write_manifest 0000
  cp "$ROOT/opt/rke2-artifacts/sha256sum-amd64.txt" "$ROOT/opt/rke2-artifacts/sha256sum-extra.txt"
  run_gate
  assert_output_has 'caprke2: /opt/rke2-artifacts must hold exactly one sha256sum*.txt (CAPRKE2 hashes the glob), found 2'
  rm "$ROOT/opt/rke2-artifacts/sha256sum-extra.txt"
  run_gate
  assert_output_has "caprke2: manifest rke2_airgapped_checksum '0000' is not the SHA-256 of /opt/rke2-artifacts/sha256sum-amd64.txt (${AIRGAPPED})"
}

@test "services: guest services enabled, RKE2 installed but neither enabled nor running" {
  stub systemctl 'case "$1 $2" in
  "is-enabled chrony.service") echo disabled; exit 1 ;;
  "is-enabled rke2-server.service") echo enabled ;;
  "is-active rke2-agent.service") echo active ;;
  "is-active "*) echo inactive; exit 3 ;;
  "is-enabled "*) echo enabled ;;
esac'
  rm "$ROOT/usr/local/lib/systemd/system/rke2-agent.service"
  run_gate
  assert_status 1
  assert_output_has "service: chrony is 'disabled', want enabled"
  assert_output_has 'service: rke2-server is enabled (CAPRKE2 enables it at first boot; the build must not)'
  assert_output_has 'service: rke2-agent is active (the build must never start RKE2)'
  assert_output_has 'service: rke2-agent.service is not installed'
}

@test "a core dump in /var/crash fails the build" {
  mkdir -p "$ROOT/var/crash"
  printf 'x' >"$ROOT/var/crash/_usr_bin_foo.0.crash"
  run_gate
  assert_status 1
  assert_output_has 'hygiene: core dump /var/crash/_usr_bin_foo.0.crash in the image'
}

@test "an sshd configuration that is not in effect fails the build" {
  stub sshd 'printf "permitrootlogin prohibit-password\npasswordauthentication no\nx11forwarding no\n"'
  run_gate
  assert_status 1
  assert_output_has "sshd: effective configuration lacks 'permitrootlogin no'"
}

@test "FIPS enabled but not running fails the build" {
  printf 'requested=true\nstatus=enabled\n' >"$S/fips-status"
  set_sysctl crypto.fips_enabled 0
  run_gate
  assert_status 1
  assert_output_has 'fips: fips-updates enabled but the running kernel is not in FIPS mode'
  set_sysctl crypto.fips_enabled 1
  run_gate
  assert_status 0
}

@test "every failure is listed together" {
  rm "$ROOT/usr/local/bin/rke2" "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst"
  printf 'root:x:0:0::/root:/bin/bash\n' >"$ROOT/etc/passwd"
  rm "$ROOT/etc/ssh/sshd_config.d/10-rke2-node.conf"
  printf '{"schema_version":"1.0","rke2_airgapped_checksum":"%s"}' "$AIRGAPPED" >"$S/image-manifest.json"
  run_gate
  assert_status 1
  assert_output_has '07-validate: 5 check(s) failed, the image will not be snapshotted:'
  assert_output_has '  - rke2: binary missing'
  assert_output_has '  - rke2: no airgap images tarball'
  assert_output_has '  - etcd: no etcd user in /etc/passwd'
  assert_output_has '  - sshd: drop-in /etc/ssh/sshd_config.d/10-rke2-node.conf missing'
  assert_output_has '  - manifest: /etc/packer-build/image-manifest.json missing or not schema 1.x'
  assert_output_has 'kiln:warn validate-failed etcd: no etcd user in /etc/passwd'
}

# RKE2's runtime, as 03 leaves it: the stub containerd/ctr inside an rke2-runtime image of the
# airgap tarball (RKE2 never ran, so there is no /var/lib/rancher/rke2/bin)
airgap_tarball_with_stub_runtime() {
  local layer="$BATS_TEST_TMPDIR/layer" archive="$BATS_TEST_TMPDIR/archive"
  mkdir -p "$layer/bin" "$archive/abc123"
  cp "$STUBS/containerd" "$STUBS/ctr" "$layer/bin/"
  rm "$STUBS/containerd" "$STUBS/ctr"
  tar -C "$layer" -cf "$archive/abc123/layer.tar" bin
  printf '[{"Config":"c.json","RepoTags":["docker.io/rancher/rke2-runtime:v1.28.15-rke2r1"],"Layers":["abc123/layer.tar"]}]' >"$archive/manifest.json"
  rm "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst"
  tar -C "$archive" -cf - manifest.json abc123 | zstd -q -o "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images-core.linux-amd64.tar.zst"
}

@test "the FIPS reboot wipes /tmp: the gate still finds RKE2's runtime (cache outside /tmp, else the tarball)" {
  airgap_tarball_with_stub_runtime
  # what 03 leaves behind: the runtime extracted into the build state directory
  run_stage 07-validate.sh HARBOR_REGISTRY=h PINNED_LIST="$PINNED"
  assert_status 0
  assert_output_has 'RKE2 runtime read from /var/lib/rancher/rke2/agent/images/rke2-images-core.linux-amd64.tar.zst'
  [ -x "$ROOT/var/lib/kiln-build/rke2-runtime/bin/containerd" ]
  # the reboot: Ubuntu's tmpfiles.d empties /tmp
  find "$ROOT/tmp" -mindepth 1 -delete
  run_stage 07-validate.sh HARBOR_REGISTRY=h PINNED_LIST="$PINNED"
  assert_status 0
  refute_output_has 'RKE2 runtime read from'
  # even without the cache, the runtime is read out of the tarball again
  rm -rf "$ROOT/var/lib/kiln-build/rke2-runtime"
  run_stage 07-validate.sh HARBOR_REGISTRY=h PINNED_LIST="$PINNED"
  assert_status 0
  assert_output_has 'RKE2 runtime read from'
}
