//! The console on a pseudo-terminal: a panic restores the terminal, and SIGTERM during a real
//! packer build interrupts packer, waits for it, and restores the terminal.

mod common;

use std::time::Duration;

use common::pty::Pty;
use common::*;

#[test]
fn panic_in_the_console_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = kiln(home.path());
    cmd.env("KILN_ALLOW_PANIC_COMMAND", "1")
        .args(["demo", "--speed", "1"]);
    let mut pty = Pty::spawn(cmd);
    assert!(
        pty.wait_for(b"History", 0),
        "the console never drew its tabs"
    );
    assert!(!pty.cooked(), "the console runs in raw mode");
    let before = pty.seen.len();
    pty.send(b":panic\r");
    assert!(
        pty.wait_for(b"deliberate panic", before),
        "no panic message: {}",
        pty.text_since(before)
    );
    let status = pty
        .wait_exit(Duration::from_secs(60))
        .expect("kiln hung after the panic");
    assert!(!status.success(), "a panic exits non-zero");
    assert!(
        pty.saw_since(before, b"\x1b[?1049l"),
        "alternate screen left"
    );
    assert!(pty.saw_since(before, b"\x1b[?25h"), "cursor shown again");
    assert!(pty.cooked(), "terminal back in cooked mode");
}

#[test]
fn sigterm_during_a_console_build_stops_packer_and_restores_the_terminal() {
    require_tool("packer");
    let home = tempfile::tempdir().unwrap();
    let template = data_dir().join("templates/long-sleep.pkr.hcl");
    let mut cmd = kiln(home.path());
    cmd.args(["build", "--skip-preflight", "--template"])
        .arg(&template);
    let mut pty = Pty::spawn(cmd);
    assert!(
        pty.wait_for(b"History", 0),
        "the console never drew its tabs"
    );
    let before = pty.seen.len();
    pty.send(b"\r");
    assert!(
        pty.wait_for(b"sleeping 300 s", before),
        "the long step never showed: {}",
        pty.text_since(before)
    );
    let before = pty.seen.len();
    pty.signal(nix::sys::signal::Signal::SIGTERM);
    pty.wait_exit(Duration::from_secs(60))
        .expect("kiln did not exit after SIGTERM");
    assert!(
        pty.saw_since(before, b"\x1b[?1049l"),
        "alternate screen left"
    );
    assert!(pty.cooked(), "terminal back in cooked mode");
    for needle in ["packer", "02-long-sleep.sh"] {
        let left = processes_marked(home.path(), needle);
        assert!(left.is_empty(), "left running after SIGTERM: {left:?}");
    }
    let rec = record_json(home.path());
    assert_eq!(rec["result"], "cancelled");
}

#[test]
fn ctrl_z_suspends_with_the_terminal_restored_and_resumes() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = kiln(home.path());
    cmd.args(["demo", "--speed", "1"]);
    let mut pty = Pty::spawn(cmd);
    assert!(
        pty.wait_for(b"History", 0),
        "the console never drew its tabs"
    );
    pty.send(b"\x1a");
    // The console stops itself with SIGTSTP after giving the terminal back.
    assert!(
        pty.wait_stopped(Duration::from_secs(30)),
        "kiln did not stop on Ctrl-Z"
    );
    assert!(pty.cooked(), "terminal cooked while suspended");
    let before = pty.seen.len();
    pty.signal(nix::sys::signal::Signal::SIGCONT);
    assert!(
        pty.wait_for(b"History", before),
        "no redraw after resume: {:?}",
        pty.text_since(before)
    );
    assert!(!pty.cooked(), "raw mode again after resume");
    pty.send(b":q!\r");
    let status = pty
        .wait_exit(Duration::from_secs(60))
        .expect("kiln did not quit");
    assert!(status.success());
    assert!(pty.cooked());
}
