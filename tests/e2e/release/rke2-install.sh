#!/bin/sh
# The installer of the e2e build's stand-in release: get.rke2.io's airgap tar method as stage 02
# runs it (INSTALL_RKE2_ARTIFACT_PATH, INSTALL_RKE2_TAR_PREFIX, INSTALL_RKE2_AGENT_IMAGES_DIR):
# checks the tarballs against the release's sha256sum file, unpacks the binary and units under
# the prefix and stages the airgap images, with the installer's [INFO] lines.
set -e
info() { echo "[INFO]  $*"; }
fatal() {
  echo "[ERROR]  $*" >&2
  exit 1
}
src="${INSTALL_RKE2_ARTIFACT_PATH:?}"
prefix="${INSTALL_RKE2_TAR_PREFIX:?}"
images="${INSTALL_RKE2_AGENT_IMAGES_DIR:?}"
[ "${INSTALL_RKE2_METHOD:-tar}" = tar ] || fatal "only the tar method here"
sums="$src/sha256sum-amd64.txt"
info "staging local checksums from $sums"
info "staging zst airgap image tarball from $src/rke2-images.linux-amd64.tar.zst"
info "staging tarball from $src/rke2.linux-amd64.tar.gz"
check() {
  want="$(awk -v f="$1" '$2 == f { print $1 }' "$sums")"
  got="$(sha256sum "$src/$1" | cut -d' ' -f1)"
  [ "$want" = "$got" ] || fatal "download sha256 does not match $want, got $got"
}
info "verifying airgap tarball"
check rke2-images.linux-amd64.tar.zst
info "installing airgap tarball to $images"
mkdir -p "$images"
cp "$src/rke2-images.linux-amd64.tar.zst" "$images/"
info "verifying tarball"
check rke2.linux-amd64.tar.gz
info "unpacking tarball file to $prefix"
mkdir -p "$prefix"
tar xzf "$src/rke2.linux-amd64.tar.gz" -C "$prefix"
