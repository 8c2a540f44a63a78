# Shared setup for the stage tests (loaded with `load helpers`).
# shellcheck disable=SC2034,SC2154 # variables shared with the .bats files; bats sets status/output
#
# Every stage runs under `env -i` with PATH = a stub directory, then a directory of symlinks to a
# whitelist of harmless tools. A command that is neither stubbed nor whitelisted is "not found",
# so a stage can never reach the host (systemctl, apt-get, modprobe, ... are always stubs), and
# every file a stage writes lands under TARGET_ROOT, a temporary directory.

STAGES_DIR="$(cd "${BATS_TEST_DIRNAME}/../../stages" && pwd)"
SAFE_TOOLS=(awk basename cat chmod cmp cp cut dirname env find grep gzip head jq ls mkdir mkfifo
  mktemp mv rm sed seq sha256sum sleep sort stat tail tar tee touch tr truncate uniq wc xargs zstd
  install ln timeout du id uname date)

setup_stage() {
  ROOT="${BATS_TEST_TMPDIR}/root"
  STUBS="${BATS_TEST_TMPDIR}/stubs"
  SAFE="${BATS_TEST_TMPDIR}/safe"
  CALLS="${BATS_TEST_TMPDIR}/calls.log"
  BASH_BIN="$(command -v bash)"
  REAL_SLEEP="$(command -v sleep)"
  mkdir -p "$ROOT/etc" "$ROOT/tmp" "$STUBS" "$SAFE"
  : >"$CALLS"
  local tool
  for tool in "${SAFE_TOOLS[@]}"; do
    if command -v "$tool" >/dev/null; then
      ln -sf "$(command -v "$tool")" "$SAFE/$tool"
    fi
  done
  ln -sf "$BASH_BIN" "$SAFE/bash"
}

# stub NAME [BODY]: a command that logs "NAME ARGS..." to $CALLS, then runs BODY (default: exit 0).
# BODY sees the arguments as "$@".
stub() {
  local name="$1" body="${2:-exit 0}"
  cat >"${STUBS}/${name}" <<STUB
#!${BASH_BIN}
printf '%s\n' "${name} \$*" >>"${CALLS}"
${body}
STUB
  chmod +x "${STUBS}/${name}"
}

# run_stage SCRIPT [VAR=VALUE...]: run a stage with a clean environment.
run_stage() {
  local script="$1"
  shift
  run env -i PATH="${STUBS}:${SAFE}" TARGET_ROOT="${ROOT}" HOME="${ROOT}/root" "$@" \
    "$BASH_BIN" "${STAGES_DIR}/${script}"
}

# calls_matching REGEX: the logged calls matching REGEX, one per line
calls_matching() {
  grep -E "$1" "$CALLS" || true
}

# assert_order A B ...: each pattern matches a logged call, in this order
assert_order() {
  local pattern line last=0
  for pattern in "$@"; do
    line="$(grep -nE "$pattern" "$CALLS" | head -n1 | cut -d: -f1)"
    if [[ -z "$line" ]]; then
      printf 'no call matches %s\n--- calls ---\n' "$pattern" >&2
      cat "$CALLS" >&2
      return 1
    fi
    if ((line <= last)); then
      printf '%s (line %s) is not after the previous call (line %s)\n--- calls ---\n' "$pattern" "$line" "$last" >&2
      cat "$CALLS" >&2
      return 1
    fi
    last="$line"
  done
}

# assert_output_has TEXT / refute_output_has TEXT (fixed strings)
assert_output_has() {
  if ! grep -qF -- "$1" <<<"$output"; then
    printf 'output lacks: %s\n--- output ---\n%s\n' "$1" "$output" >&2
    return 1
  fi
}
refute_output_has() {
  if grep -qF -- "$1" <<<"$output"; then
    printf 'output unexpectedly has: %s\n--- output ---\n%s\n' "$1" "$output" >&2
    return 1
  fi
}

assert_status() {
  if [[ "$status" != "$1" ]]; then
    printf 'status %s, want %s\n--- output ---\n%s\n--- calls ---\n' "$status" "$1" "$output" >&2
    cat "$CALLS" >&2
    return 1
  fi
}
