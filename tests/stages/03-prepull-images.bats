#!/usr/bin/env bats
# Stage 03 with stub containerd/ctr: the pinned list format, parallel and bounded pulls, upstream
# tags and pinned labels, TLS settings, failures, strict mode, reruns, registries.yaml.
# 03-prepull-real.bats runs the same script against a real containerd and registry.

load helpers

IMAGE_COUNT=14
STEPS=5 # start, pulls, record, registries.yaml, finish (plus one progress line per image)
TOTAL=$((IMAGE_COUNT + STEPS))

setup() {
  setup_stage
  FAILS="$BATS_TEST_TMPDIR/fail-these"
  PULLED="$BATS_TEST_TMPDIR/pulled"
  TAGS="$BATS_TEST_TMPDIR/tags"
  : >"$FAILS"
  : >"$PULLED"
  : >"$TAGS"
  stub_containerd containerd
  stub_ctr ctr
}

# containerd: remembers its pid and config, then runs until it is stopped
stub_containerd() {
  stub "$1" 'cp "$2" "'"$BATS_TEST_TMPDIR"'/containerd.toml"
printf "%s\n" "$$" >"'"$BATS_TEST_TMPDIR"'/containerd.pid"
exec "'"$REAL_SLEEP"'" 600'
}

# ctr: `version` answers once containerd is up; pulls fail for refs listed in $FAILS; tags are
# remembered; `images ls` lists pulled refs and tags (digest = sha256 of the pulled ref)
stub_ctr() {
  stub "$1" 'while [[ "$1" == --* ]]; do shift 2; done
case "$1 ${2:-}" in
  "version ") [[ -s "'"$BATS_TEST_TMPDIR"'/containerd.pid" ]] ;;
  "images pull")
    [[ "$3" == --hosts-dir ]] && cp -r "$4" "'"$BATS_TEST_TMPDIR"'/hosts.d"
    ref="${*: -1}"
    if grep -qxF "$ref" "'"$FAILS"'"; then echo "ctr: failed to resolve reference \"$ref\": not found" >&2; exit 1; fi
    printf "%s\n" "$ref" >>"'"$PULLED"'" ;;
  "images tag") printf "%s %s\n" "$5" "$4" >>"'"$TAGS"'" ;;
  "images label") ;;
  "images ls")
    printf "REF TYPE DIGEST SIZE PLATFORMS LABELS\n"
    while read -r r; do
      printf "%s application/vnd.oci.image.index.v1+json sha256:%s 12.0 MiB linux/amd64 io.cri-containerd.pinned=pinned\n" "$r" "$(printf %s "$r" | sha256sum | cut -c1-64)"
    done <"'"$PULLED"'"
    while read -r t r; do
      printf "%s application/vnd.oci.image.index.v1+json sha256:%s 12.0 MiB linux/amd64 io.cri-containerd.pinned=pinned\n" "$t" "$(printf %s "$r" | sha256sum | cut -c1-64)"
    done <"'"$TAGS"'" ;;
esac'
}

# the list as the console reads it: "<upstream> <harbor path>" per line, no shell involved
pinned() {
  sed -n '/^IMAGES=($/,/^)$/p' "$STAGES_DIR/03-prepull-images.sh" | sed '1d;$d' | sed 's/^  "//; s/"$//'
}
harbor_refs() { pinned | awk '{ print "harbor.vitro.lan/" $2 }'; }

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

@test "the IMAGES array: one line per image, upstream name and Harbor path, readable without a shell" {
  block="$(sed -n '/^IMAGES=($/,/^)$/p' "$STAGES_DIR/03-prepull-images.sh")"
  [ "$(head -n1 <<<"$block")" = "IMAGES=(" ]
  [ "$(tail -n1 <<<"$block")" = ")" ]
  body="$(sed '1d;$d' <<<"$block")"
  [ "$(wc -l <<<"$body")" -eq "$IMAGE_COUNT" ]
  while IFS= read -r line; do
    [[ "$line" =~ ^\ \ \"([a-z0-9.-]+\.[a-z]+/[a-z0-9./-]+:v[0-9][A-Za-z0-9.+-]*)\ (k8s/[a-z0-9./-]+:v[0-9][A-Za-z0-9.+-]*)\"$ ]] || { echo "bad line: $line"; false; }
    up="${BASH_REMATCH[1]}" path="${BASH_REMATCH[2]}"
    # Harbor mirrors the upstream path under its k8s project, same tag
    [ "${path#k8s/}" = "${up#*/}" ] || { echo "harbor path does not mirror upstream: $line"; false; }
  done <<<"$body"
  for name in openstack-cloud-controller-manager cinder-csi-plugin csi-provisioner csi-attacher csi-resizer \
    csi-snapshotter snapshot-controller csi-node-driver-registrar livenessprobe kube-vip cert-manager-controller \
    cert-manager-webhook cert-manager-cainjector cert-manager-startupapicheck; do
    grep -q "/${name}:" <<<"$body" || { echo "missing $name"; false; }
  done
  # the array comes before any function: "at the top"
  [ "$(grep -n '^IMAGES=($' "$STAGES_DIR/03-prepull-images.sh" | cut -d: -f1)" -lt "$(grep -n '()' "$STAGES_DIR/03-prepull-images.sh" | head -n1 | cut -d: -f1)" ]
  # the lib's reader (used by 07) and the console's reading agree
  diff <(pinned) <(bash -c 'source "$1/lib/common.sh"; pinned_images "$1/03-prepull-images.sh"' _ "$STAGES_DIR")
}

@test "pulls every image into k8s.io, tags the upstream name, pins both, records digests, stops containerd" {
  run_prepull HARBOR_REGISTRY=harbor.vitro.lan
  assert_status 0
  [ "$(calls_matching '^ctr --address .* --namespace k8s.io images pull --hosts-dir .* --label io.cri-containerd.pinned=pinned ' | wc -l)" -eq "$IMAGE_COUNT" ]
  while read -r up path; do
    grep -qxF "ctr --address $ROOT/run/kiln-ctd.XXXXXX/sock --namespace k8s.io images tag --force harbor.vitro.lan/$path $up" \
      <(sed -E 's#kiln-ctd\.[A-Za-z0-9]{6}#kiln-ctd.XXXXXX#' "$CALLS")
    [ "$(calls_matching "images label $up io.cri-containerd.pinned=pinned\$" | wc -l)" -eq 1 ]
    [ "$(calls_matching "images label harbor.vitro.lan/$path io.cri-containerd.pinned=pinned\$" | wc -l)" -eq 1 ]
  done < <(pinned)
  cut -d' ' -f1 "$ROOT/etc/packer-build/prepulled-images.txt" | diff - <(harbor_refs)
  cut -d' ' -f3 "$ROOT/etc/packer-build/prepulled-images.txt" | diff - <(pinned | cut -d' ' -f1)
  while read -r ref digest _; do
    [ "$digest" = "sha256:$(printf %s "$ref" | sha256sum | cut -c1-64)" ]
  done <"$ROOT/etc/packer-build/prepulled-images.txt"
  [ -f "$ROOT/etc/packer-build/prepull-failures.txt" ]
  [ ! -s "$ROOT/etc/packer-build/prepull-failures.txt" ]
  grep -qx "root = \"$ROOT/var/lib/rancher/rke2/agent/containerd\"" "$BATS_TEST_TMPDIR/containerd.toml"
  assert_containerd_stopped
  assert_output_has 'containerd stopped'
  assert_output_has "kiln:progress 17/${TOTAL} ${IMAGE_COUNT} of ${IMAGE_COUNT} images pre-pulled (0 failed)"
  assert_output_has "kiln:progress ${TOTAL}/${TOTAL} containerd stopped; records in /etc/packer-build"
  [ "$(grep -c "^kiln:progress [0-9]*/${TOTAL} pulled " <<<"$output")" -eq "$IMAGE_COUNT" ]
  # nothing left behind in the image but the store and the records
  [ -z "$(find "$ROOT/run" -mindepth 1)" ]
  [ ! -e "$ROOT/etc/rancher/rke2/registries.yaml" ]
  # the list this run used, for the gate (07)
  cmp "$STAGES_DIR/03-prepull-images.sh" "$ROOT/var/lib/kiln-build/pinned-images.sh"
}

@test "the standalone containerd does not probe unused snapshotters nor run CRI" {
  run_prepull
  assert_status 0
  line="$(grep '^disabled_plugins' "$BATS_TEST_TMPDIR/containerd.toml")"
  for p in io.containerd.grpc.v1.cri io.containerd.snapshotter.v1.aufs io.containerd.snapshotter.v1.btrfs \
    io.containerd.snapshotter.v1.devmapper io.containerd.snapshotter.v1.zfs; do
    [[ "$line" == *"\"$p\""* ]] || { echo "$p not disabled: $line"; false; }
  done
  [[ "$line" != *overlayfs* ]]
}

@test "TLS is verified by default: the endpoint is a [host] and the server fallback, no skip_verify" {
  run_prepull HARBOR_REGISTRY=harbor.vitro.lan
  assert_status 0
  toml="$BATS_TEST_TMPDIR/hosts.d/harbor.vitro.lan/hosts.toml"
  grep -qx 'server = "https://harbor.vitro.lan"' "$toml"
  grep -qx '\[host."https://harbor.vitro.lan"\]' "$toml"
  [ "$(grep -c 'skip_verify' "$toml")" -eq 0 ]
  [ -z "$(calls_matching 'skip-verify')" ]
  refute_output_has 'kiln:warn'
}

@test "HARBOR_CA_FILE is given to the [host] AND to the server fallback; a missing CA file fails" {
  printf 'CA' >"$BATS_TEST_TMPDIR/harbor-ca.crt"
  run_prepull HARBOR_CA_FILE="$BATS_TEST_TMPDIR/harbor-ca.crt"
  assert_status 0
  toml="$BATS_TEST_TMPDIR/hosts.d/harbor.vitro.lan/hosts.toml"
  # before the first table: the server's own ca (containerd falls back to server after a 404)
  [ "$(sed -n '1,/^\[/p' "$toml" | grep -cx "ca = \"$BATS_TEST_TMPDIR/harbor-ca.crt\"")" -eq 1 ]
  [ "$(sed -n '/^\[host/,$p' "$toml" | grep -cx "  ca = \"$BATS_TEST_TMPDIR/harbor-ca.crt\"")" -eq 1 ]
  run_prepull HARBOR_CA_FILE="$BATS_TEST_TMPDIR/nope.crt"
  assert_status 1
  assert_output_has "HARBOR_CA_FILE $BATS_TEST_TMPDIR/nope.crt does not exist"
  assert_containerd_stopped
}

@test "HARBOR_INSECURE=true skips verification everywhere and says so" {
  run_prepull HARBOR_REGISTRY=registry.example:5000 HARBOR_INSECURE=true
  assert_status 0
  toml="$BATS_TEST_TMPDIR/hosts.d/registry.example:5000/hosts.toml"
  grep -qx 'skip_verify = true' "$toml"
  grep -qx '  skip_verify = true' "$toml"
  assert_output_has 'kiln:warn HARBOR_INSECURE=true: TLS verification of registry.example:5000 is OFF'
  grep -q '^registry.example:5000/k8s/' "$ROOT/etc/packer-build/prepulled-images.txt"
}

@test "a failed pull is recorded and warned about, and the build goes on" {
  bad="harbor.vitro.lan/k8s/kube-vip/kube-vip:v0.8.0"
  printf '%s\n' "$bad" >"$FAILS"
  run_prepull
  assert_status 0
  [ "$(cat "$ROOT/etc/packer-build/prepull-failures.txt")" = "$bad" ]
  assert_output_has "kiln:warn prepull-failed $bad"
  assert_output_has 'failed to resolve reference'
  [ "$(grep -c "kiln:warn prepull-failed" <<<"$output")" -eq 1 ]
  [ "$(wc -l <"$ROOT/etc/packer-build/prepulled-images.txt")" -eq $((IMAGE_COUNT - 1)) ]
  [ "$(grep -cF "$bad" "$ROOT/etc/packer-build/prepulled-images.txt")" -eq 0 ]
  # the retry policy: PREPULL_ATTEMPTS (2) attempts of the failing image
  [ "$(calls_matching "images pull .* $bad\$" | wc -l)" -eq 2 ]
  assert_output_has "$((IMAGE_COUNT - 1)) of ${IMAGE_COUNT} images pre-pulled (1 failed)"
  assert_containerd_stopped
}

@test "each run starts clean: a good rerun leaves no failure from the run before" {
  mkdir -p "$ROOT/etc/packer-build"
  printf 'earlier/image:v1\n' >"$ROOT/etc/packer-build/prepull-failures.txt"
  printf 'earlier/image:v1 sha256:00\n' >"$ROOT/etc/packer-build/prepulled-images.txt"
  printf '%s\n' "harbor.vitro.lan/k8s/sig-storage/csi-resizer:v1.11.1" >"$FAILS"
  run_prepull
  assert_status 0
  [ "$(cat "$ROOT/etc/packer-build/prepull-failures.txt")" = "harbor.vitro.lan/k8s/sig-storage/csi-resizer:v1.11.1" ]
  : >"$FAILS"
  run_prepull
  assert_status 0
  [ ! -s "$ROOT/etc/packer-build/prepull-failures.txt" ]
  [ "$(wc -l <"$ROOT/etc/packer-build/prepulled-images.txt")" -eq "$IMAGE_COUNT" ]
  [ "$(grep -c earlier "$ROOT/etc/packer-build/prepulled-images.txt")" -eq 0 ]
}

@test "a hung pull is killed after PREPULL_TIMEOUT, retried, then recorded as failed" {
  hung="harbor.vitro.lan/k8s/sig-storage/livenessprobe:v2.13.1"
  stub ctr-inner "$(sed -n '3,$p' "$STUBS/ctr")"
  stub ctr 'if [[ "${*: -1}" == "'"$hung"'" && "$*" == *"images pull"* ]]; then exec "'"$REAL_SLEEP"'" 600; fi
exec "'"$STUBS/ctr-inner"'" "$@"'
  run_prepull PREPULL_TIMEOUT=1
  assert_status 0
  grep -qxF "$hung" "$ROOT/etc/packer-build/prepull-failures.txt"
  [ "$(calls_matching "^ctr .*images pull .* $hung\$" | wc -l)" -eq 2 ]
  assert_output_has "pull of $hung timed out after 1s (attempt 2/2)"
  assert_output_has "kiln:warn prepull-failed $hung"
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

@test "nothing pulled fails the stage even when not strict" {
  harbor_refs >"$FAILS"
  run_prepull
  assert_status 1
  assert_output_has "none of the ${IMAGE_COUNT} images could be pulled from harbor.vitro.lan"
  assert_containerd_stopped
}

@test "pulls run in parallel: the first pull waits for the fourth to start" {
  # The first image's pull blocks on a FIFO that only the fourth image's pull writes to. Serial
  # pulls would never get there: the guard times the first pull out and the test fails.
  mkfifo "$BATS_TEST_TMPDIR/go"
  first="$(harbor_refs | sed -n 1p)"
  fourth="$(harbor_refs | sed -n 4p)"
  stub ctr-inner "$(sed -n '3,$p' "$STUBS/ctr")"
  stub ctr 'ref="${*: -1}"
if [[ "$*" == *"images pull"* && "$ref" == "'"$first"'" ]]; then exec 5<>"'"$BATS_TEST_TMPDIR/go"'"; read -r -t 20 -u 5 _ || exit 1; fi
if [[ "$*" == *"images pull"* && "$ref" == "'"$fourth"'" ]]; then exec 5<>"'"$BATS_TEST_TMPDIR/go"'"; printf "go\n" >&5; fi
exec "'"$STUBS/ctr-inner"'" "$@"'
  run_prepull PREPULL_JOBS=4 PREPULL_ATTEMPTS=1
  assert_status 0
  [ ! -s "$ROOT/etc/packer-build/prepull-failures.txt" ]
  [ "$(wc -l <"$ROOT/etc/packer-build/prepulled-images.txt")" -eq "$IMAGE_COUNT" ]
}

@test "PREPULL_JOBS=1 pulls one at a time in list order" {
  run_prepull PREPULL_JOBS=1
  assert_status 0
  diff "$PULLED" <(harbor_refs)
}

@test "bad PREPULL_JOBS / PREPULL_TIMEOUT / PREPULL_ATTEMPTS fail before anything starts" {
  for v in PREPULL_JOBS=zero PREPULL_TIMEOUT=-1 PREPULL_ATTEMPTS=0; do
    run_prepull "$v"
    assert_status 1
    assert_output_has "${v%%=*} must be a positive integer"
  done
  [ -z "$(calls_matching '^containerd ')" ]
}

@test "RKE2_REGISTRY_MIRROR=true writes registries.yaml: upstream names through Harbor, CA, no credentials" {
  printf 'CA' >"$BATS_TEST_TMPDIR/harbor-ca.crt"
  run_prepull RKE2_REGISTRY_MIRROR=true HARBOR_CA_FILE="$BATS_TEST_TMPDIR/harbor-ca.crt"
  assert_status 0
  y="$ROOT/etc/rancher/rke2/registries.yaml"
  [ "$(stat -c %a "$y")" = 600 ]
  for registry in registry.k8s.io ghcr.io quay.io; do
    grep -qx "  \"$registry\":" "$y"
  done
  [ "$(grep -c '      - "https://harbor.vitro.lan"' "$y")" -eq 3 ]
  grep -qx '      "^provider-os/cinder-csi-plugin$": "k8s/provider-os/cinder-csi-plugin"' "$y"
  grep -qx '      "^jetstack/cert-manager-webhook$": "k8s/jetstack/cert-manager-webhook"' "$y"
  [ "$(grep -c '": "k8s/' "$y")" -eq "$IMAGE_COUNT" ]
  grep -qx '      ca_file: /etc/rancher/rke2/harbor-ca.crt' "$y"
  cmp "$BATS_TEST_TMPDIR/harbor-ca.crt" "$ROOT/etc/rancher/rke2/harbor-ca.crt"
  [ "$(grep -ciE 'auth|username|password|token' "$y")" -eq 0 ]
  assert_output_has 'wrote /etc/rancher/rke2/registries.yaml (mirror: harbor.vitro.lan)'
}

# an RKE2-style airgap tarball at $2 whose rke2-runtime image carries the stubs renamed $1-containerd/$1-ctr
airgap_tarball() {
  local prefix="$1" out="$2" layer="$BATS_TEST_TMPDIR/layer" archive="$BATS_TEST_TMPDIR/archive"
  mkdir -p "$layer/bin" "$archive/abc123" "$(dirname "$out")"
  sed "s/^printf .%s\\\\n. \"containerd /printf \"%s\\\\n\" \"${prefix}-containerd /" "$STUBS/containerd" >"$layer/bin/containerd"
  sed "s/^printf .%s\\\\n. \"ctr /printf \"%s\\\\n\" \"${prefix}-ctr /" "$STUBS/ctr" >"$layer/bin/ctr"
  chmod +x "$layer/bin/containerd" "$layer/bin/ctr"
  tar -C "$layer" -cf "$archive/abc123/layer.tar" bin
  printf '[{"Config":"c.json","RepoTags":["docker.io/rancher/rke2-runtime:v1.28.15-rke2r1"],"Layers":["abc123/layer.tar"]},{"Config":"d.json","RepoTags":["docker.io/rancher/pause:3.6"],"Layers":["zzz/layer.tar"]}]' \
    >"$archive/manifest.json"
  case "$out" in
    *.gz) tar -C "$archive" -czf "$out" manifest.json abc123 ;;
    *.zst) tar -C "$archive" -cf - manifest.json abc123 | zstd -q -o "$out" ;;
  esac
}

@test "without /var/lib/rancher/rke2/bin, RKE2's containerd and ctr come out of the airgap tarball, cached outside /tmp" {
  airgap_tarball rke2 "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images.linux-amd64.tar.gz"
  rm "$STUBS/containerd" "$STUBS/ctr"
  run_stage 03-prepull-images.sh
  assert_status 0
  [ "$(calls_matching '^rke2-containerd --config ' | wc -l)" -eq 1 ]
  [ "$(calls_matching '^rke2-ctr .* images pull ' | wc -l)" -eq "$IMAGE_COUNT" ]
  [ -x "$ROOT/var/lib/kiln-build/rke2-runtime/bin/ctr" ]
  [ -z "$(find "$ROOT/tmp" -mindepth 1)" ]
  refute_output_has "using containerd from PATH"
  assert_containerd_stopped
}

@test "split airgap tarballs: the runtime is found in rke2-images-core, not in the CNI tarball" {
  mkdir -p "$ROOT/var/lib/rancher/rke2/agent/images" "$BATS_TEST_TMPDIR/cni"
  printf '[{"Config":"x.json","RepoTags":["docker.io/rancher/hardened-calico:v3.28"],"Layers":["y/layer.tar"]}]' >"$BATS_TEST_TMPDIR/cni/manifest.json"
  tar -C "$BATS_TEST_TMPDIR/cni" -cf - manifest.json | zstd -q -o "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images-canal.linux-amd64.tar.zst"
  airgap_tarball rke2 "$ROOT/var/lib/rancher/rke2/agent/images/rke2-images-core.linux-amd64.tar.zst"
  rm "$STUBS/containerd" "$STUBS/ctr"
  run_stage 03-prepull-images.sh
  assert_status 0
  assert_output_has 'RKE2 runtime read from /var/lib/rancher/rke2/agent/images/rke2-images-core.linux-amd64.tar.zst'
  [ "$(calls_matching '^rke2-ctr .* images pull ' | wc -l)" -eq "$IMAGE_COUNT" ]
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
  assert_output_has "no containerd: neither $ROOT/var/lib/rancher/rke2/bin nor an rke2-runtime image in an airgap tarball"
}
