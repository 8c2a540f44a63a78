#!/usr/bin/env bash
# Ensures a venv with python-openstackclient (the `openstack` command) and prints its bin dir.
#
#   tests/cloud/osc-venv.sh
#
# The venv lives at ${KILN_OSC_VENV:-$HOME/.cache/kiln/osc-venv}, created on first use from PyPI
# (needs python3 with the venv module, and network to PyPI once), pinned with constraints.txt.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${KILN_OSC_VENV:-$HOME/.cache/kiln/osc-venv}"
pins="python-openstackclient==10.5.0"
pins_id="$pins $(cksum <"$here/constraints.txt")"

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9 # two test runs must not build the venv at the same time
if [[ ! -x "$venv/bin/openstack" || "$(cat "$venv/.kiln-pins" 2>/dev/null)" != "$pins_id" ]]; then
    if [[ -d "$venv" && ! -f "$venv/pyvenv.cfg" && -n "$(ls -A "$venv")" ]]; then
        echo "$venv exists and is not a venv; set KILN_OSC_VENV elsewhere" >&2
        exit 1
    fi
    log="$(mktemp)"
    echo "creating python-openstackclient venv at $venv (first run: a minute or more)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # $pins is a list of requirements
    if ! { "$venv/bin/pip" install --disable-pip-version-check -q --upgrade pip &&
        "$venv/bin/pip" install --disable-pip-version-check -c "$here/constraints.txt" $pins; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "pip install failed; full log in $log" >&2
        exit 1
    fi
    rm -f "$log"
    echo "$pins_id" >"$venv/.kiln-pins"
fi
echo "$venv/bin"
