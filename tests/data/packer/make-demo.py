#!/usr/bin/env python3
"""Derive the demo's transcripts (src/demo/transcripts/success.log and failed.log) (SYNTHETIC-FROM-REAL) from the real null-builder
recordings success.log and failed.log in the same directory.

Usage: make-demo.py [DIR]      (DIR defaults to this script's directory)

What changes, and nothing else:
  * the build name null.rke2 becomes openstack.rke2 (in the text and in the target column);
  * the null builder's launch lines (`Using ssh communicator...`, `Waiting for SSH...`,
    `Connected to SSH!`) are replaced by the openstack builder's launch steps, and its teardown
    (nothing) by the openstack snapshot steps; line texts and say/message kinds follow packer
    1.6.6's openstack builder source (e.g. `Server ID:` is a ui.Message, `Stopping server: <id> ...`);
  * the null artifact becomes the openstack one (mitchellh.openstack, the Glance image id);
  * the `finished/errored after` durations and every timestamp are stretched so that a replay
    looks like a real ~12 minute build in which 03-prepull-images takes most of the time.
All provisioner lines (stdout, stderr, escaping, order) are kept byte for byte.
"""
import os
import sys

# The demo owns its transcripts: they live beside it, not among the test fixtures.
DEMO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../src/demo/transcripts")

NULL = "null.rke2"
NAME = "openstack.rke2"
SERVER = "3f6b2c8e-9d41-4a7e-b0c5-1e2d3f4a5b6c"
IMAGE = "8c1d7e42-5b9a-4f3e-a6d2-7b8c9d0e1f2a"
FLAVOR_ID = "5a7c3e1b-2d4f-4b6a-8c9e-0f1a2b3c4d5e"
KEYPAIR = "packer_6741f2a8-3b5c-7d9e-1f20-4a6b8c0d2e4f"
IMAGE_NAME = "rke2-node-v1.28-20261124"
SSH_IP = "10.20.30.41"

# seconds per stage in the stretched demo; 03 dominates, total ~12 minutes
STAGE_SECONDS = {
    "upload": 24,
    "01-system-packages": 96,
    "02-install-rke2": 48,
    "03-prepull-images": 342,
    "04-harden": 27,
    "06-manifest": 6,
    "07-validate": 17,
    "05-cleanup": 11,
}
FAILED_AT_FRACTION = 0.62  # 03 fails this far into its usual duration


def ui(ts, kind, text):
    return f"{ts},,ui,{kind},{text.rstrip(chr(10))}\n"


def say(ts, text):
    return ui(ts, "say", f"==> {NAME}: {text}")


def msg(ts, text):
    return ui(ts, "message", f"    {NAME}: {text}")


def durafmt(seconds):
    """Packer 1.6.6 prints durations with durafmt limited to the first two units."""
    m, s = divmod(int(seconds), 60)
    parts = []
    if m:
        parts.append(f"{m} minute{'s' if m != 1 else ''}")
    if s or not m:
        parts.append(f"{s} second{'s' if s != 1 else ''}")
    if len(parts) == 1:
        parts.append("412 milliseconds")
    return " ".join(parts)


def split(lines):
    """Split a real transcript into (launch, [(stage, lines)], tail)."""
    launch, stages, tail = [], [], []
    cur = None
    for line in lines:
        f = line.split(",", 4)
        text = f[4] if len(f) > 4 else ""
        if tail or text.startswith("Build '") or "Provisioning step had errors" in text:
            tail.append(line)
        elif "Uploading " in text and f[3] == "say":
            cur = ("upload", [line])
            stages.append(cur)
        elif "Provisioning with shell script: " in text:
            name = os.path.basename(text.strip()).removesuffix(".sh")
            cur = (name, [line])
            stages.append(cur)
        elif cur is None:
            launch.append(line)
        else:
            cur[1].append(line)
    return launch, stages, tail


def stretch(lines, start, seconds):
    """Re-time lines evenly over [start, start+seconds)."""
    out = []
    n = len(lines)
    for k, line in enumerate(lines):
        f = line.split(",", 1)
        ts = start + int(seconds * k / n)
        out.append(f"{ts},{f[1]}".replace(NULL, NAME))
    return out


def convert(src, dst):
    with open(src, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    launch, stages, tail = split(lines)
    t0 = int(lines[0].split(",", 1)[0])
    failed = any("errored after" in l for l in tail)
    out = [
        say(t0, "Loading flavor: m1.large"),
        msg(t0 + 1, f"Verified flavor. ID: {FLAVOR_ID}"),
        say(t0 + 1, f"Creating temporary keypair: {KEYPAIR} ..."),
        say(t0 + 2, f"Created temporary keypair: {KEYPAIR}"),
        say(t0 + 3, "Launching server..."),
        msg(t0 + 5, f"Server ID: {SERVER}"),
        say(t0 + 5, "Waiting for server to become ready..."),
        say(t0 + 41, f"Using ssh communicator to connect: {SSH_IP}"),
        say(t0 + 41, "Waiting for SSH to become available..."),
        say(t0 + 73, "Connected to SSH!"),
    ]
    t = t0 + 74
    for name, body in stages:
        secs = STAGE_SECONDS.get(name, 10)
        if failed and name == stages[-1][0]:
            secs = int(secs * FAILED_AT_FRACTION)
        out += stretch(body, t, secs)
        t += secs
    if failed:
        # provisioning failed: the real openstack builder runs the step cleanups before the
        # `errored after` line
        for line in tail:
            f = line.split(",", 4)
            text = f[4] if len(f) > 4 else ""
            if text.startswith("Build '"):
                out.append(say(t + 1, f"Terminating the source server: {SERVER} ..."))
                out.append(say(t + 9, f"Deleting temporary keypair: {KEYPAIR} ..."))
                t += 10
                head, _, rest = text.partition(" errored after ")
                reason = rest.split(": ", 1)[1]
                line = ui(t, "error", f"{head} errored after {durafmt(t - t0)}: {reason}".replace(NULL, NAME))
            elif text.startswith("\\n==> Wait completed after"):
                line = ui(t, "say", f"\\n==> Wait completed after {durafmt(t - t0)}\n")
            else:
                line = f"{t},{line.split(',', 1)[1]}".replace(NULL, NAME)
            out.append(line)
    else:
        out += [
            say(t, f"Stopping server: {SERVER} ..."),
            say(t + 1, f"Waiting for server to stop: {SERVER} ..."),
            say(t + 14, f"Creating the image: {IMAGE_NAME}"),
            say(t + 16, f"Image: {IMAGE}"),
            say(t + 16, f"Waiting for image {IMAGE_NAME} (image id: {IMAGE}) to become ready..."),
            say(t + 93, f"Terminating the source server: {SERVER} ..."),
            say(t + 101, f"Deleting temporary keypair: {KEYPAIR} ..."),
        ]
        t += 102
        for line in tail:
            f = line.split(",", 4)
            text = f[4] if len(f) > 4 else ""
            if text.startswith("Build '"):
                line = ui(t, "say", f"Build '{NAME}' finished after {durafmt(t - t0)}.\n")
            elif text.startswith("\\n==> Wait completed after"):
                line = ui(t, "say", f"\\n==> Wait completed after {durafmt(t - t0)}\n")
            elif f[2] == "artifact" and f[4].startswith("builder-id,"):
                line = f"{t},{NAME},artifact,0,builder-id,mitchellh.openstack\n"
            elif f[2] == "artifact" and f[4].startswith("id,"):
                line = f"{t},{NAME},artifact,0,id,{IMAGE}\n"
            elif f[2] == "artifact" and f[4].startswith("string,"):
                line = f"{t},{NAME},artifact,0,string,An image was created: {IMAGE}\n"
            elif text.startswith("--> "):
                line = ui(t, "say", f"--> {NAME}: An image was created: {IMAGE}\n")
            else:
                line = f"{t},{line.split(',', 1)[1]}".replace(NULL, NAME)
            out.append(line)
    # The recorder's test scripts print filler ("(indented)") to exercise the parser; the demo
    # shows what a real build prints.
    out = [l.replace("   (indented) ", " ") for l in out]
    with open(dst, "w", encoding="utf-8", newline="") as f:
        f.write("".join(out))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    convert(os.path.join(d, "success.log"), os.path.join(DEMO_DIR, "success.log"))
    convert(os.path.join(d, "failed.log"), os.path.join(DEMO_DIR, "failed.log"))


if __name__ == "__main__":
    main()
