#!/usr/bin/env bash
# Stops the Keystone and Glance that start-openstack.sh STATE_DIR started, by their PID files.
# Safe to run twice, or after a failed start.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 64
fi
state="$1"

pids=()
for svc in glance keystone; do
    f="$state/$svc.pid"
    [[ -f "$f" ]] || continue
    pid="$(cat "$f")"
    # Only signal the process if it is still the gunicorn we started (PIDs get reused).
    if [[ "$pid" =~ ^[0-9]+$ ]] && grep -qs gunicorn "/proc/$pid/cmdline"; then
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
    fi
    rm -f "$f"
done

# Gunicorn stops its workers within --graceful-timeout (3 s); poll, then force.
for _ in $(seq 1 50); do
    running=()
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null && ! grep -qs '^[0-9]* (.*) Z' "/proc/$pid/stat"; then
            running+=("$pid")
        fi
    done
    [[ ${#running[@]} -eq 0 ]] && exit 0
    sleep 0.1
done
for pid in "${running[@]}"; do
    pkill -KILL -P "$pid" 2>/dev/null || true # its workers
    kill -KILL "$pid" 2>/dev/null || true
done
