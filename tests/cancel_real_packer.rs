//! Cancel with the REAL packer (Debian's 1.6.6): a null-builder build whose second step sleeps
//! 300 s is interrupted through kiln; kiln reports `cancelled`, exits 130, and no packer (nor the
//! script it ran) is left behind.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
fn sigint_cancels_the_build_and_leaves_no_packer() {
    require_tool("packer");
    let home = tempfile::tempdir().unwrap();
    let template = data_dir().join("templates/long-sleep.pkr.hcl");
    let mut child = kiln(home.path())
        .args([
            "build",
            "--headless",
            "--json",
            "--skip-preflight",
            "--template",
        ])
        .arg(&template)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx
                .send(serde_json::from_str(&line).unwrap_or(Value::String(line)))
                .is_err()
            {
                break;
            }
        }
    });
    let mut events = Vec::new();
    // Wait for the long step to be running (its own output says so), then cancel.
    loop {
        let e = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the long-sleep step never started");
        let sleeping = e["event"] == "log"
            && e["line"]
                .as_str()
                .is_some_and(|l| l.contains("sleeping 300 s"));
        events.push(e);
        if sleeping {
            break;
        }
    }
    assert!(
        !processes_marked(home.path(), "02-long-sleep.sh").is_empty(),
        "the script should be running now"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    while let Ok(e) = rx.recv_timeout(Duration::from_secs(60)) {
        events.push(e);
    }
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    assert_eq!(
        status.code(),
        Some(130),
        "stderr: {:?}",
        child.stderr.take().map(std::io::read_to_string)
    );
    let last = events.last().unwrap();
    assert_eq!(last["event"], "build_finished");
    assert_eq!(last["status"], "cancelled");
    assert_eq!(last["failed_stage"], "02-long-sleep");
    assert!(
        events.iter().any(|e| e["line"]
            .as_str()
            .is_some_and(|l| l.contains("Cleanly cancelled builds"))),
        "packer's cleanup is shown"
    );
    let left = processes_marked(home.path(), "packer");
    assert!(left.is_empty(), "packer left running: {left:?}");
    let left = processes_marked(home.path(), "02-long-sleep.sh");
    assert!(left.is_empty(), "build script left running: {left:?}");
    let rec = record_json(home.path());
    assert_eq!(rec["result"], "cancelled");
}
