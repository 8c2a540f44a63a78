//! The build path under bad input and misbehaving peers, through the real binary with fake
//! packers: cancel escalation (a packer that ignores SIGINT, one that ignores everything), a
//! leftover process holding packer's output, packer exiting 0 without an image, packer missing,
//! preflight failing, two builds at once, a record that cannot be written, unknown
//! machine-readable lines, and plain output (each progress once, no terminal escapes).

mod common;

use std::io::BufRead;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fake::{Env, events_of, json_lines};
use common::*;
use serde_json::Value;

/// The start of a build, as packer prints it.
const STARTED: &str = "echo '1,,ui,say,==> openstack.rke2: Provisioning with shell script: stages/03-prepull-images.sh'\n";

fn config(env: &Env, text: &str) {
    let cfg = env.home().join("config/kiln/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(cfg, text).unwrap();
}

/// A running `kiln build --headless --json` whose events arrive on a channel.
struct Running {
    child: std::process::Child,
    events: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Running {
    fn start(env: &Env) -> Running {
        let mut child = env
            .cmd()
            .args(["build", "--headless", "--json", "--skip-preflight"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Running {
            child,
            events,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 30 s) for a log line containing `text`.
    fn wait_log(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self
            .seen
            .iter()
            .any(|e| e["line"].as_str().is_some_and(|l| l.contains(text)))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = self
                .events
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no `{text}` in {:?}", self.seen));
            self.seen.push(e);
        }
    }

    fn interrupt(&self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
    }

    /// Waits for kiln to exit (bounded) and collects the rest of its events.
    fn finish(mut self, limit: Duration) -> (Option<i32>, Vec<Value>, Duration) {
        let t = Instant::now();
        let status = wait_bounded(&mut self.child, limit);
        let took = t.elapsed();
        while let Ok(e) = self.events.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(e);
        }
        (status.code(), self.seen, took)
    }
}

fn finished(events: &[Value]) -> &Value {
    let f = events_of(events, "build_finished");
    assert_eq!(f.len(), 1, "exactly one build_finished: {events:?}");
    f[0]
}

#[test]
fn a_second_signal_escalates_to_sigterm_at_once() {
    let env = Env::script(&format!(
        "trap 'echo 2,,ui,error,got-int' INT\ntrap 'echo 3,,ui,error,got-term; exit 1' TERM\n{STARTED}echo '1,,ui,message,    openstack.rke2: pulling'\nwhile :; do sleep 0.1; done\n"
    ));
    // A long grace: only the second signal can end this build quickly.
    config(&env, "cleanup_grace_seconds = 300\n");
    let mut run = Running::start(&env);
    run.wait_log("pulling");
    run.interrupt();
    run.wait_log("got-int");
    run.interrupt();
    let (code, events, took) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130), "{events:?}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        events
            .iter()
            .any(|e| e["line"].as_str() == Some("got-term")),
        "SIGTERM reached packer: {events:?}"
    );
    let end = finished(&events);
    assert_eq!(end["status"], "cancelled");
    assert!(
        end["error"].as_str().unwrap().contains("packer_*"),
        "names what to check: {end}"
    );
    let stage_end = events_of(&events, "stage_finished");
    assert_eq!(stage_end.last().unwrap()["status"], "cancelled");
}

#[test]
fn a_packer_that_ignores_every_signal_is_killed_after_the_grace_time() {
    let env = Env::script(&format!(
        "trap '' INT TERM\n{STARTED}echo '1,,ui,message,    openstack.rke2: pulling'\nwhile :; do echo '2,,ui,message,    openstack.rke2: still here'; sleep 0.2; done\n"
    ));
    config(&env, "cleanup_grace_seconds = 1\n");
    let mut run = Running::start(&env);
    run.wait_log("pulling");
    run.interrupt();
    // SIGINT, 1 s grace, SIGTERM, 5 s, SIGKILL.
    let (code, events, took) = run.finish(Duration::from_secs(60));
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let end = finished(&events);
    assert_eq!(end["status"], "cancelled");
    assert!(
        end["error"]
            .as_str()
            .unwrap()
            .contains("cleanup may be incomplete")
    );
    let left = processes_marked(env.home(), "packer");
    assert!(left.is_empty(), "left running: {left:?}");
    let rec = env.build_json();
    assert_eq!(rec["result"], "cancelled");
}

#[test]
fn a_leftover_holding_packers_output_does_not_hang_the_build() {
    let (_, exit) = transcript("demo-success");
    let log = transcript_path("demo-success", "log");
    let env = Env::script(&format!(
        "setsid sleep 300 &\ncat '{}'\nexit {exit}\n",
        log.display()
    ));
    let run = Running::start(&env);
    let (code, events, took) = run.finish(Duration::from_secs(60));
    let left = processes_marked(env.home(), "sleep 300");
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        // Stop the leftover (it carries this test's marker).
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline"))
            && String::from_utf8_lossy(&cmd).starts_with("sleep\u{0}300")
            && std::fs::read(p.path().join("environ")).is_ok_and(|e| {
                String::from_utf8_lossy(&e).contains(&env.home().display().to_string())
            })
            && let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>()
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    assert!(
        !left.is_empty(),
        "the leftover was running while kiln finished"
    );
    assert_eq!(code, Some(0), "{events:?}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let end = finished(&events);
    assert_eq!(end["status"], "succeeded");
    assert!(end["seconds"].as_f64().unwrap() < 10.0, "{end}");
    assert_eq!(env.build_json()["result"], "succeeded");
}

#[test]
fn packer_exiting_0_without_an_image_is_a_failure() {
    let env = Env::script(&format!("{STARTED}exit 0\n"));
    let out = env.run(&["build", "--headless", "--json", "--skip-preflight"]);
    assert_eq!(out.status.code(), Some(1));
    let end = finished(&json_lines(&out)).clone();
    assert_eq!(end["status"], "failed");
    assert_eq!(end["image_id"], Value::Null);
    assert!(end["error"].as_str().unwrap().contains("no image"), "{end}");
}

#[test]
fn packer_missing_still_ends_with_build_finished() {
    let env = Env::new("demo-success");
    let out = kiln(env.home())
        .env("PATH", "/nonexistent")
        .args(["build", "--headless", "--json", "--skip-preflight"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let end = finished(&json_lines(&out)).clone();
    assert_eq!(end["status"], "failed");
    assert_eq!(end["failed_stage"], Value::Null);
    assert!(
        end["error"].as_str().unwrap().contains("could not start"),
        "{end}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not start `packer`"));
}

#[test]
fn a_failing_preflight_prints_its_checks_then_build_finished() {
    // No artifacts and no credentials in this home.
    let env = Env::new("demo-success");
    let out = env.run(&["build", "--headless", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let events = json_lines(&out);
    let pf = events_of(&events, "preflight");
    assert_eq!(pf.len(), 1);
    let checks = pf[0]["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["status"] == "fail" && c["fix"].is_string())
    );
    for c in checks {
        assert!(c["name"].is_string() && c["detail"].is_string(), "{c}");
    }
    let end = finished(&events);
    assert_eq!(end["status"], "failed");
    assert_eq!(end["failed_stage"], "preflight");
    assert!(
        end["error"]
            .as_str()
            .unwrap()
            .starts_with("preflight failed")
    );
    assert!(env.packer_args().is_none(), "packer never ran");
}

#[test]
fn two_builds_at_once_get_two_records_and_two_results() {
    let env = Env::new("demo-success");
    let runs: Vec<_> = (0..2).map(|_| Running::start(&env)).collect();
    let results: Vec<_> = runs
        .into_iter()
        .map(|r| r.finish(Duration::from_secs(60)))
        .collect();
    for (code, events, _) in &results {
        assert_eq!(*code, Some(0), "{events:?}");
        assert_eq!(finished(events)["status"], "succeeded");
    }
    let dirs = std::fs::read_dir(env.home().join("state/kiln/builds"))
        .unwrap()
        .count();
    assert_eq!(dirs, 2, "one record each");
}

#[test]
fn an_unwritable_record_is_a_warning_and_the_build_goes_on() {
    let env = Env::new("demo-success");
    // The state directory is a file: no record can be created.
    std::fs::write(env.home().join("state"), b"not a directory").unwrap();
    let out = env.run(&["build", "--headless", "--json", "--skip-preflight"]);
    assert_eq!(out.status.code(), Some(0));
    let events = json_lines(&out);
    let warnings = events_of(&events, "warning");
    assert!(
        warnings
            .iter()
            .any(|w| w["message"].as_str().unwrap().starts_with("build record:")),
        "{warnings:?}"
    );
    assert_eq!(finished(&events)["status"], "succeeded");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: build record"));
}

#[test]
fn unknown_lines_are_kept_and_plain_output_is_clean() {
    let env = Env::script(&format!(
        "{STARTED}echo '2,,frobnicate,new%!(PACKER_COMMA)data'\n\
         printf '3,,ui,message,    openstack.rke2: \\033[31mred\\033[0m text\\n'\n\
         echo '4,,ui,message,    openstack.rke2: kiln:progress 1/2 first'\n\
         echo '4,,ui,message,    openstack.rke2: kiln:warn careful'\n\
         echo '5,,ui,say,==> openstack.rke2: Creating the image: rke2-node-v1.28-20261125'\n\
         echo '6,,artifact,0,id,img-1'\nexit 0\n"
    ));
    let out = env.run(&["build", "--headless", "--json", "--skip-preflight"]);
    let events = json_lines(&out);
    assert!(
        events
            .iter()
            .any(|e| e["line"].as_str() == Some("frobnicate,new%!(PACKER_COMMA)data")),
        "an unknown type is a log line: {events:?}"
    );
    let out = env.run(&["build", "--headless", "--skip-preflight"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\u{1b}'), "no terminal escapes: {text:?}");
    assert!(text.contains("red text"), "{text}");
    assert_eq!(
        text.matches("1/2 first").count(),
        1,
        "progress once: {text}"
    );
    assert_eq!(text.matches("careful").count(), 1, "warning once: {text}");
}
