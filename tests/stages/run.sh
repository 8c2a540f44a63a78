#!/usr/bin/env bash
# All checks of the image pipeline: shellcheck, packer fmt/validate (offline), bats.
# Run from the repository root:  tests/stages/run.sh
# Needs: shellcheck, packer (Debian's 1.6.6 or newer), bats, jq (apt-get install shellcheck packer bats jq).
set -uo pipefail

if [[ ! -f stages/rke2-node.pkr.hcl || ! -d tests/stages ]]; then
  echo "run.sh: run me from the repository root (tests/stages/run.sh)" >&2
  exit 2
fi

missing=()
for tool in shellcheck packer bats jq; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "run.sh: missing tool(s): ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
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

step "shellcheck stages/*.sh tests/stages/*.sh" shellcheck -S style stages/*.sh tests/stages/*.sh
step "shellcheck tests/stages/*.bash" shellcheck -S style -s bash tests/stages/*.bash
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
