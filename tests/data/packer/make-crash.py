#!/usr/bin/env python3
"""Derive crash-banner.log (SYNTHETIC) from the real success.log.

Usage: make-crash.py success.log crash-banner.log

Inserts, after the 5th pre-pull progress line of 03-prepull-images, a Go panic and Packer's
`!!! PACKER CRASH !!!` banner (text of packer 1.6.6's panic.go), none of it CSV, then keeps the
rest of the real transcript, so that a parser test sees non-CSV lines (empty lines, tab-indented
lines, lines with commas) in the middle of a stream and has to carry on.
"""
import sys

PANIC = """panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x1b3f5e4]

goroutine 118 [running]:
github.com/hashicorp/packer/provisioner/shell.(*Provisioner).Provision(0xc0004a2000, 0x2f1e4c0, 0xc000512040, 0x2f3a1e0, 0xc0003b6120, 0x2f18c40, 0xc0000b8050, 0xc0006c4330, 0x0, 0x0)
\t/build/packer-1.6.6/src/github.com/hashicorp/packer/provisioner/shell/provisioner.go:298 +0x5d4
github.com/hashicorp/packer/packer/rpc.(*ProvisionerServer).Provision(0xc000416ee0, 0xc0005b0000, 0x0, 0x0)
\t/build/packer-1.6.6/src/github.com/hashicorp/packer/packer/rpc/provisioner.go:87 +0x1a5
"""

BANNER = """

!!!!!!!!!!!!!!!!!!!!!!!!!!! PACKER CRASH !!!!!!!!!!!!!!!!!!!!!!!!!!!!

Packer crashed! This is always indicative of a bug within Packer.
A crash log has been placed at "crash.log" relative to your current
working directory. It would be immensely helpful if you could please
report the crash with Packer[1] so that we can fix this.

[1]: https://github.com/hashicorp/packer/issues

!!!!!!!!!!!!!!!!!!!!!!!!!!! PACKER CRASH !!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines(keepends=True)
    at = next(i for i, l in enumerate(lines) if "kiln:progress 5/11 " in l) + 1
    out = lines[:at] + [PANIC + BANNER] + lines[at:]
    with open(dst, "w", encoding="utf-8", newline="") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main()
