#!/usr/bin/env python3
"""Derive the demo's transcripts (src/demo/transcripts/success.log and failed.log) from the REAL
openstack recordings of the end-to-end build (openstack-success.log and openstack-failed.log in
this directory, recorded by record-demo.sh: tests/e2e_build.rs, real packer 1.6.6 against kiln's
simulator, the real template and stage scripts on a local sshd).

Usage: make-demo.py [DIR]      (DIR defaults to this script's directory)

What changes, and nothing else: the timestamps, and the durations packer prints
(`Build '...' finished after`, `errored after`, `Wait completed after`), so that a replay at
speed 1 looks like a real ~12 minute build on a real cloud (the recording took ~15 s). Each
segment is stretched to its usual time: the launch and the snapshot keep their real steps at the
times a real Nova takes for them (server build, SSH wait, image upload), every other line is
spread evenly over its stage; 03-prepull-images dominates, and in the failure it fails 62 % into
its usual time. Timestamps never go backwards. Every line's text is kept byte for byte.
"""
import os
import re
import sys

# The demo owns its transcripts: they live beside it, not among the test fixtures.
DEMO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../src/demo/transcripts")

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

# launch steps: seconds after the first line (a line takes the time of the last step seen)
LAUNCH = [
    ("Loading flavor", 0),
    ("Verified flavor", 1),
    ("Creating temporary keypair", 1),
    ("Created temporary keypair", 2),
    ("Found Image ID", 2),
    ("Launching server", 3),
    ("Server ID", 5),
    ("Waiting for server to become ready", 5),
    ("Floating IP", 41),
    ("Using ssh communicator", 41),
    ("Waiting for SSH", 41),
    ("Connected to SSH", 73),
]
LAUNCH_SECONDS = 74
# snapshot steps: seconds after `Stopping server`
SNAPSHOT = [
    ("Stopping server", 0),
    ("Waiting for server to stop", 1),
    ("Creating the image", 14),
    ("Image: ", 16),
    ("Waiting for image", 16),
    ("Updating image tags", 93),
    ("Terminating the source server", 93),
    ("Deleting temporary keypair", 101),
    ("Running post-processor", 102),
]
SNAPSHOT_SECONDS = 102
# a failed provisioner's cleanup: seconds after the failure
CLEANUP = [
    ("Provisioning step had errors", 1),
    ("Terminating the source server", 1),
    ("Deleting temporary keypair", 9),
]
CLEANUP_SECONDS = 10

DURATION = re.compile(r"(finished after|errored after|Wait completed after) (.+?)(\.|:|$)")


def text_of(line):
    f = line.split(",", 4)
    return f[4] if len(f) > 4 else ""


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
    """Split a real openstack transcript into [(segment, lines)]: launch, upload, one per stage
    script, snapshot (or cleanup), tail (from `Build '...' finished/errored` on)."""
    segs = [("launch", [])]
    for line in lines:
        text = text_of(line)
        kind = line.split(",", 4)[3] if line.count(",") >= 4 else ""
        name = None
        if segs[-1][0] == "tail":
            pass
        elif text.startswith("Build '"):
            name = "tail"
        elif "Provisioning step had errors" in text:
            name = "cleanup"
        elif "Stopping server" in text:
            name = "snapshot"
        elif kind == "say" and "Uploading " in text and " => " in text and segs[-1][0] == "launch":
            name = "upload"
        elif "Provisioning with shell script: " in text:
            script = os.path.basename(text.strip())
            if not script.startswith("packer-shell"):
                name = script.removesuffix(".sh")
        if name:
            segs.append((name, []))
        segs[-1][1].append(line)
    return segs


def retime(line, ts):
    return f"{ts},{line.split(',', 1)[1]}"


def stepped(lines, start, steps):
    """Each line at start + the offset of the last step seen (steps in order)."""
    out, offset = [], 0
    for line in lines:
        text = text_of(line)
        for phrase, at in steps:
            if phrase in text and at >= offset:
                offset = at
                break
        out.append(retime(line, start + offset))
    return out


def spread(lines, start, seconds):
    """Lines evenly over [start, start + seconds)."""
    n = len(lines)
    return [retime(line, start + int(seconds * k / n)) for k, line in enumerate(lines)]


def convert(src, dst):
    with open(src, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    segs = split(lines)
    names = [n for n, _ in segs]
    failed = "cleanup" in names
    t0 = int(lines[0].split(",", 1)[0])
    t = t0
    out = []
    for i, (name, body) in enumerate(segs):
        if name == "launch":
            out += stepped(body, t, LAUNCH)
            t += LAUNCH_SECONDS
        elif name == "snapshot":
            out += stepped(body, t, SNAPSHOT)
            t += SNAPSHOT_SECONDS
        elif name == "cleanup":
            out += stepped(body, t, CLEANUP)
            t += CLEANUP_SECONDS
        elif name == "tail":
            for line in body:
                line = DURATION.sub(lambda m: f"{m.group(1)} {durafmt(t - t0)}{m.group(3)}", line, count=1)
                out.append(retime(line, t))
        else:
            secs = STAGE_SECONDS.get(name, 10)
            if failed and i + 1 < len(segs) and segs[i + 1][0] == "cleanup":
                secs = int(secs * FAILED_AT_FRACTION)
            out += spread(body, t, secs)
            t += secs
    stamps = [int(l.split(",", 1)[0]) for l in out]
    assert stamps == sorted(stamps), "timestamps went backwards"
    assert [text_of(a) for a in out if "after" not in a] == [text_of(b) for b in lines if "after" not in b]
    with open(dst, "w", encoding="utf-8", newline="") as f:
        f.write("".join(out))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name in ("success", "failed"):
        convert(os.path.join(d, f"openstack-{name}.log"), os.path.join(DEMO_DIR, f"{name}.log"))
        with open(os.path.join(d, f"openstack-{name}.exit"), encoding="utf-8") as f:
            code = f.read()
        with open(os.path.join(DEMO_DIR, f"{name}.exit"), "w", encoding="utf-8") as f:
            f.write(code)


if __name__ == "__main__":
    main()
