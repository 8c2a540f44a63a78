# shellcheck shell=bash disable=SC2034 # variables here are used by the scripts that source this
# Shared preamble of every stage script (sourced, never run): output contract, paths, step runner.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
#   kiln_init 03-prepull-images
#   step do_this "label printed when do_this returns"
#   units 13        # progress lines a step prints itself with `progress_unit` (e.g. one per image)
#   run_steps       # total = steps + units; prints `kiln:progress <done>/<total> <label>` per step
#
# Output contract with the console (design §1b), kept exactly:
#   kiln:progress <done>/<total> <label>      stdout
#   kiln:warn <message>                       stdout
#   errors                                    stderr, "<stage>: <message>", exit 1
#
# Paths: every file a stage reads or writes is under ${TARGET_ROOT:-} (ROOT below).

ROOT="${TARGET_ROOT:-}"
STATE_DIR="${ROOT}/etc/packer-build"
# Build-time state that must survive the FIPS reboot between 04 and 06 (Ubuntu wipes /tmp at
# boot) but not reach the image: removed by 05-cleanup.sh.
BUILD_STATE_DIR="${ROOT}/var/lib/kiln-build"
# Directory of the stage scripts and lib/: the template uploads both to the same folder.
KILN_STAGES_DIR="${KILN_STAGES_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
KILN_STAGE=""

kiln_init() {
  KILN_STAGE="$1"
}

warn() { printf 'kiln:warn %s\n' "$*"; }
die() {
  printf '%s: %s\n' "${KILN_STAGE:-stage}" "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

# --- step runner: progress totals are counted, never kept by hand ----------------------------
KILN_STEP_FNS=()
KILN_STEP_LABELS=()
KILN_UNITS=0
KILN_DONE=0
KILN_TOTAL=0
STEP_LABEL=""

# step FUNCTION LABEL: run FUNCTION in order; LABEL is printed when it returns. FUNCTION may
# replace the label by setting STEP_LABEL (e.g. "13 of 13 images pre-pulled").
step() {
  KILN_STEP_FNS+=("$1")
  KILN_STEP_LABELS+=("$2")
}

# units N: N more progress lines, printed by the steps themselves with progress_unit
units() {
  KILN_UNITS=$((KILN_UNITS + $1))
}

progress_unit() {
  KILN_DONE=$((KILN_DONE + 1))
  printf 'kiln:progress %s/%s %s\n' "$KILN_DONE" "$KILN_TOTAL" "$1"
}

run_steps() {
  local i
  KILN_TOTAL=$((${#KILN_STEP_FNS[@]} + KILN_UNITS))
  for i in "${!KILN_STEP_FNS[@]}"; do
    STEP_LABEL="${KILN_STEP_LABELS[$i]}"
    "${KILN_STEP_FNS[$i]}"
    progress_unit "$STEP_LABEL"
  done
  if ((KILN_DONE != KILN_TOTAL)); then
    warn "progress: ${KILN_STAGE} reported ${KILN_DONE} of ${KILN_TOTAL} steps"
  fi
}

# --- the pinned image list (one list: 03's IMAGES array, read by 03, 07 and the console) -------
# pinned_images FILE: "<upstream ref> <path under HARBOR_REGISTRY>" per line, read from the
# IMAGES=( ... ) block of FILE exactly as the console reads it: no shell evaluation.
pinned_images() {
  awk '
    /^IMAGES=\($/ { inside = 1; next }
    inside && /^\)$/ { exit }
    inside {
      line = $0
      sub(/^[ \t]*"/, "", line); sub(/"[ \t]*$/, "", line)
      if (line != "" && line !~ /^#/) print line
    }' "$1"
}

# sha256_of FILE: the hex digest only
sha256_of() {
  sha256sum "$1" | awk '{ print $1 }'
}
