"""Small stdlib-only helper for the test OpenStack started by start-openstack.sh.

  osctl.py listen PORTFILE GOFILE -- CMD...
                                         bind a listening socket on a free 127.0.0.1 port,
                                         write the port to PORTFILE, wait (bounded) for GOFILE,
                                         then exec CMD with {fd} replaced by the socket's fd
                                         (gunicorn --bind fd://{fd}): the port is held from the
                                         moment it is chosen until the server serves on it
  osctl.py wait --pid PID URL [--timeout S]
                                         poll URL until it answers any HTTP status (bounded);
                                         fail at once if PID dies
  osctl.py register-image URL            add an `image` service with URL to the catalog
  osctl.py register-endpoint TYPE NAME URL
                                         add a service of TYPE named NAME with URL (public,
                                         internal and admin, in OS_REGION_NAME) to the catalog,
                                         e.g. the simulator's Nova and Cinder in hybrid mode;
                                         Keystone expands %(project_id)s in URL per token
  osctl.py seed                          create the test images (skips names that exist)

register-image, register-endpoint and seed authenticate with the OS_* variables of the
environment (an openrc).
"""

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

# name -> (upload bytes or None for "never uploaded", extra properties)
SEED_IMAGES = {
    "ubuntu-22.04": (b"kiln test image: ubuntu-22.04\n", {}),
    "ubuntu-pro-22.04-fips": (
        b"kiln test image: ubuntu-pro-22.04-fips\n",
        {"ubuntu_pro": "true"},
    ),
    "ubuntu-queued": (None, {}),
}


def listen_then_exec(portfile, gofile, cmd, timeout=120):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    os.set_inheritable(s.fileno(), True)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.replace(tmp, portfile)
    deadline = time.monotonic() + timeout
    while not os.path.exists(gofile):
        if time.monotonic() > deadline:
            sys.exit(f"listen: {gofile} never appeared")
        time.sleep(0.02)
    args = [a.replace("{fd}", str(s.fileno())) for a in cmd]
    os.execv(args[0], args)


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def wait(url, pids, timeout):
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        for pid in pids:
            if not alive(pid):
                sys.exit(f"process {pid} serving {url} exited; see the logs in the state dir")
        try:
            # gunicorn accepts on the socket before its worker has loaded the app: a request
            # blocks until then, so bound it by what is left of the deadline.
            left = max(0.1, min(5.0, deadline - time.monotonic()))
            with urllib.request.urlopen(url, timeout=left):
                return
        except urllib.error.HTTPError:
            return  # any HTTP status means the service answers (Glance's root is a 300)
        except OSError as e:
            last = str(e)
        time.sleep(0.25)
    sys.exit(f"{url} did not answer within {timeout}s (last error: {last})")


def request(method, url, body=None, token=None, headers=None):
    data = None
    hdrs = {"Accept": "application/json"}
    if token:
        hdrs["X-Auth-Token"] = token
    if isinstance(body, bytes):
        data = body
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
            return resp, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {url}: HTTP {e.code}: {e.read()[:500]!r}")


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set (source the openrc)")
    return value


def token_and_catalog():
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": env("OS_USERNAME"),
                        "domain": {"name": env("OS_USER_DOMAIN_NAME")},
                        "password": env("OS_PASSWORD"),
                    }
                },
            },
            "scope": {
                "project": {
                    "name": env("OS_PROJECT_NAME"),
                    "domain": {"name": env("OS_PROJECT_DOMAIN_NAME")},
                }
            },
        }
    }
    auth_url = env("OS_AUTH_URL").rstrip("/")
    resp, data = request("POST", f"{auth_url}/auth/tokens", body)
    return resp.headers["X-Subject-Token"], data["token"]["catalog"]


def register_endpoint(kind, name, url):
    token, catalog = token_and_catalog()
    if any(s["type"] == kind for s in catalog):
        sys.exit(f"the catalog already has a {kind} service")
    auth_url = env("OS_AUTH_URL").rstrip("/")
    _, svc = request(
        "POST",
        f"{auth_url}/services",
        {"service": {"type": kind, "name": name, "enabled": True}},
        token,
    )
    for interface in ("public", "internal", "admin"):
        request(
            "POST",
            f"{auth_url}/endpoints",
            {
                "endpoint": {
                    "service_id": svc["service"]["id"],
                    "interface": interface,
                    "region_id": env("OS_REGION_NAME"),
                    "url": url,
                    "enabled": True,
                }
            },
            token,
        )


def register_image(url):
    _, catalog = token_and_catalog()
    if not any(s["type"] == "image" for s in catalog):
        register_endpoint("image", "glance", url)


def image_url(catalog):
    region = env("OS_REGION_NAME")
    for svc in catalog:
        if svc["type"] == "image":
            for ep in svc["endpoints"]:
                if ep["interface"] == "public" and ep.get("region_id", region) == region:
                    return ep["url"].rstrip("/")
    sys.exit("no public image endpoint in the catalog")


def seed():
    token, catalog = token_and_catalog()
    glance = image_url(catalog)
    for name, (payload, props) in SEED_IMAGES.items():
        _, found = request("GET", f"{glance}/v2/images?name={name}", token=token)
        if found["images"]:
            continue
        body = {"name": name, "disk_format": "raw", "container_format": "bare"}
        body.update(props)
        _, image = request("POST", f"{glance}/v2/images", body, token)
        if payload is None:
            continue
        request(
            "PUT",
            f"{glance}/v2/images/{image['id']}/file",
            payload,
            token,
            {"Content-Type": "application/octet-stream"},
        )
        _, image = request("GET", f"{glance}/v2/images/{image['id']}", token=token)
        if image["status"] != "active":
            sys.exit(f"{name}: status {image['status']} after upload, expected active")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ports").add_argument("n", type=int)
    w = sub.add_parser("wait")
    w.add_argument("url")
    w.add_argument("--pid", type=int, action="append", default=[])
    w.add_argument("--timeout", type=float, default=60)
    sub.add_parser("register-image").add_argument("url")
    ep = sub.add_parser("register-endpoint")
    ep.add_argument("type")
    ep.add_argument("name")
    ep.add_argument("url")
    sub.add_parser("seed")
    ln = sub.add_parser("listen")
    ln.add_argument("portfile")
    ln.add_argument("gofile")
    ln.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    if a.cmd == "ports":
        print("\n".join(map(str, free_ports(a.n))))
    elif a.cmd == "wait":
        wait(a.url, a.pid, a.timeout)
    elif a.cmd == "register-image":
        register_image(a.url)
    elif a.cmd == "register-endpoint":
        register_endpoint(a.type, a.name, a.url)
    elif a.cmd == "seed":
        seed()
    elif a.cmd == "listen":
        cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
        listen_then_exec(a.portfile, a.gofile, cmd)


if __name__ == "__main__":
    main()
