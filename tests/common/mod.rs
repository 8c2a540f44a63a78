//! Shared helpers for integration tests: transcripts, routing a transcript through the real
//! router with a fixed clock, and running the kiln binary in an isolated environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use kiln::bake::events::{BuildEvent, BuildOutcome};
use kiln::bake::plan::StagePlan;
use kiln::bake::router::StageRouter;

pub mod e2e;
pub mod fake;
pub mod flood;
pub mod inventory;
pub mod pty;
pub mod screen;
pub mod sshd;

/// tests/data/packer.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/packer")
}

/// The demo's own transcripts (`demo-success` is `src/demo/transcripts/success.log`).
pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/demo/transcripts")
}

/// Where a transcript lives: `demo-<name>` in the demo's data, the rest in tests/data/packer.
pub fn transcript_path(name: &str, ext: &str) -> PathBuf {
    match name.strip_prefix("demo-") {
        Some(demo) => demo_dir().join(format!("{demo}.{ext}")),
        None => data_dir().join(format!("{name}.{ext}")),
    }
}

/// A transcript's text and packer exit code.
pub fn transcript(name: &str) -> (String, i32) {
    let text = std::fs::read_to_string(transcript_path(name, "log")).unwrap();
    let exit = std::fs::read_to_string(transcript_path(name, "exit"))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(1);
    (text, exit)
}

/// The image a recorded openstack build made: (name, Glance id), from packer's own
/// `Creating the image: <name>` and `Image: <id>` lines.
pub fn recorded_image(name: &str) -> (String, String) {
    let (text, _) = transcript(name);
    let after = |prefix: &str| {
        text.lines()
            .find_map(|l| {
                l.split_once(prefix)
                    .map(|(_, rest)| rest.trim().to_string())
            })
            .unwrap_or_else(|| panic!("{name}: no `{prefix}` line"))
    };
    (
        after("openstack.rke2: Creating the image: "),
        after("openstack.rke2: Image: "),
    )
}

/// The stage scripts of the pipeline, in the order the template runs them.
pub const SCRIPTS: &[&str] = kiln::bake::plan::PIPELINE_SCRIPTS;

/// A fixed start time.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
}

/// Routes a whole transcript; each line's time is its packer timestamp (deterministic).
pub fn route(
    text: &str,
    exit: i32,
    cancel_requested: bool,
) -> (StageRouter, Vec<BuildEvent>, BuildOutcome) {
    let mut router = StageRouter::new(StagePlan::new(SCRIPTS), t0());
    let mut events = Vec::new();
    let mut at = t0();
    let first_ts: Option<i64> = text
        .lines()
        .next()
        .and_then(|l| l.split(',').next()?.parse().ok());
    for line in text.lines() {
        if let (Some(ts), Some(f)) = (
            line.split(',').next().and_then(|t| t.parse::<i64>().ok()),
            first_ts,
        ) {
            at = t0() + chrono::Duration::seconds(ts - f);
        }
        router.route_stdout(line, at, &mut events);
    }
    let ending = kiln::bake::router::Ending {
        exit_code: Some(exit),
        cancel_requested,
        escalated: false,
    };
    let outcome = router.finish(ending, at, &mut events);
    (router, events, outcome)
}

/// Stage names of StageStarted events, in order.
pub fn started(router: &StageRouter, events: &[BuildEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::StageStarted { stage, .. } => Some(router.plan().name(*stage).to_string()),
            _ => None,
        })
        .collect()
}

/// All log lines of a stage.
pub fn log_of(router: &StageRouter, events: &[BuildEvent], stage: &str) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Log { stage: s, line, .. } if router.plan().name(*s) == stage => {
                Some(line.clone())
            }
            _ => None,
        })
        .collect()
}

/// The kiln binary under test.
pub fn kiln_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kiln"))
}

/// True for environment variables a test must not inherit: credentials, packer variables, the
/// Pro token, kiln's own switches, XDG directories, NO_COLOR and the ssh-agent socket.
pub fn foreign_env(name: &str) -> bool {
    ["OS_", "PKR_VAR_", "KILN_", "XDG_"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["NO_COLOR", "UBUNTU_PRO_TOKEN", "PRO_TOKEN", "SSH_AUTH_SOCK"].contains(&name)
}

/// The environment variable that marks every process a test starts (inherited by kiln, packer
/// and its scripts), so /proc scans see only this test's processes.
pub const MARKER: &str = "KILN_TEST_MARKER";

/// A `Command` for kiln with an isolated HOME/XDG, no inherited credentials or packer variables,
/// and this home's marker (see [`processes_marked`]).
pub fn kiln(home: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(kiln_bin());
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(foreign_env) {
            c.env_remove(k);
        }
    }
    c.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env(MARKER, home)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Requires a tool on PATH, failing with what to install (CI installs it in .ci/run).
pub fn require_tool(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not on PATH: run .ci/run once (it installs packer, shellcheck, bats, jq)"
    );
}

/// The one build record directory under an isolated home.
pub fn record_dir(home: &Path) -> PathBuf {
    let builds = home.join("state/kiln/builds");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&builds)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "expected one record in {}", builds.display());
    dirs.remove(0)
}

/// build.json of the one record under an isolated home.
pub fn record_json(home: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(record_dir(home).join("build.json")).unwrap())
        .unwrap()
}

/// Command lines of the live processes started for `home` (they carry its marker; see
/// [`kiln`]) that mention `needle`. Other tests' processes are never seen.
pub fn processes_marked(home: &Path, needle: &str) -> Vec<String> {
    let marker = format!("{MARKER}={}", home.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .filter(|e| {
            // A zombie has been reaped by nobody yet but runs nothing: not "left running".
            std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
            })
        })
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

/// Waits for a child at most `limit`; None when it is still running then.
pub fn wait_until(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits for a child, killing it after `limit`: a hang is a test failure, never a hung CI.
pub fn wait_bounded(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    match wait_until(child, limit) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child did not exit within {limit:?}");
        }
    }
}
