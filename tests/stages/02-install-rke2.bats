#!/usr/bin/env bats
# Stage 02: checksums, offline install, airgap tarball, etcd user, version record, never started.

load helpers

setup() {
  setup_stage
  ART="$ROOT/tmp/rke2-artifacts"
  mkdir -p "$ART"
  printf 'rke2 binaries' >"$ART/rke2.linux-amd64.tar.gz"
  printf 'airgap images' >"$ART/rke2-images.linux-amd64.tar.zst"
  printf '#!/bin/sh\necho installer\n' >"$ART/rke2-install.sh"
  (cd "$ART" && sha256sum rke2.linux-amd64.tar.gz rke2-images.linux-amd64.tar.zst >sha256sum-amd64.txt)
  # the release list names assets that are not here; they must be ignored
  printf '%s  rke2.linux-arm64.tar.gz\n' "$(printf x | sha256sum | cut -d' ' -f1)" >>"$ART/sha256sum-amd64.txt"
  printf 'root:x:0:0:root:/root:/bin/bash\n' >"$ROOT/etc/passwd"
  # the installer stub records its environment, as the real one reads INSTALL_RKE2_* from it
  stub sh 'printf "env %s %s %s\n" "$INSTALL_RKE2_ARTIFACT_PATH" "$INSTALL_RKE2_METHOD" "$INSTALL_RKE2_TAR_PREFIX" >>'"$CALLS"
  stub useradd
  stub rke2 'printf "rke2 version v1.28.15+rke2r1 (0123abcd)\ngo version go1.22.5 X:boringcrypto\n"'
  stub systemctl
}

@test "verifies, installs offline, stages the tarball, creates etcd and records the version" {
  run_stage 02-install-rke2.sh K8S_VERSION=v1.28.15+rke2r1
  assert_status 0
  assert_order "^sh $ART/rke2-install.sh\$" '^useradd ' '^rke2 --version'
  grep -qx "env $ART tar $ROOT/usr/local" "$CALLS"
  cmp "$ART/rke2-images.linux-amd64.tar.zst" "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst"
  grep -qx "useradd --system --no-create-home --user-group --shell /usr/sbin/nologin --comment etcd user --root $ROOT etcd" "$CALLS"
  [ "$(cat "$ROOT/etc/packer-build/rke2-version")" = "v1.28.15+rke2r1" ]
  [ "$(wc -l <"$ROOT/etc/packer-build/artifacts.sha256")" -eq 2 ]
  grep -q ' rke2.linux-amd64.tar.gz$' "$ROOT/etc/packer-build/artifacts.sha256"
  assert_output_has 'kiln:warn rke2-install.sh has no line in sha256sum-amd64.txt'
  assert_output_has 'kiln:progress 6/6 rke2 version recorded'
}

@test "CAPRKE2's airgap contract: /opt/install.sh and /opt/rke2-artifacts, checksum recorded" {
  printf 'stale\n' >"$ART/sha256sum-old.txt"
  mkdir -p "$ROOT/opt/rke2-artifacts"
  printf 'stale\n' >"$ROOT/opt/rke2-artifacts/sha256sum-old.txt"
  run_stage 02-install-rke2.sh K8S_VERSION=v1.28.15+rke2r1
  assert_status 0
  cmp "$ART/rke2-install.sh" "$ROOT/opt/install.sh"
  [ -x "$ROOT/opt/install.sh" ]
  for f in rke2.linux-amd64.tar.gz rke2-images.linux-amd64.tar.zst sha256sum-amd64.txt; do
    cmp "$ART/$f" "$ROOT/opt/rke2-artifacts/$f"
  done
  # CAPRKE2 checks sha256sum /opt/rke2-artifacts/sha256sum*.txt: the glob must match one file
  [ "$(find "$ROOT/opt/rke2-artifacts" -name 'sha256sum*.txt' | wc -l)" -eq 1 ]
  # the tarball is not stored twice: /opt shares the staged copy's inode
  [ "$(stat -c %i "$ROOT/opt/rke2-artifacts/rke2-images.linux-amd64.tar.zst")" = \
    "$(stat -c %i "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst")" ]
  [ "$(cat "$ROOT/etc/packer-build/rke2-airgapped-checksum")" = "$(sha256sum "$ART/sha256sum-amd64.txt" | cut -d' ' -f1)" ]
  assert_output_has "airGappedChecksum $(sha256sum "$ART/sha256sum-amd64.txt" | cut -d' ' -f1)"
}

@test "split airgap tarballs (core + CNI) are verified, staged and left for CAPRKE2" {
  mv "$ART/rke2-images.linux-amd64.tar.zst" "$ART/rke2-images-core.linux-amd64.tar.zst"
  printf 'canal images' >"$ART/rke2-images-canal.linux-amd64.tar.zst"
  (cd "$ART" && sha256sum rke2.linux-amd64.tar.gz rke2-images-core.linux-amd64.tar.zst rke2-images-canal.linux-amd64.tar.zst >sha256sum-amd64.txt)
  run_stage 02-install-rke2.sh
  assert_status 0
  for f in rke2-images-core.linux-amd64.tar.zst rke2-images-canal.linux-amd64.tar.zst; do
    cmp "$ART/$f" "$ROOT/var/lib/rancher/rke2/agent/images/$f"
    cmp "$ART/$f" "$ROOT/opt/rke2-artifacts/$f"
  done
}

@test "never starts or enables RKE2" {
  run_stage 02-install-rke2.sh
  assert_status 0
  [ -z "$(calls_matching '^systemctl ')" ]
  [ -z "$(calls_matching '^rke2 (server|agent)')" ]
}

@test "a checksum mismatch fails the build, naming the file, before anything is installed" {
  printf 'tampered' >"$ART/rke2-images.linux-amd64.tar.zst"
  run_stage 02-install-rke2.sh
  assert_status 1
  assert_output_has 'checksum mismatch: rke2-images.linux-amd64.tar.zst'
  [ -z "$(calls_matching '^(sh|useradd) ')" ]
  [ ! -e "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.zst" ]
}

@test "a missing artifact fails the build, naming the file" {
  rm "$ART/rke2.linux-amd64.tar.gz"
  run_stage 02-install-rke2.sh
  assert_status 1
  assert_output_has 'missing artifact: rke2.linux-amd64.tar.gz'
  [ -z "$(calls_matching '^sh ')" ]
}

@test "an artifact without a checksum line fails the build" {
  grep -v 'rke2-images' "$ART/sha256sum-amd64.txt" >"$ART/sums" && mv "$ART/sums" "$ART/sha256sum-amd64.txt"
  run_stage 02-install-rke2.sh
  assert_status 1
  assert_output_has 'no checksum for rke2-images.linux-amd64.tar.zst in sha256sum-amd64.txt'
}

@test "the installer is verified when the checksum list has a line for it" {
  (cd "$ART" && sha256sum rke2-install.sh >>sha256sum-amd64.txt)
  printf 'echo evil\n' >>"$ART/rke2-install.sh"
  run_stage 02-install-rke2.sh
  assert_status 1
  assert_output_has 'checksum mismatch: rke2-install.sh'
}

@test "artifacts of another RKE2 release than k8s_version fail the build" {
  run_stage 02-install-rke2.sh K8S_VERSION=v1.29.9+rke2r1
  assert_status 1
  assert_output_has 'the artifacts in files/ are RKE2 v1.28.15+rke2r1 but k8s_version is v1.29.9+rke2r1'
  [ ! -e "$ROOT/etc/packer-build/rke2-version" ]
}

@test "an existing etcd user is kept" {
  printf 'etcd:x:998:998:etcd user:/nonexistent:/usr/sbin/nologin\n' >>"$ROOT/etc/passwd"
  run_stage 02-install-rke2.sh
  assert_status 0
  [ -z "$(calls_matching '^useradd ')" ]
}
