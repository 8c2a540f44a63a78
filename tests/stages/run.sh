#!/usr/bin/env bash
# All checks of the image pipeline: shellcheck, packer fmt/validate (offline), bats: the stub
# suites (NN-*.bats), the real-containerd suite (03-prepull-real.bats: containerd, registry,
# skopeo on loopback) and the real-packer template test (template-secrets.bats: sshd, sudo).
# Run from the repository root as root:  tests/stages/run.sh
# Needs (Debian packages; .ci/run installs them): shellcheck packer bats jq containerd
# docker-registry skopeo openssl curl zstd python3 sudo openssh-server openssh-client.
set -uo pipefail

if [[ ! -f stages/rke2-node.pkr.hcl || ! -d tests/stages ]]; then
  echo "run.sh: run me from the repository root (tests/stages/run.sh)" >&2
  exit 2
fi

# tool -> Debian package
declare -A pkg=([shellcheck]=shellcheck [packer]=packer [bats]=bats [jq]=jq [containerd]=containerd
  [ctr]=containerd [docker-registry]=docker-registry [skopeo]=skopeo [openssl]=openssl [curl]=curl
  [zstd]=zstd [python3]=python3 [sudo]=sudo [sshd]=openssh-server [ssh-keygen]=openssh-client)
missing=()
for tool in "${!pkg[@]}"; do
  command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] || missing+=("${pkg[$tool]}")
done
if ((${#missing[@]})); then
  echo "run.sh: missing: apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')(.ci/run installs them)" >&2
  exit 2
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "run.sh: run me as root: the real-containerd and real-packer suites start containerd (overlayfs mounts), sshd and sudo" >&2
  exit 2
fi

export CHECKPOINT_DISABLE=1 # no network for Packer's version check
failed=()
step() {
  local name="$1"
  shift
  printf '==> %s\n' "$name"
  if "$@"; then
    printf '    ok\n'
  else
    printf '    FAILED: %s\n' "$name" >&2
    failed+=("$name")
  fi
}

step "shellcheck stages/*.sh stages/lib/*.sh tests/stages/*.sh tests/stages/bench/*.sh" \
  shellcheck -x -S style stages/*.sh stages/lib/*.sh tests/stages/*.sh tests/stages/bench/*.sh
step "shellcheck tests/stages/*.bash" shellcheck -x -S style -s bash tests/stages/*.bash
# stubs are single-quoted shell on purpose (SC2016 and friends): warnings and worse only
step "shellcheck tests/stages/*.bats" shellcheck -S warning tests/stages/*.bats
step "packer fmt -check stages" packer fmt -check stages
step "packer validate -syntax-only stages/rke2-node.pkr.hcl" packer validate -syntax-only stages/rke2-node.pkr.hcl
step "bats tests/stages" bats tests/stages

if ((${#failed[@]})); then
  printf '\n%d check(s) failed:\n' "${#failed[@]}" >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nall stage checks passed\n'
