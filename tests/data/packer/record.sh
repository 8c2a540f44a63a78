#!/bin/bash
# Re-record kiln's real Packer transcripts into this directory (tests/data/packer/).
#
# Uses Debian's packer 1.6.6 (`null` builder) and a throwaway OpenSSH server on 127.0.0.1 (free
# high port, own host key, own client key, started and stopped by PID) so that the `shell`
# provisioner runs over real SSH, like the openstack pipeline does.
#
# Needs: packer, /usr/sbin/sshd (apt-get install -y openssh-server), ssh-keygen, setsid, ps,
# python3. Takes about half a minute (most of it is the signal checks).
# Usage: tests/data/packer/record.sh
set -euo pipefail

# No job control: background jobs then share this script's process group, so `setsid` execs
# packer directly (it forks only when called by a group leader) and $! is packer's PID = PGID.
set +m

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CHECKPOINT_DISABLE=1
PACKER=${PACKER:-packer}
SSHD=${SSHD:-/usr/sbin/sshd}

work=$(mktemp -d /tmp/kiln-record.XXXXXX)
sshd_pid=""
# PIDs (and process groups) we started and must not leave behind
declare -a leftovers=()
created_artifacts_dir=0
[ -e /tmp/rke2-artifacts ] || created_artifacts_dir=1

log() { printf 'record.sh: %s\n' "$*" >&2; }

cleanup() {
  local p
  for p in "${leftovers[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ -f "$work/prepull.pid" ]; then
    kill -KILL "$(cat "$work/prepull.pid")" 2>/dev/null || true
  fi
  if [ -n "$sshd_pid" ]; then
    kill -TERM "$sshd_pid" 2>/dev/null || true
    wait "$sshd_pid" 2>/dev/null || true
  fi
  if [ "$created_artifacts_dir" = 1 ]; then rm -rf /tmp/rke2-artifacts; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for FILE PATTERN SECONDS: wait until FILE contains PATTERN
wait_for() {
  local i
  for ((i = 0; i < $3 * 20; i++)); do
    if grep -q -- "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  log "timed out waiting for '$2' in $1"
  return 1
}

# alive PID: is PID still running (and not a zombie)?
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$st" ] && [[ $st != Z* ]]
}

# wait_exit PID SECONDS: wait up to SECONDS for PID to exit; prints the elapsed time (s, 0.05 s steps)
wait_exit() {
  local start i
  start=$(date +%s%N)
  for ((i = 0; i < $2 * 20; i++)); do
    if ! alive "$1"; then
      python3 -c 'import sys; print("%.2f" % ((int(sys.argv[2]) - int(sys.argv[1])) / 1e9))' "$start" "$(date +%s%N)"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# pgid_of PID: the process group of PID, which must be its own and not ours
pgid_of() {
  local g
  g=$(ps -o pgid= -p "$1" | tr -d ' ')
  if [ -z "$g" ] || [ "$g" != "$1" ] || [ "$g" = "$(ps -o pgid= -p $$ | tr -d ' ')" ]; then
    log "packer (pid $1) is not the leader of its own process group (pgid '${g}'); refusing to signal"
    return 1
  fi
  echo "$g"
}

# group_members PGID: PIDs still alive in process group PGID
group_members() {
  ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

# ---------------------------------------------------------------- workspace + sshd
mkdir -p "$work/run/stages" "$work/run/files" "$work/ssh"
cp "$here"/scripts/*.sh "$work/run/stages/"
chmod +x "$work/run/stages/"*.sh
cp "$here/templates/rke2-null-ssh.pkr.hcl" "$work/run/rke2-node.pkr.hcl"
# a tiny stand-in for the offline artifacts
printf 'rke2 images placeholder\n' > "$work/run/files/rke2-images.linux-amd64.tar.zst"
printf 'rke2 placeholder\n' > "$work/run/files/rke2.linux-amd64.tar.gz"
(cd "$work/run/files" && sha256sum ./*.tar.* > sha256sum-amd64.txt)

ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh/client_key"
cp "$work/ssh/client_key.pub" "$work/ssh/authorized_keys"
chmod 600 "$work/ssh/authorized_keys"
port=$(free_port)
user=$(id -un)
cat > "$work/ssh/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $work/ssh/host_key
PidFile $work/ssh/sshd.pid
AuthorizedKeysFile $work/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
AllowUsers $user
LogLevel ERROR
CFG
# privilege separation directory (root only; a non-root sshd does not need it)
if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi
setsid "$SSHD" -D -e -f "$work/ssh/sshd_config" -p "$port" 2> "$work/ssh/sshd.log" &
sshd_pid=$!
for ((i = 0; i < 100; i++)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.05
done
alive "$sshd_pid" || { log "sshd did not start:"; cat "$work/ssh/sshd.log" >&2; exit 1; }
log "sshd pid $sshd_pid on 127.0.0.1:$port"

ssh_vars=(-var "ssh_port=$port" -var "ssh_username=$user"
  -var "ssh_private_key_file=$work/ssh/client_key" -var "pidfile=$work/prepull.pid")

# record NAME ARGS...: run packer in the workspace, stdout -> NAME.log, exit code -> NAME.exit
record() {
  local name=$1 rc=0
  shift
  log "recording $name.log"
  (cd "$work/run" && "$PACKER" build -machine-readable "$@" > "$here/$name.log" 2> "$work/$name.stderr") || rc=$?
  echo "$rc" > "$here/$name.exit"
  if [ -s "$work/$name.stderr" ]; then
    log "$name: packer wrote to stderr:"
    cat "$work/$name.stderr" >&2
  fi
  log "$name: exit $rc, $(wc -l < "$here/$name.log") lines"
}

# ---------------------------------------------------------------- 1, 2: success and failure
record success "${ssh_vars[@]}" rke2-node.pkr.hcl
record failed "${ssh_vars[@]}" -var scenario=fail rke2-node.pkr.hcl

# ---------------------------------------------------------------- 1b, 2b: the same with shell-local
cp "$here/templates/rke2-null-local.pkr.hcl" "$work/run/rke2-node-local.pkr.hcl"
record success-local rke2-node-local.pkr.hcl
record failed-local -var scenario=fail rke2-node-local.pkr.hcl

# ---------------------------------------------------------------- 3: cancel (SIGINT to the group)
log "recording cancelled.log"
rm -f "$work/prepull.pid"
(cd "$work/run" && exec setsid "$PACKER" build -machine-readable "${ssh_vars[@]}" -var scenario=cancel \
  rke2-node.pkr.hcl > "$here/cancelled.log" 2> "$work/cancelled.stderr") &
pk=$!
leftovers+=("$pk")
wait_for "$here/cancelled.log" 'downloading layer' 30
sleep 0.5
pgid=$(pgid_of "$pk")
log "cancel: packer pid $pk pgid $pgid, SIGINT to the group"
kill -INT -- "-$pgid"
rc=0
wait "$pk" || rc=$?
echo "$rc" > "$here/cancelled.exit"
log "cancelled: exit $rc, $(wc -l < "$here/cancelled.log") lines"
# the remote `sleep 300` (a child of sshd, not of packer) is not ours to leave behind
if [ -f "$work/prepull.pid" ]; then
  rp=$(cat "$work/prepull.pid")
  if alive "$rp"; then
    log "cancel: the remote sleep (pid $rp) survived the cancel; killing it"
    echo "remote_sleep_survived_cancel=yes" > "$work/remote-sleep.txt"
    kill -TERM "$rp" 2>/dev/null || true
  else
    echo "remote_sleep_survived_cancel=no" > "$work/remote-sleep.txt"
  fi
fi

# ---------------------------------------------------------------- 4: template error
cp "$here/templates/template-error.pkr.hcl" "$work/run/rke2-node.pkr.hcl"
record template-error rke2-node.pkr.hcl
cp "$here/templates/rke2-null-ssh.pkr.hcl" "$work/run/rke2-node.pkr.hcl"

# ---------------------------------------------------------------- 5: synthetic crash banner
python3 "$here/make-crash.py" "$here/success.log" "$here/crash-banner.log"

# (the demo's transcripts come from the openstack recordings: record-demo.sh)

# ---------------------------------------------------------------- signals (long-sleep.pkr.hcl)
repo_root=$(cd "$here/../../.." && pwd)
sig="$here/signals.txt"
{
  echo "# Signal checks on templates/long-sleep.pkr.hcl, written by record.sh"
  echo "# packer: $("$PACKER" version | head -1)"
} > "$sig"

# start_long NAME: start packer on long-sleep in its own process group, wait for the sleep step
start_long() {
  (cd "$repo_root" && exec setsid "$PACKER" build -machine-readable tests/data/packer/templates/long-sleep.pkr.hcl \
    > "$work/$1.log" 2> "$work/$1.stderr") &
  lp=$!
  leftovers+=("$lp")
  wait_for "$work/$1.log" 'sleeping 300 s' 30
  sleep 0.5
  lpg=$(pgid_of "$lp")
}

# finish_long NAME: report what is left, then make sure nothing is
finish_long() {
  local rest p
  rest=$(group_members "$lpg" | tr '\n' ' ')
  if [ -z "$rest" ]; then
    echo "$1: processes left in the group after packer exited: none" >> "$sig"
  fi
  for p in $rest; do
    echo "$1: LEFT BEHIND after packer exited: pid $p: $(ps -o args= -p "$p")" >> "$sig"
    kill -KILL "$p" 2>/dev/null || true
  done
}

# (a) SIGINT to packer's PID alone
log "signals: SIGINT to the packer PID alone"
start_long int-pid
{
  echo "process group $lpg while the sleep step runs (packer pid $lp):"
  ps -o pid=,ppid=,args= -g "$lpg" | sed 's/^/    /'
} >> "$sig"
kill -INT "$lp"
if t=$(wait_exit "$lp" 5); then
  echo "int-pid: SIGINT to packer's PID alone: packer exited after ${t}s (NOT ignored)" >> "$sig"
else
  echo "int-pid: SIGINT to packer's PID alone: still running 5 s later (ignored)" >> "$sig"
  kill -INT -- "-$lpg"
  wait_exit "$lp" 30 > /dev/null || kill -KILL "$lp"
fi
rc=0; wait "$lp" || rc=$?
echo "int-pid: exit code $rc; output after the signal: $(grep -c . "$work/int-pid.log") lines total" >> "$sig"
finish_long int-pid

# (b) SIGTERM to packer's PID alone
log "signals: SIGTERM to the packer PID alone"
start_long term-pid
kill -TERM "$lp"
if t=$(wait_exit "$lp" 10); then
  echo "term-pid: SIGTERM to packer's PID alone: packer exited after ${t}s" >> "$sig"
else
  echo "term-pid: SIGTERM to packer's PID alone: still running 10 s later" >> "$sig"
  kill -INT -- "-$lpg"
  wait_exit "$lp" 30 > /dev/null || kill -KILL "$lp"
fi
rc=0; wait "$lp" || rc=$?
echo "term-pid: exit code $rc; last line: $(tail -n 1 "$work/term-pid.log")" >> "$sig"
finish_long term-pid
cp "$work/term-pid.log" "$here/long-sleep-sigterm-pid.log"

# (c) SIGINT to the whole process group (what kiln does); keep this transcript
log "signals: SIGINT to the process group"
start_long int-group
kill -INT -- "-$lpg"
if t=$(wait_exit "$lp" 10); then
  echo "int-group: SIGINT to packer's process group: packer exited after ${t}s" >> "$sig"
else
  echo "int-group: SIGINT to packer's process group: still running 10 s later" >> "$sig"
  kill -KILL "$lp"
fi
rc=0; wait "$lp" || rc=$?
echo "int-group: exit code $rc; last line: $(tail -n 1 "$work/int-group.log")" >> "$sig"
finish_long int-group
cp "$work/int-group.log" "$here/long-sleep-cancelled.log"
echo "$rc" > "$here/long-sleep-cancelled.exit"

if [ -f "$work/remote-sleep.txt" ]; then
  echo "cancelled.log (SSH): $(cat "$work/remote-sleep.txt")" >> "$sig"
fi
for f in success failed success-local failed-local cancelled template-error int-pid term-pid int-group; do
  if [ -s "$work/$f.stderr" ]; then
    echo "$f: packer stderr: $(tr '\n' ' ' < "$work/$f.stderr")" >> "$sig"
  else
    echo "$f: packer stderr: empty" >> "$sig"
  fi
done
cat "$sig" >&2
log "done"
