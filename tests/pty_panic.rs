//! A panic inside the TUI restores the terminal: run `kiln demo` on a pseudo-terminal, trigger a
//! panic through the (test-only, env-gated) `:panic` command, and check that the alternate screen
//! was left, the cursor shown, and the pty is back in cooked mode (ICANON and ECHO on).

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use nix::pty::{Winsize, openpty};
use nix::sys::termios::{LocalFlags, tcgetattr};

fn wait_for(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, needle: &[u8]) -> bool {
    loop {
        if seen.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => return false,
        }
    }
}

#[test]
fn panic_in_the_console_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let ws = Winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&ws), None).unwrap();
    let slave: OwnedFd = pty.slave;
    let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
    let mut child = kiln(home.path())
        .env("KILN_ALLOW_PANIC_COMMAND", "1")
        .env("TERM", "xterm-256color")
        .args(["demo", "--speed", "1"])
        .stdin(dup(&slave))
        .stdout(dup(&slave))
        .stderr(dup(&slave))
        .spawn()
        .unwrap();
    let mut master_read = std::fs::File::from(pty.master.try_clone().unwrap());
    let mut master_write = std::fs::File::from(pty.master);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = master_read.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    assert!(
        wait_for(&rx, &mut seen, b"History"),
        "the console never drew its tabs"
    );
    let raw = tcgetattr(slave.as_fd()).unwrap();
    assert!(
        !raw.local_flags.contains(LocalFlags::ICANON),
        "the console runs in raw mode"
    );
    let before = seen.len();
    master_write.write_all(b":panic\r").unwrap();
    let status = wait_for(&rx, &mut seen, b"deliberate panic");
    assert!(
        status,
        "no panic message: {}",
        String::from_utf8_lossy(&seen[before..])
    );
    let code = child.wait().unwrap();
    assert!(!code.success(), "a panic exits non-zero");
    let after = &seen[before..];
    assert!(
        after.windows(8).any(|w| w == b"\x1b[?1049l"),
        "alternate screen left"
    );
    assert!(
        after.windows(6).any(|w| w == b"\x1b[?25h"),
        "cursor shown again"
    );
    let cooked = tcgetattr(slave.as_fd()).unwrap();
    assert!(
        cooked
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO),
        "terminal back in cooked mode"
    );
}
