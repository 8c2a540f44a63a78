#!/usr/bin/env bash
# Re-record the real openstack transcripts (openstack-{success,failed,cancelled}.log/.exit in this
# directory) with the end-to-end build (tests/e2e_build.rs: kiln build runs Debian's packer 1.6.6
# on the real template and stage scripts against kiln's simulator, a local sshd as the build VM),
# then derive the demo's transcripts from them (make-demo.py: timestamps stretched to a ~12 minute
# build, every line's text kept).
#
# Needs what tests/e2e_build.rs needs (packer, sshd, scp, jq, zstd) and python3. About a minute
# with a warm target/. Usage: tests/data/packer/record-demo.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$(mktemp -d /tmp/kiln-record-demo.XXXXXX)
trap 'rm -rf "$out"' EXIT

(cd "$repo" && KILN_E2E_RECORD="$out" cargo test --locked --test e2e_build)
for name in success failed cancelled; do
  cp "$out/$name.log" "$here/openstack-$name.log"
  cp "$out/$name.exit" "$here/openstack-$name.exit"
done
python3 "$here/make-demo.py" "$here"
echo "record-demo.sh: openstack-*.log recorded, src/demo/transcripts/ derived" >&2
