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

/// A terminal that hangs up (a closed window, a dropped SSH session) makes every read fail. With
/// SIGHUP blocked (so only the failing reads can tell), kiln must quit instead of spinning on
/// them; five times, since the reads and a SIGHUP race when both come.
#[test]
fn a_hung_up_terminal_makes_the_console_quit_instead_of_spinning() {
    use std::os::unix::process::CommandExt;
    for _ in 0..5 {
        let home = tempfile::tempdir().unwrap();
        let log = home.path().join("kiln.log");
        let mut cmd = kiln(home.path());
        cmd.arg("--log-file").arg(&log);
        // SAFETY: only sigprocmask between fork and exec; the mask is inherited by exec.
        unsafe {
            cmd.pre_exec(|| {
                let mut set = nix::sys::signal::SigSet::empty();
                set.add(nix::sys::signal::Signal::SIGHUP);
                nix::sys::signal::sigprocmask(
                    nix::sys::signal::SigmaskHow::SIG_BLOCK,
                    Some(&set),
                    None,
                )
                .map_err(std::io::Error::from)
            });
        }
        let mut pty = Pty::spawn(cmd);
        assert!(
            pty.wait_for(b"History", 0),
            "the console never drew its tabs"
        );
        pty.hang_up();
        let pid = pty.pid;
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let exited = pty.wait_exit(Duration::from_secs(30));
        assert!(
            exited.is_some(),
            "kiln kept running on a hung-up terminal ({state}); its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
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
