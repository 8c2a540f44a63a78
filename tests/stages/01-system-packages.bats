#!/usr/bin/env bats
# Stage 01: packages with apt retries and the offline fallback, swap off for good, services on.

load helpers

setup() {
  setup_stage
  cat >"$ROOT/etc/fstab" <<'FSTAB'
LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1
/swap.img none swap sw 0 0
# /old-swap none swap sw 0 0
UUID=abcd /data xfs defaults 0 2
FSTAB
  stub apt-get
  stub dpkg
  stub dpkg-query 'printf "install ok installed"'
  stub sleep
  stub swapoff
  stub systemctl 'if [[ "$1" == list-units ]]; then printf "swap.img.swap loaded active active /swap.img\n"; fi'
}

@test "installs the package table with one apt-get run, then swap and services in order" {
  run_stage 01-system-packages.sh
  assert_status 0
  for pkg in qemu-guest-agent multipath-tools open-iscsi nfs-common cryptsetup conntrack socat ebtables ethtool chrony; do
    calls_matching '^apt-get .* install ' | grep -qw -- "$pkg"
  done
  [ "$(calls_matching '^apt-get .*update' | wc -l)" -eq 1 ]
  [ -z "$(calls_matching '^(dpkg|sleep) ')" ]
  assert_order '^apt-get .*update' '^apt-get .*install' '^swapoff -a' '^systemctl mask swap.target swap.img.swap' \
    '^systemctl enable qemu-guest-agent' '^systemctl enable multipathd' '^systemctl enable iscsid' '^systemctl enable chrony'
  assert_output_has 'kiln:progress 1/3 packages installed'
  assert_output_has 'kiln:progress 3/3 services enabled'
}

@test "comments out active fstab swap entries and leaves everything else alone" {
  run_stage 01-system-packages.sh
  assert_status 0
  grep -qx '# disabled by rke2-node image build (kubelet refuses swap): /swap.img none swap sw 0 0' "$ROOT/etc/fstab"
  [ "$(grep -cE '^/swap.img' "$ROOT/etc/fstab")" -eq 0 ]
  grep -qx '# /old-swap none swap sw 0 0' "$ROOT/etc/fstab"
  grep -qx 'LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1' "$ROOT/etc/fstab"
  grep -qx 'UUID=abcd /data xfs defaults 0 2' "$ROOT/etc/fstab"
  [ "$(wc -l <"$ROOT/etc/fstab")" -eq 4 ]
}

@test "retries apt-get with a doubling backoff and succeeds on the third try" {
  stub apt-get 'n=$(grep -c "^apt-get .*update" '"$CALLS"'); [[ $n -ge 3 ]]'
  run_stage 01-system-packages.sh APT_RETRY_DELAY=5
  assert_status 0
  [ "$(calls_matching '^apt-get .*update' | wc -l)" -eq 3 ]
  [ "$(calls_matching '^sleep ')" = "$(printf 'sleep 5\nsleep 10')" ]
  [ -z "$(calls_matching '^dpkg ')" ]
  assert_output_has 'kiln:warn apt-get failed (attempt 1/3); retrying in 5s'
  assert_output_has 'kiln:warn apt-get failed (attempt 2/3); retrying in 10s'
}

@test "falls back to /tmp/packer-debs when every apt-get try fails" {
  stub apt-get 'exit 100'
  mkdir -p "$ROOT/tmp/packer-debs"
  touch "$ROOT/tmp/packer-debs/chrony_4.2_amd64.deb" "$ROOT/tmp/packer-debs/jq_1.6_amd64.deb"
  run_stage 01-system-packages.sh APT_RETRY_DELAY=0
  assert_status 0
  [ "$(calls_matching '^apt-get .*update' | wc -l)" -eq 3 ]
  [ "$(calls_matching '^sleep ' | wc -l)" -eq 2 ]
  calls_matching '^dpkg -i ' | grep -qF "$ROOT/tmp/packer-debs/chrony_4.2_amd64.deb"
  calls_matching '^dpkg -i ' | grep -qF "$ROOT/tmp/packer-debs/jq_1.6_amd64.deb"
  assert_order '^apt-get' '^dpkg -i' '^swapoff -a'
  assert_output_has 'kiln:warn apt-get failed 3 times; installing 2 offline packages'
}

@test "fails clearly when apt-get and the offline packages both fail" {
  stub apt-get 'exit 100'
  stub dpkg-query 'if [[ "$*" == *chrony* ]]; then printf "unknown ok not-installed"; else printf "install ok installed"; fi'
  stub dpkg 'exit 1'
  mkdir -p "$ROOT/tmp/packer-debs"
  touch "$ROOT/tmp/packer-debs/jq_1.6_amd64.deb"
  run_stage 01-system-packages.sh APT_RETRY_DELAY=0
  assert_status 1
  assert_output_has 'apt-get failed 3 times and the offline packages in'
  assert_output_has 'did not install: chrony'
  [ -z "$(calls_matching '^swapoff')" ]
}

@test "fails clearly when apt-get fails and there is no offline directory" {
  stub apt-get 'exit 100'
  run_stage 01-system-packages.sh APT_RETRY_DELAY=0
  assert_status 1
  assert_output_has "no offline packages in $ROOT/tmp/packer-debs"
  [ -z "$(calls_matching '^dpkg ')" ]
}

@test "a static qemu-guest-agent unit is accepted, an unknown failure is not" {
  stub systemctl 'case "$1 $2" in "enable qemu-guest-agent") exit 1 ;; "is-enabled qemu-guest-agent") echo static ;; "enable chrony") exit 1 ;; "is-enabled chrony") echo disabled; exit 1 ;; esac'
  run_stage 01-system-packages.sh
  assert_status 1
  assert_output_has 'could not enable chrony (is-enabled: disabled)'
  calls_matching '^systemctl enable iscsid' | grep -q .
}
