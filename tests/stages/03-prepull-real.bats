#!/usr/bin/env bats
# Stage 03 (and 02, 04, 06, 07, 05 after it) for real: Debian's containerd 1.6 and ctr, the CNCF
# registry (docker-registry) on 127.0.0.1 with TLS from a CA made here, the 14 pinned images built
# as OCI layouts and pushed with skopeo, the unmodified stage scripts under TARGET_ROOT. RKE2's
# containerd comes, as on a build VM, out of an rke2-runtime image inside an airgap tarball (here
# carrying Debian's containerd and ctr): PATH holds no containerd at all.
#
# Needs root (containerd mounts overlayfs snapshots) and the packages real.bash names; a missing
# one is a failure that says what to install, never a skip. The tests share one registry and run
# in file order on shared roots (a later test builds on the earlier ones).

load helpers
load real

setup_file() {
  require_real >&3 || return 1
  F="$BATS_FILE_TMPDIR"
  export F
  registry_start "$F/registry"
  printf '%s\n%s\n' "$REGISTRY_PID" "$REGISTRY" >"$F/registry.info"
  printf '%s\n' "$REGISTRY_CA" "$REGISTRY_CERTS" >>"$F/registry.info"
  # the full set under <registry>/, and all but one under <registry>/partial/
  pinned_list >"$F/pinned"
  MISSING_PATH="$(sed -n 3p "$F/pinned" | cut -d' ' -f2)"
  while read -r _ path; do
    push_image "$F" "$REGISTRY/$path" 40000 8192
    if [[ "$path" != "$MISSING_PATH" ]]; then
      skopeo --insecure-policy copy -q --src-cert-dir "$REGISTRY_CERTS" --dest-cert-dir "$REGISTRY_CERTS" \
        "docker://$REGISTRY/$path" "docker://$REGISTRY/partial/$path"
    fi
  done <"$F/pinned"
  # a CA that did not sign the registry's certificate
  mkdir -p "$F/wrong-ca"
  make_ca "$F/wrong-ca" wrong
  # the airgap artifacts as files/ holds them
  mkdir -p "$F/artifacts"
  make_airgap_tarball "$F/artifacts/rke2-images.linux-amd64.tar.zst"
  printf 'rke2 binaries' >"$F/artifacts/rke2.linux-amd64.tar.gz"
  cat >"$F/artifacts/rke2-install.sh" <<'SH'
#!/bin/sh
# stand-in for get.rke2.io's installer, tar method, airgap: binary, units, images tarball
set -e
mkdir -p "$INSTALL_RKE2_TAR_PREFIX/bin" "$INSTALL_RKE2_TAR_PREFIX/lib/systemd/system" "$INSTALL_RKE2_AGENT_IMAGES_DIR"
printf '#!/bin/sh\necho "rke2 version v1.28.15+rke2r1 (kiln-test)"\n' >"$INSTALL_RKE2_TAR_PREFIX/bin/rke2"
chmod 0755 "$INSTALL_RKE2_TAR_PREFIX/bin/rke2"
touch "$INSTALL_RKE2_TAR_PREFIX/lib/systemd/system/rke2-server.service" "$INSTALL_RKE2_TAR_PREFIX/lib/systemd/system/rke2-agent.service"
cp "$INSTALL_RKE2_ARTIFACT_PATH/rke2-images.linux-amd64.tar.zst" "$INSTALL_RKE2_AGENT_IMAGES_DIR/"
SH
  (cd "$F/artifacts" && sha256sum rke2.linux-amd64.tar.gz rke2-images.linux-amd64.tar.zst >sha256sum-amd64.txt)
}

teardown_file() {
  local pid
  # anything a failed test left running on our roots, then the registry
  for pid in $(pids_with_arg "$BATS_FILE_TMPDIR/"); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  stop_pid "$(sed -n 1p "$BATS_FILE_TMPDIR/registry.info" 2>/dev/null)"
}

setup() {
  setup_stage
  F="$BATS_FILE_TMPDIR"
  REGISTRY="$(sed -n 2p "$F/registry.info")"
  REGISTRY_CA="$(sed -n 3p "$F/registry.info")"
  REGISTRY_CERTS="$(sed -n 4p "$F/registry.info")"
  MISSING_PATH="$(sed -n 3p "$F/pinned" | cut -d' ' -f2)"
  A="$F/root-a"
  B="$F/root-b"
  ln -sf "$(command -v sh)" "$SAFE/sh"
  # the build VM's system tools that must never touch this host
  stub useradd 'root=""; while [[ $# -gt 0 ]]; do [[ "$1" == --root ]] && root="$2"; shift; done; printf "etcd:x:998:998::/:/usr/sbin/nologin\n" >>"$root/etc/passwd"'
  stub modprobe
  stub sysctl
  stub sshd 'printf "permitrootlogin no\npasswordauthentication no\nx11forwarding no\n"'
  stub systemctl 'case "$1" in
  cat) exit 1 ;;
  is-enabled) case "$2" in rke2-*) echo disabled; exit 1 ;; qemu-guest-agent*) echo static ;; *) echo enabled ;; esac ;;
  is-active) echo inactive; exit 3 ;;
esac'
  stub cloud-init
  stub journalctl
  stub apt-get
  stub fstrim
}

# run_real ROOT SCRIPT [VAR=VALUE...]: an unmodified stage under TARGET_ROOT=ROOT, no containerd on PATH
run_real() {
  local root="$1" script="$2"
  shift 2
  run env -i PATH="${STUBS}:${root}/usr/local/bin:${SAFE}" TARGET_ROOT="$root" HOME="$root/root" \
    HARBOR_REGISTRY="$REGISTRY" HARBOR_CA_FILE="$REGISTRY_CA" "$@" "$BASH_BIN" "${STAGES_DIR}/${script}"
}

# a root prepared by 02 (RKE2 "installed" from the artifacts, airgap tarball staged)
prepare_root() {
  mkdir -p "$1/etc" "$1/tmp" "$1/proc" "$1/var/log"
  printf 'root:x:0:0:root:/root:/bin/bash\n' >"$1/etc/passwd"
  printf 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\n' >"$1/etc/os-release"
  printf '0123456789abcdef\n' >"$1/etc/machine-id"
  mkdir -p "$1/tmp/rke2-artifacts"
  cp "$F"/artifacts/* "$1/tmp/rke2-artifacts/"
  run_real "$1" 02-install-rke2.sh K8S_VERSION=v1.28.15+rke2r1
  assert_status 0
}

assert_no_containerd_left() {
  local left
  left="$(pids_with_arg "$1/run/kiln-ctd")"
  [ -z "$left" ] || { echo "containerd still running: $left" >&2; return 1; }
  [ -z "$(find "$1/run" -mindepth 1 2>/dev/null)" ]
}

harbor_ref() { printf '%s/%s' "$REGISTRY" "$(sed -n "${1}p" "$F/pinned" | cut -d' ' -f2)"; }
upstream_ref() { sed -n "${1}p" "$F/pinned" | cut -d' ' -f1; }

@test "03 pulls all 14 pinned images through TLS into the real containerd: digests, upstream tags, pins, containerd stopped" {
  prepare_root "$A"
  run_real "$A" 03-prepull-images.sh
  assert_status 0
  assert_output_has 'RKE2 runtime read from /var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst'
  assert_output_has 'kiln:progress 17/19 14 of 14 images pre-pulled (0 failed)'
  assert_output_has 'kiln:progress 19/19 containerd stopped'
  assert_no_containerd_left "$A"
  [ ! -s "$A/etc/packer-build/prepull-failures.txt" ]
  [ -x "$A/var/lib/kiln-build/rke2-runtime/bin/containerd" ]
  cmp "$STAGES_DIR/03-prepull-images.sh" "$A/var/lib/kiln-build/pinned-images.sh" # the list 07 checks against
  [ -z "$(find "$A/tmp" -mindepth 1 -path '*kiln*')" ]
  # records: Harbor ref, the digest the registry serves, upstream name
  [ "$(wc -l <"$A/etc/packer-build/prepulled-images.txt")" -eq 14 ]
  inspect_start "$A"
  check="$(inspect_ctr images check)"
  listing="$(inspect_ctr images ls)"
  inspect_stop "$A"
  i=0
  while read -r up path; do
    i=$((i + 1))
    ref="$REGISTRY/$path"
    want="$(remote_digest "$ref")"
    grep -qx "$ref $want $up" "$A/etc/packer-build/prepulled-images.txt" || { echo "record of $ref is not '$ref $want $up'"; false; }
    awk -v r="$ref" '$1 == r && $4 == "complete"' <<<"$check" | grep -q . || { echo "$ref not complete"; false; }
    for name in "$ref" "$up"; do
      line="$(awk -v r="$name" '$1 == r' <<<"$listing")"
      [ "$(awk '{ print $3 }' <<<"$line")" = "$want" ] || { echo "$name: digest of '$line' is not $want"; false; }
      [[ "$line" == *io.cri-containerd.pinned=pinned* ]] || { echo "$name not pinned: $line"; false; }
    done
  done <"$F/pinned"
  [ "$i" -eq 14 ]
}

@test "04, 06 and then the 07 gate on the same root pass" {
  run_real "$A" 04-harden.sh
  assert_status 0
  # the kernel applies what 04 wrote (the stubs did not touch this host)
  while IFS='=' read -r key value; do
    [[ -z "$key" || "$key" == \#* ]] && continue
    mkdir -p "$(dirname "$A/proc/sys/${key//.//}")"
    printf '%s\n' "$value" >"$A/proc/sys/${key//.//}"
  done <"$A/etc/sysctl.d/90-rke2-node.conf"
  while read -r m; do
    [[ -z "$m" || "$m" == \#* ]] || mkdir -p "$A/sys/module/$m"
  done <"$A/etc/modules-load.d/rke2.conf"
  printf 'Filename Type Size Used Priority\n' >"$A/proc/swaps"
  run_real "$A" 06-manifest.sh
  assert_status 0
  jq -e --arg c "$(sha256sum "$A/opt/rke2-artifacts/sha256sum-amd64.txt" | cut -d' ' -f1)" \
    '.rke2_airgapped_checksum == $c and (.prepulled_image_upstream | length == 14) and .prepull_failures == []' \
    "$A/etc/packer-build/image-manifest.json"
  run_real "$A" 07-validate.sh
  assert_status 0
  assert_output_has 'all checks passed'
  assert_output_has 'kiln:progress 12/13 pre-pull records: 14 of 14 pinned images'
  assert_no_containerd_left "$A"
}

@test "the FIPS reboot wipes /tmp (and the runtime cache is gone): the gate still finds RKE2's containerd" {
  find "$A/tmp" -mindepth 1 -delete
  rm -rf "$A/var/lib/kiln-build/rke2-runtime"
  run_real "$A" 07-validate.sh
  assert_status 0
  assert_output_has 'RKE2 runtime read from /var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst'
  assert_output_has 'all checks passed'
}

@test "the gate fails, naming the image, when one pre-pulled image is removed from containerd" {
  ref="$(harbor_ref 5)"
  inspect_start "$A"
  inspect_ctr images rm "$ref" >/dev/null
  inspect_stop "$A"
  run_real "$A" 07-validate.sh
  assert_status 1
  assert_output_has "images: ${ref} is not complete in containerd (namespace k8s.io)"
  assert_no_containerd_left "$A"
  # a rerun of 03 restores it, and the gate passes again
  run_real "$A" 03-prepull-images.sh
  assert_status 0
  run_real "$A" 07-validate.sh
  assert_status 0
}

@test "05 on the same root: generalized, final check passes, /opt kept, no build state or containerd UUID" {
  mkdir -p "$A/etc/ssh" "$A/var/lib/rancher/rke2/agent/containerd/io.containerd.grpc.v1.introspection"
  touch "$A/etc/ssh/ssh_host_ed25519_key"
  printf 'uuid' >"$A/var/lib/rancher/rke2/agent/containerd/io.containerd.grpc.v1.introspection/uuid"
  run_real "$A" 05-cleanup.sh
  assert_status 0
  assert_output_has 'kiln:progress 9/9 generalized and checked'
  [ ! -e "$A/var/lib/kiln-build" ]
  [ ! -e "$A/var/lib/rancher/rke2/agent/containerd/io.containerd.grpc.v1.introspection/uuid" ]
  [ -s "$A/opt/install.sh" ]
  (cd "$A/opt/rke2-artifacts" && sha256sum -c --quiet sha256sum-amd64.txt)
  [ ! -s "$A/etc/machine-id" ]
}

@test "the gate fails, naming the image, when one layer blob is deleted (ctr images check still says complete)" {
  ref="$(harbor_ref 7)"
  inspect_start "$A"
  manifest="$(inspect_ctr content get "$(inspect_ctr images ls | awk -v r="$ref" '$1 == r { print $3 }')")"
  layer="$(jq -r '.layers[-1].digest' <<<"$manifest")"
  inspect_stop "$A"
  rm "$A/var/lib/rancher/rke2/agent/containerd/io.containerd.content.v1.content/blobs/sha256/${layer#sha256:}"
  inspect_start "$A"
  check="$(inspect_ctr images check)"
  inspect_stop "$A"
  awk -v r="$ref" '$1 == r && $4 == "complete"' <<<"$check" | grep -q . # metadata alone is fooled
  run_real "$A" 07-validate.sh
  assert_status 1
  assert_output_has "images: ${ref}: blob ${layer} is missing or corrupt in the content store"
  [ "$(grep -c '^  - images: ' <<<"$output")" -eq 1 ]
  assert_no_containerd_left "$A"
}

@test "a missing image is recorded as not found (not as a TLS error) and the build goes on" {
  prepare_root "$B"
  missing="$REGISTRY/partial/$MISSING_PATH"
  run_real "$B" 03-prepull-images.sh HARBOR_REGISTRY="$REGISTRY/partial"
  assert_status 0
  [ "$(cat "$B/etc/packer-build/prepull-failures.txt")" = "$missing" ]
  assert_output_has "kiln:warn prepull-failed $missing"
  assert_output_has 'not found'
  refute_output_has 'x509'
  assert_output_has '13 of 14 images pre-pulled (1 failed)'
  assert_no_containerd_left "$B"
}

@test "PREPULL_STRICT=true fails on the missing image, naming it, and stops containerd" {
  run_real "$B" 03-prepull-images.sh HARBOR_REGISTRY="$REGISTRY/partial" PREPULL_STRICT=true
  assert_status 1
  assert_output_has "PREPULL_STRICT=true and 1 pull(s) failed: $REGISTRY/partial/$MISSING_PATH"
  assert_no_containerd_left "$B"
}

@test "a good rerun on the same root leaves no failure from the run before" {
  run_real "$B" 03-prepull-images.sh
  assert_status 0
  [ ! -s "$B/etc/packer-build/prepull-failures.txt" ]
  [ "$(wc -l <"$B/etc/packer-build/prepulled-images.txt")" -eq 14 ]
  [ "$(grep -c '/partial/' "$B/etc/packer-build/prepulled-images.txt")" -eq 0 ]
}

@test "a CA that did not sign the registry fails with a clear TLS message" {
  run_real "$B" 03-prepull-images.sh HARBOR_CA_FILE="$F/wrong-ca/wrong.crt"
  assert_status 1
  assert_output_has "none of the 14 images could be pulled: TLS verification of $REGISTRY failed (set harbor_ca_file to the CA that signs its certificate)"
  assert_output_has 'x509'
  assert_no_containerd_left "$B"
}
