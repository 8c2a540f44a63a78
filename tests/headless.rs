//! `kiln build --headless`, `kiln preflight`, `kiln history` as CI runs them: the real binary, a
//! fake `packer` on PATH that replays a real transcript, an isolated HOME/XDG.

mod common;

use std::path::Path;

use common::fake::{Env, events_of, json_lines};
use common::*;
use serde_json::Value;

#[test]
fn json_events_of_a_successful_build() {
    let env = Env::new("demo-success");
    let out = env.run(&["build", "--headless", "--json", "--skip-preflight"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = json_lines(&out);
    let started: Vec<&str> = events_of(&events, "stage_started")
        .iter()
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        started,
        [
            "launch",
            "upload",
            "01-system-packages",
            "02-install-rke2",
            "03-prepull-images",
            "04-harden",
            "06-manifest",
            "07-validate",
            "05-cleanup",
            "snapshot"
        ]
    );
    // Every started stage finishes ok, right before the next one starts.
    let mut open: Option<String> = None;
    for e in &events {
        match e["event"].as_str().unwrap() {
            "stage_started" => {
                assert!(open.is_none(), "{open:?} still open at {e}");
                assert!(chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).is_ok());
                open = Some(e["stage"].as_str().unwrap().to_string());
            }
            "stage_finished" => {
                assert_eq!(Some(e["stage"].as_str().unwrap().to_string()), open.take());
                assert_eq!(e["status"], "ok");
                assert!(e["seconds"].as_f64().unwrap() >= 0.0);
            }
            "log" => assert!(
                matches!(e["stream"].as_str(), Some("out" | "err")) && e["line"].is_string()
            ),
            "progress" => assert!(
                e["done"].as_u64().unwrap() <= e["total"].as_u64().unwrap()
                    && e["label"].is_string()
            ),
            "warning" => assert!(e["message"].is_string() && e["stage"].is_string()),
            "build_finished" => {}
            other => panic!("unknown event {other}"),
        }
    }
    let (image_name, image_id) = recorded_image("demo-success");
    let last = events.last().unwrap();
    assert_eq!(last["event"], "build_finished");
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["image_name"], image_name.as_str());
    assert_eq!(last["image_id"], image_id.as_str());
    assert_eq!(last["failed_stage"], Value::Null);
    assert!(!events_of(&events, "warning").is_empty());
    // packer ran as design §2 says: machine-readable, on the default template.
    let args = env.packer_args().unwrap();
    assert_eq!(args[..2], ["build", "-machine-readable"]);
    assert_eq!(args.last().unwrap(), "stages/rke2-node.pkr.hcl");
    // The record says the same.
    let rec = env.build_json();
    assert_eq!(rec["result"], "succeeded");
    assert_eq!(rec["image_id"], image_id.as_str());
    assert_eq!(rec["stages"].as_array().unwrap().len(), 10);
    assert_eq!(rec["fips"]["requested"], false);
}

#[test]
fn failed_build_exits_1_naming_the_stage_and_keeps_the_raw_log() {
    let env = Env::new("failed");
    let out = env.run(&["build", "--headless", "--json", "--skip-preflight"]);
    assert_eq!(out.status.code(), Some(1));
    let events = json_lines(&out);
    let last = events.last().unwrap();
    assert_eq!(last["status"], "failed");
    assert_eq!(last["failed_stage"], "03-prepull-images");
    assert_eq!(last["image_id"], Value::Null);
    let finished = events_of(&events, "stage_finished");
    assert_eq!(
        finished.iter().filter(|e| e["status"] == "failed").count(),
        1
    );
    let rec = env.build_json();
    assert_eq!(rec["result"], "failed");
    assert!(rec["error"].as_str().unwrap().contains("503"));
    // packer.log holds the raw lines, byte for byte.
    let raw = std::fs::read_to_string(record_dir(env.home()).join("packer.log")).unwrap();
    assert_eq!(raw, transcript("failed").0);
}

#[test]
fn plain_output_and_history() {
    let env = Env::new("demo-success");
    let (image_name, image_id) = recorded_image("demo-success");
    let out = env.run(&["build", "--headless", "--skip-preflight"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("==> 03-prepull-images started"), "{text}");
    assert!(text.contains("build succeeded"));
    assert!(text.contains(&format!("image id: {image_id}")), "{text}");
    let out = env.run(&["history", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["result"], "succeeded");
    assert_eq!(list[0]["image_name"], image_name.as_str());
    let out = env.run(&["history"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&image_name));
}

#[test]
fn fips_on_a_non_pro_image_refuses_without_acknowledgement() {
    let env = Env::new("demo-success");
    let out = env.run(&[
        "build",
        "--headless",
        "--json",
        "--skip-preflight",
        "--fips",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NOT FIPS-validated") && err.contains("--allow-unvalidated-fips"),
        "{err}"
    );
    assert!(env.packer_args().is_none(), "packer must not start");
}

#[test]
fn fips_acknowledged_is_recorded_as_not_validated() {
    let env = Env::new("demo-success");
    let out = env.run(&[
        "build",
        "--headless",
        "--json",
        "--skip-preflight",
        "--fips",
        "--allow-unvalidated-fips",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        env.packer_args()
            .unwrap()
            .contains(&"fips_enabled=true".to_string())
    );
    let rec = env.build_json();
    assert_eq!(rec["fips"]["requested"], true);
    assert_eq!(rec["fips"]["validated"], false);
    assert_eq!(rec["fips"]["acknowledged_unvalidated"], true);
}

#[test]
fn fips_on_ubuntu_pro_is_validated() {
    let env = Env::new("demo-success");
    let out = env.run(&[
        "build",
        "--headless",
        "--json",
        "--skip-preflight",
        "--fips",
        "--var",
        "source_image_name=ubuntu-pro-22.04-fips",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let args = env.packer_args().unwrap();
    assert!(args.contains(&"source_image_name=ubuntu-pro-22.04-fips".to_string()));
    let rec = env.build_json();
    assert_eq!(rec["fips"]["validated"], true);
    assert_eq!(rec["vars"]["fips_enabled"], "true");
}

fn artifacts(dir: &Path, tamper: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let mut list = String::new();
    for (name, body) in [
        ("rke2.linux-amd64.tar.gz", "bin"),
        ("rke2-images.linux-amd64.tar.zst", "images"),
    ] {
        std::fs::write(dir.join(name), body).unwrap();
        let digest =
            kiln::bake::preflight::sha256_file(&dir.join(name), name, &|_, _, _| {}).unwrap();
        list.push_str(&format!("{digest}  {name}\n"));
    }
    std::fs::write(dir.join("rke2-install.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(dir.join("sha256sum-amd64.txt"), list).unwrap();
    if tamper {
        std::fs::write(dir.join("rke2-images.linux-amd64.tar.zst"), "tampered").unwrap();
    }
}

fn preflight_env(tamper: bool) -> Env {
    let env = Env::new("demo-success");
    let files = env.home().join("files");
    artifacts(&files, tamper);
    let cfg = env.home().join("config/kiln/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &cfg,
        format!(
            "files_dir = \"{}\"\ncloud_timeout_seconds = 3\n[vars]\nflavor = \"m1.large\"\nnetwork_id = \"net-1\"\n",
            files.display()
        ),
    )
    .unwrap();
    env
}

#[test]
fn preflight_passes_with_good_artifacts_and_fails_on_a_mismatch() {
    let env = preflight_env(false);
    let run = |env: &Env| {
        let path = format!(
            "{}:{}",
            env.home().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        // Credentials present, cloud unreachable (nothing listens on port 9): a warning, not a failure.
        kiln(env.home())
            .env("PATH", path)
            .env("OS_AUTH_URL", "http://127.0.0.1:9/v3")
            .env("OS_USERNAME", "builder")
            .env("OS_PASSWORD", "s3cret-pass")
            .args(["preflight", "--json"])
            .output()
            .unwrap()
    };
    let out = run(&env);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["passed"], true);
    let status = |name: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["status"].clone())
    };
    assert_eq!(status("packer"), Some("ok".into()));
    assert_eq!(status("template"), Some("ok".into()));
    assert_eq!(
        status("artifact rke2-images.linux-amd64.tar.zst"),
        Some("ok".into())
    );
    assert_eq!(status("credentials"), Some("ok".into()));
    assert_eq!(status("source image"), Some("warn".into()));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("s3cret-pass"),
        "secrets never printed"
    );

    let env = preflight_env(true);
    let out = run(&env);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "artifact rke2-images.linux-amd64.tar.zst")
        .unwrap();
    assert_eq!(bad["status"], "fail");
    assert!(bad["detail"].as_str().unwrap().contains("sha256 mismatch"));
    assert!(bad["fix"].is_string());
}

#[test]
fn preflight_fails_on_template_variables_without_a_value() {
    let env = preflight_env(false);
    let cfg = env.home().join("config/kiln/config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    // flavor set on the command line, network_id nowhere.
    std::fs::write(&cfg, text.replace("network_id = \"net-1\"\n", "")).unwrap();
    let out = env.run(&["preflight", "--json", "--var", "flavor=m1.small"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{report:#}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"variable network_id"), "{names:?}");
    assert!(!names.contains(&"variable flavor"), "{names:?}");
    let fix = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "variable network_id")
        .unwrap()["fix"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fix.contains("--var network_id="), "{fix}");
}

#[test]
fn preflight_failure_stops_a_headless_build_with_exit_2() {
    let env = Env::new("demo-success");
    // No files/ artifacts and no credentials in this home: preflight fails, packer never runs.
    let cfg = env.home().join("config/kiln/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &cfg,
        format!("files_dir = \"{}\"\n", env.home().join("nofiles").display()),
    )
    .unwrap();
    let out = env.run(&["build", "--headless", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FAIL credentials"));
    assert!(env.packer_args().is_none());
}

#[test]
fn bad_config_names_file_line_and_key() {
    let env = Env::new("demo-success");
    let cfg = env.home().join("bad.toml");
    std::fs::write(
        &cfg,
        "theme = \"light\"\ncleanup_grace_seconds = \"soon\"\n",
    )
    .unwrap();
    let out = env.run(&["--config", cfg.to_str().unwrap(), "history"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(cfg.to_str().unwrap())
            && err.contains("line 2")
            && err.contains("`cleanup_grace_seconds`"),
        "{err}"
    );
}

#[test]
fn readonly_refuses_to_build() {
    let env = Env::new("demo-success");
    let out = env.run(&["--readonly", "build", "--headless", "--skip-preflight"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--readonly"));
    assert!(env.packer_args().is_none());
}

#[test]
fn missing_packer_is_a_clear_error() {
    let env = Env::new("demo-success");
    let out = kiln(env.home())
        .env("PATH", "/nonexistent")
        .args(["build", "--headless", "--skip-preflight"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("could not start `packer`") && err.contains("PATH"),
        "{err}"
    );
}
