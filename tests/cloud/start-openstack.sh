#!/usr/bin/env bash
# Starts a real Keystone + Glance on 127.0.0.1 for tests, with sqlite and a file store under
# STATE_DIR, and writes STATE_DIR/openrc. Stop it with stop-openstack.sh STATE_DIR.
#
#   tests/cloud/start-openstack.sh STATE_DIR
#   tests/cloud/start-openstack.sh --prepare     (only create the venv; CI runs this first)
#
# The services run from a venv at ${KILN_OPENSTACK_VENV:-$HOME/.cache/kiln/openstack-venv},
# created on first use from PyPI (needs python3 with the venv module, and network to PyPI once).
# Logs: STATE_DIR/*.log (STATE_DIR/SERVICE-access.log: one line a request, e.g.
# `"DELETE /v2/images/ID HTTP/1.1" 204`). PIDs: STATE_DIR/keystone.pid, STATE_DIR/glance.pid.
# Seeded images: ubuntu-22.04 (active), ubuntu-pro-22.04-fips (active, ubuntu_pro=true),
# ubuntu-queued (queued).
# Optional: KILN_KEYSTONE_TOKEN_EXPIRATION (seconds a token lives; Keystone's default 3600),
# KILN_GLANCE_API_LIMIT_MAX and KILN_GLANCE_LIMIT_DEFAULT (Glance's page size caps).
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 64
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prepare_only=false
if [[ "$1" == "--prepare" ]]; then
    prepare_only=true
    set -- "$(mktemp -d)"
fi
mkdir -p "$1"
state="$(cd "$1" && pwd)"
venv="${KILN_OPENSTACK_VENV:-$HOME/.cache/kiln/openstack-venv}"
pins="keystone==30.0.0 glance==33.0.0 gunicorn==27.0.1"
# The venv is rebuilt when the pins or the constraints change.
pins_id="$pins $(cksum <"$here/constraints.txt")"
region="RegionOne"
wait_seconds="${KILN_OPENSTACK_WAIT:-60}"

# --- venv (created once, reused while the pins are unchanged) -------------------------------
ensure_venv() {
    if [[ -x "$venv/bin/gunicorn" && "$(cat "$venv/.kiln-pins" 2>/dev/null)" == "$pins_id" ]]; then
        return
    fi
    if [[ -d "$venv" && ! -f "$venv/pyvenv.cfg" && -n "$(ls -A "$venv")" ]]; then
        echo "$venv exists and is not a venv; set KILN_OPENSTACK_VENV elsewhere" >&2
        exit 1
    fi
    echo "creating OpenStack venv at $venv (first run: a minute or more; log: $state/pip.log)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # $pins is a list of requirements
    if ! { "$venv/bin/pip" install --disable-pip-version-check -q --upgrade pip &&
        "$venv/bin/pip" install --disable-pip-version-check -c "$here/constraints.txt" $pins; } \
        >"$state/pip.log" 2>&1; then
        tail -n 20 "$state/pip.log" >&2
        echo "pip install failed; full log in $state/pip.log" >&2
        exit 1
    fi
    echo "$pins_id" >"$venv/.kiln-pins"
}
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9 # two test runs must not build the venv at the same time
ensure_venv
flock -u 9
exec 9>&-
if $prepare_only; then
    rm -rf "$state"
    echo "$venv"
    exit 0
fi
# No __pycache__ next to wsgi_shim.py / osctl.py in the checkout.
export PYTHONDONTWRITEBYTECODE=1

py="$venv/bin/python"
osctl() { "$py" "$here/osctl.py" "$@"; }

# --- stop whatever this run started if anything below fails --------------------------------
started=()
cleanup_on_failure() {
    local rc=$?
    if [[ $rc -ne 0 ]]; then
        for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
        echo "start-openstack.sh failed (exit $rc); logs in $state" >&2
    fi
}
trap cleanup_on_failure EXIT

# Each service's socket is bound now and held until gunicorn serves on it (osctl listen passes
# it as fd://N): no other process can take the port between choosing it and binding it.
gunicorn_flags=(--workers 1 --threads 4 --no-control-socket --graceful-timeout 3
    --pythonpath "$here")
# held SERVICE CONFIG_DIR: starts the service's gunicorn behind a held port (it waits for
# $state/SERVICE.go to exec), records its pid, and leaves the port in $state/SERVICE.port.
held() {
    local svc="$1" confdir="$2"
    rm -f "$state/$svc.port" "$state/$svc.go"
    env "OS_${svc^^}_CONFIG_DIR=$confdir" "$py" "$here/osctl.py" listen "$state/$svc.port" "$state/$svc.go" -- \
        "$venv/bin/gunicorn" "${gunicorn_flags[@]}" --bind "fd://{fd}" \
        --access-logfile "$state/$svc-access.log" "wsgi_shim:$svc" \
        </dev/null >>"$state/$svc.log" 2>&1 &
    started+=("$!")
    echo "$!" >"$state/$svc.pid"
    local deadline=$((SECONDS + 30))
    until [[ -s "$state/$svc.port" ]]; do
        ((SECONDS < deadline)) || { echo "$svc: no port after 30 s" >&2; return 1; }
        kill -0 "$!" 2>/dev/null || { tail -n 20 "$state/$svc.log" >&2; return 1; }
        sleep 0.02
    done
}
held keystone "$state/keystone"
held glance "$state/glance"
kport="$(cat "$state/keystone.port")"
gport="$(cat "$state/glance.port")"
keystone_url="http://127.0.0.1:$kport"
glance_url="http://127.0.0.1:$gport"
password="$("$py" -c 'import secrets; print(secrets.token_hex(12))')"

# --- Keystone -------------------------------------------------------------------------------
mkdir -p "$state/keystone/fernet-keys" "$state/keystone/credential-keys"
chmod 700 "$state/keystone/fernet-keys" "$state/keystone/credential-keys"
cat >"$state/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $state/keystone-app.log
[database]
connection = sqlite:///$state/keystone/keystone.db
[token]
provider = fernet
expiration = ${KILN_KEYSTONE_TOKEN_EXPIRATION:-3600}
[fernet_tokens]
key_repository = $state/keystone/fernet-keys
[fernet_receipts]
key_repository = $state/keystone/fernet-keys
[credential]
key_repository = $state/keystone/credential-keys
[oslo_concurrency]
lock_path = $state/keystone
EOF
kconf=(--config-file "$state/keystone/keystone.conf")
{
    "$venv/bin/keystone-manage" "${kconf[@]}" db_sync
    "$venv/bin/keystone-manage" "${kconf[@]}" fernet_setup \
        --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    "$venv/bin/keystone-manage" "${kconf[@]}" credential_setup \
        --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    "$venv/bin/keystone-manage" "${kconf[@]}" bootstrap \
        --bootstrap-password "$password" \
        --bootstrap-username admin \
        --bootstrap-project-name admin \
        --bootstrap-role-name admin \
        --bootstrap-service-name keystone \
        --bootstrap-region-id "$region" \
        --bootstrap-admin-url "$keystone_url/v3" \
        --bootstrap-internal-url "$keystone_url/v3" \
        --bootstrap-public-url "$keystone_url/v3"
} >>"$state/setup.log" 2>&1 || {
    tail -n 20 "$state/setup.log" >&2
    exit 1
}

touch "$state/keystone.go"

# --- Glance ---------------------------------------------------------------------------------
mkdir -p "$state/glance/images" "$state/glance/staging" "$state/glance/tasks" "$state/glance/cache"
cp "$venv/etc/glance/glance-api-paste.ini" "$state/glance/glance-api-paste.ini"
cat >"$state/glance/glance-api.conf" <<EOF
[DEFAULT]
log_file = $state/glance-app.log
enabled_backends = fs:file
worker_self_reference_url = $glance_url
image_cache_dir = $state/glance/cache
api_limit_max = ${KILN_GLANCE_API_LIMIT_MAX:-1000}
limit_param_default = ${KILN_GLANCE_LIMIT_DEFAULT:-25}
[database]
connection = sqlite:///$state/glance/glance.db
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $state/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $state/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $state/glance/tasks
[paste_deploy]
flavor = keystone
config_file = $state/glance/glance-api-paste.ini
[keystone_authtoken]
www_authenticate_uri = $keystone_url
auth_url = $keystone_url
auth_type = password
user_domain_name = Default
project_domain_name = Default
project_name = admin
username = admin
password = $password
region_name = $region
[oslo_concurrency]
lock_path = $state/glance
EOF
"$venv/bin/glance-manage" --config-file "$state/glance/glance-api.conf" db_sync \
    >>"$state/setup.log" 2>&1 || {
    tail -n 20 "$state/setup.log" >&2
    exit 1
}

touch "$state/glance.go"

# --- wait (bounded), catalog, openrc, images ---------------------------------------------------
osctl wait --timeout "$wait_seconds" --pid "$(cat "$state/keystone.pid")" "$keystone_url/v3"
osctl wait --timeout "$wait_seconds" --pid "$(cat "$state/glance.pid")" "$glance_url/"

cat >"$state/openrc" <<EOF
export OS_AUTH_URL=$keystone_url/v3
export OS_USERNAME=admin
export OS_PASSWORD=$password
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=$region
EOF
chmod 600 "$state/openrc"

(
    # shellcheck source=/dev/null
    source "$state/openrc"
    osctl register-image "$glance_url"
    osctl seed
)

echo "keystone $keystone_url (pid $(cat "$state/keystone.pid"))"
echo "glance   $glance_url (pid $(cat "$state/glance.pid"))"
echo "openrc   $state/openrc"
