#!/usr/bin/env bats
# Stage 03: parallel pre-pull into RKE2's containerd, TLS, failures recorded, strict mode.

load helpers

IMAGE_COUNT=13

setup() {
  setup_stage
  FAILS="$BATS_TEST_TMPDIR/fail-these"
  PULLED="$BATS_TEST_TMPDIR/pulled"
  : >"$FAILS"
  : >"$PULLED"
  stub_containerd containerd
  stub_ctr ctr
}

# containerd: remembers its pid and config, then runs until it is stopped
stub_containerd() {
  stub "$1" 'cp "$2" "'"$BATS_TEST_TMPDIR"'/containerd.toml"
printf "%s\n" "$$" >"'"$BATS_TEST_TMPDIR"'/containerd.pid"
exec "'"$REAL_SLEEP"'" 600'
}

# ctr: `version` answers once containerd is up; pulls fail for refs listed in $FAILS;
# `images ls` lists what was pulled
stub_ctr() {
  stub "$1" 'while [[ "$1" == --* ]]; do shift 2; done
case "$1 ${2:-}" in
  "version ") [[ -s "'"$BATS_TEST_TMPDIR"'/containerd.pid" ]] ;;
  "images pull")
    [[ "$3" == --hosts-dir ]] && cp -r "$4" "'"$BATS_TEST_TMPDIR"'/hosts.d"
    ref="${*: -1}"
    if grep -qxF "$ref" "'"$FAILS"'"; then echo "ctr: failed to resolve reference \"$ref\": not found" >&2; exit 1; fi
    printf "%s\n" "$ref" >>"'"$PULLED"'" ;;
  "images ls")
    printf "REF TYPE DIGEST SIZE PLATFORMS LABELS\n"
    while read -r r; do
      printf "%s application/vnd.oci.image.index.v1+json sha256:%s 12.0 MiB linux/amd64 -\n" "$r" "$(printf %s "$r" | sha256sum | cut -c1-64)"
    done <"'"$PULLED"'" ;;
esac'
}

images_in_script() {
  HARBOR_REGISTRY=harbor.vitro.lan bash -c 'source <(sed -n "/^IMAGES=(/,/^)/p" "$1"); printf "%s\n" "${IMAGES[@]}"' _ "$STAGES_DIR/03-prepull-images.sh"
}

assert_containerd_stopped() {
  local pid
  pid="$(cat "$BATS_TEST_TMPDIR/containerd.pid")"
  [ -n "$pid" ]
  if kill -0 "$pid" 2>/dev/null; then
    echo "containerd ($pid) is still running" >&2
    return 1
  fi
}

# run 03 with the stubs standing in for RKE2's own /var/lib/rancher/rke2/bin
run_prepull() {
  run_stage 03-prepull-images.sh RKE2_BIN_DIR="$STUBS" "$@"
}

@test "the IMAGES array keeps the one-quoted-image-per-line format the console parses" {
  block="$(sed -n '/^IMAGES=($/,/^)$/p' "$STAGES_DIR/03-prepull-images.sh")"
  [ "$(head -n1 <<<"$block")" = "IMAGES=(" ]
  [ "$(tail -n1 <<<"$block")" = ")" ]
  body="$(sed '1d;$d' <<<"$block")"
  [ "$(wc -l <<<"$body")" -eq "$IMAGE_COUNT" ]
  while IFS= read -r line; do
    [[ "$line" =~ ^\ \ \"\$\{HARBOR_REGISTRY\}/[a-z0-9./-]+:v[0-9][A-Za-z0-9.+-]*\"$ ]] || { echo "bad line: $line"; false; }
  done <<<"$body"
  for name in openstack-cloud-controller-manager cinder-csi-plugin csi-provisioner csi-attacher csi-resizer \
    csi-snapshotter csi-node-driver-registrar kube-vip cert-manager-controller cert-manager-webhook cert-manager-cainjector; do
    grep -q "/${name}:" <<<"$body" || { echo "missing $name"; false; }
  done
  # the array comes before any function: "at the top"
  [ "$(grep -n '^IMAGES=($' "$STAGES_DIR/03-prepull-images.sh" | cut -d: -f1)" -lt "$(grep -n '()' "$STAGES_DIR/03-prepull-images.sh" | head -n1 | cut -d: -f1)" ]
}

@test "pulls every image into namespace k8s.io, records digests, stops containerd" {
  run_prepull HARBOR_REGISTRY=harbor.vitro.lan
  assert_status 0
  [ "$(calls_matching '^ctr --address .* --namespace k8s.io images pull --hosts-dir ' | wc -l)" -eq "$IMAGE_COUNT" ]
  cut -d' ' -f1 "$ROOT/etc/packer-build/prepulled-images.txt" | diff - <(images_in_script)
  while read -r ref digest; do
    [ "$digest" = "sha256:$(printf %s "$ref" | sha256sum | cut -c1-64)" ]
  done <"$ROOT/etc/packer-build/prepulled-images.txt"
  [ ! -s "$ROOT/etc/packer-build/prepull-failures.txt" ]
  grep -qx "root = \"$ROOT/var/lib/rancher/rke2/agent/containerd\"" "$BATS_TEST_TMPDIR/containerd.toml"
  assert_containerd_stopped
  assert_output_has 'containerd stopped'
  assert_output_has "kiln:progress 15/15 13 of 13 images pre-pulled (0 failed)"
  [ "$(grep -c '^kiln:progress [0-9]*/15 pulled ' <<<"$output")" -eq "$IMAGE_COUNT" ]
  # nothing left behind in the image but the store and the records
  [ -z "$(find "$ROOT/tmp" -mindepth 1 -name 'kiln-prepull.*')" ]
}

@test "TLS is verified by default through a hosts.toml" {
  run_prepull HARBOR_REGISTRY=harbor.vitro.lan
  assert_status 0
  toml="$BATS_TEST_TMPDIR/hosts.d/harbor.vitro.lan/hosts.toml"
  grep -qx 'server = "https://harbor.vitro.lan"' "$toml"
  grep -qx '\[host."https://harbor.vitro.lan"\]' "$toml"
  [ "$(grep -c 'skip_verify' "$toml")" -eq 0 ]
  [ -z "$(calls_matching 'skip-verify')" ]
  refute_output_has 'kiln:warn'
}

@test "HARBOR_CA_FILE goes into hosts.toml; a missing CA file fails" {
  printf 'CA' >"$BATS_TEST_TMPDIR/harbor-ca.crt"
  run_prepull HARBOR_CA_FILE="$BATS_TEST_TMPDIR/harbor-ca.crt"
  assert_status 0
  grep -qx "  ca = \"$BATS_TEST_TMPDIR/harbor-ca.crt\"" "$BATS_TEST_TMPDIR/hosts.d/harbor.vitro.lan/hosts.toml"
  run_prepull HARBOR_CA_FILE="$BATS_TEST_TMPDIR/nope.crt"
  assert_status 1
  assert_output_has "HARBOR_CA_FILE $BATS_TEST_TMPDIR/nope.crt does not exist"
  assert_containerd_stopped
}

@test "HARBOR_INSECURE=true skips verification and says so" {
  run_prepull HARBOR_REGISTRY=registry.example:5000 HARBOR_INSECURE=true
  assert_status 0
  grep -qx '  skip_verify = true' "$BATS_TEST_TMPDIR/hosts.d/registry.example:5000/hosts.toml"
  assert_output_has 'kiln:warn HARBOR_INSECURE=true: TLS verification of registry.example:5000 is OFF'
  grep -q '^registry.example:5000/k8s/' "$ROOT/etc/packer-build/prepulled-images.txt"
}

@test "a failed pull is recorded and warned about, and the build goes on" {
  bad="harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0"
  printf '%s\n' "$bad" >"$FAILS"
  run_prepull
  assert_status 0
  grep -qxF "$bad" "$ROOT/etc/packer-build/prepull-failures.txt"
  assert_output_has "kiln:warn prepull-failed $bad"
  assert_output_has 'failed to resolve reference'
  [ "$(grep -c "kiln:warn prepull-failed" <<<"$output")" -eq 1 ]
  [ "$(wc -l <"$ROOT/etc/packer-build/prepulled-images.txt")" -eq $((IMAGE_COUNT - 1)) ]
  [ "$(grep -cF "$bad" "$ROOT/etc/packer-build/prepulled-images.txt")" -eq 0 ]
  assert_output_has "12 of 13 images pre-pulled (1 failed)"
  assert_containerd_stopped
}

@test "failures are appended to an existing prepull-failures.txt" {
  mkdir -p "$ROOT/etc/packer-build"
  printf 'earlier/image:v1\n' >"$ROOT/etc/packer-build/prepull-failures.txt"
  printf '%s\n' "harbor.vitro.lan/k8s/sig-storage/csi-resizer:v1.11.1" >"$FAILS"
  run_prepull
  assert_status 0
  [ "$(cat "$ROOT/etc/packer-build/prepull-failures.txt")" = "$(printf 'earlier/image:v1\nharbor.vitro.lan/k8s/sig-storage/csi-resizer:v1.11.1')" ]
}

@test "PREPULL_STRICT=true fails the build on a failed pull, still stopping containerd" {
  printf '%s\n' "harbor.vitro.lan/k8s/jetstack/cert-manager-webhook:v1.14.5" >"$FAILS"
  run_prepull PREPULL_STRICT=true
  assert_status 1
  assert_output_has 'PREPULL_STRICT=true and 1 pull(s) failed: harbor.vitro.lan/k8s/jetstack/cert-manager-webhook:v1.14.5'
  grep -qxF "harbor.vitro.lan/k8s/jetstack/cert-manager-webhook:v1.14.5" "$ROOT/etc/packer-build/prepull-failures.txt"
  assert_containerd_stopped
  assert_output_has 'containerd stopped'
}

@test "pulls run in parallel: the first pull waits for the fourth to start" {
  # The first image's pull blocks on a FIFO that only the fourth image's pull writes to. Serial
  # pulls would never get there: the guard times the first pull out and the test fails.
  mkfifo "$BATS_TEST_TMPDIR/go"
  first="$(images_in_script | sed -n 1p)"
  fourth="$(images_in_script | sed -n 4p)"
  stub ctr-inner "$(sed -n '3,$p' "$STUBS/ctr")"
  stub ctr 'ref="${*: -1}"
if [[ "$ref" == "'"$first"'" ]]; then exec 5<>"'"$BATS_TEST_TMPDIR/go"'"; read -r -t 20 -u 5 _ || exit 1; fi
if [[ "$ref" == "'"$fourth"'" ]]; then exec 5<>"'"$BATS_TEST_TMPDIR/go"'"; printf "go\n" >&5; fi
exec "'"$STUBS/ctr-inner"'" "$@"'
  run_prepull PREPULL_JOBS=4
  assert_status 0
  [ ! -s "$ROOT/etc/packer-build/prepull-failures.txt" ]
  [ "$(wc -l <"$ROOT/etc/packer-build/prepulled-images.txt")" -eq "$IMAGE_COUNT" ]
}

@test "PREPULL_JOBS=1 pulls one at a time in list order" {
  run_prepull PREPULL_JOBS=1
  assert_status 0
  diff "$PULLED" <(images_in_script)
}

@test "a bad PREPULL_JOBS fails before anything starts" {
  run_prepull PREPULL_JOBS=zero
  assert_status 1
  assert_output_has "PREPULL_JOBS must be a positive integer"
  [ -z "$(calls_matching '^containerd ')" ]
}

@test "without /var/lib/rancher/rke2/bin, RKE2's containerd and ctr come out of the airgap tarball" {
  rm "$STUBS/containerd" "$STUBS/ctr"
  layer="$BATS_TEST_TMPDIR/layer"
  mkdir -p "$layer/bin" "$BATS_TEST_TMPDIR/archive/abc123"
  stub_containerd containerd
  stub_ctr ctr
  sed 's/^printf .%s\\n. "containerd /printf "%s\\n" "rke2-containerd /' "$STUBS/containerd" >"$layer/bin/containerd"
  sed 's/^printf .%s\\n. "ctr /printf "%s\\n" "rke2-ctr /' "$STUBS/ctr" >"$layer/bin/ctr"
  chmod +x "$layer/bin/containerd" "$layer/bin/ctr"
  rm "$STUBS/containerd" "$STUBS/ctr"
  tar -C "$layer" -cf "$BATS_TEST_TMPDIR/archive/abc123/layer.tar" bin
  printf '[{"Config":"c.json","RepoTags":["docker.io/rancher/rke2-runtime:v1.28.15-rke2r1"],"Layers":["abc123/layer.tar"]},{"Config":"d.json","RepoTags":["docker.io/rancher/pause:3.6"],"Layers":["zzz/layer.tar"]}]' \
    >"$BATS_TEST_TMPDIR/archive/manifest.json"
  mkdir -p "$ROOT/var/lib/rancher/rke2/agent/images"
  tar -C "$BATS_TEST_TMPDIR/archive" -czf "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.gz" manifest.json abc123
  run_stage 03-prepull-images.sh
  assert_status 0
  [ "$(calls_matching '^rke2-containerd --config ' | wc -l)" -eq 1 ]
  [ "$(calls_matching '^rke2-ctr .* images pull ' | wc -l)" -eq "$IMAGE_COUNT" ]
  [ -x "$ROOT/tmp/kiln-rke2-runtime/bin/ctr" ]
  refute_output_has "using containerd from PATH"
  assert_containerd_stopped
}

@test "RKE2's own bin directory wins when it exists" {
  mkdir -p "$ROOT/var/lib/rancher/rke2/bin"
  sed 's/^printf .%s\\n. "containerd /printf "%s\\n" "rke2-containerd /' "$STUBS/containerd" >"$ROOT/var/lib/rancher/rke2/bin/containerd"
  sed 's/^printf .%s\\n. "ctr /printf "%s\\n" "rke2-ctr /' "$STUBS/ctr" >"$ROOT/var/lib/rancher/rke2/bin/ctr"
  chmod +x "$ROOT/var/lib/rancher/rke2/bin/"*
  run_stage 03-prepull-images.sh
  assert_status 0
  [ -n "$(calls_matching '^rke2-containerd --config ')" ]
  [ -z "$(calls_matching '^containerd ')" ]
}

@test "with neither RKE2's runtime nor a tarball, containerd on PATH is used with a warning" {
  run_stage 03-prepull-images.sh
  assert_status 0
  assert_output_has "kiln:warn RKE2's runtime not found; using containerd from PATH ($STUBS/containerd)"
}

@test "with no containerd at all the stage fails clearly" {
  rm "$STUBS/containerd" "$STUBS/ctr"
  run_stage 03-prepull-images.sh
  assert_status 1
  assert_output_has "no containerd: neither $ROOT/var/lib/rancher/rke2/bin nor an airgap tarball"
}
