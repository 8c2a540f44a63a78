//! `kiln preflight` against a REAL Keystone + Glance on 127.0.0.1 (tests/cloud/start-openstack.sh:
//! Keystone 30 and Glance 33 from PyPI under gunicorn, sqlite, file store). Proves the source
//! image lookup, its status, its custom properties (FIPS) and rejected credentials end to end.
//!
//! Needs python3 with venv and, on the first run, network to PyPI (the venv is cached in
//! ${KILN_OPENSTACK_VENV:-~/.cache/kiln/openstack-venv}).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn cloud_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud")
}

/// The running services; dropping it stops them, on every exit path (panics included).
struct Cloud {
    /// Always Some until dropped; kept on disk when the test fails, for the service logs.
    dir: Option<tempfile::TempDir>,
    openrc: BTreeMap<String, String>,
}

impl Cloud {
    fn root(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    fn state(&self) -> PathBuf {
        self.root().join("state")
    }

    fn start() -> Cloud {
        let mut cloud = Cloud {
            dir: Some(tempfile::tempdir().unwrap()),
            openrc: BTreeMap::new(),
        };
        // The guard exists before the script runs: a start that fails half-way is stopped too.
        let out = Command::new("bash")
            .arg(cloud_dir().join("start-openstack.sh"))
            .arg(cloud.state())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run tests/cloud/start-openstack.sh");
        assert!(
            out.status.success(),
            "start-openstack.sh failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let text = std::fs::read_to_string(cloud.state().join("openrc")).unwrap();
        cloud.openrc = text
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(cloud.openrc.contains_key("OS_AUTH_URL"), "{text}");
        cloud
    }

    /// `kiln preflight --json ARGS` with the openrc's OS_* (plus `overrides`) and an isolated home.
    fn preflight(&self, args: &[&str], overrides: &[(&str, &str)]) -> Vec<Value> {
        let home = self.root().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
        cmd.arg("preflight").arg("--json").args(args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("OS_") {
                cmd.env_remove(&k);
            }
        }
        cmd.envs(&self.openrc)
            .envs(overrides.iter().copied())
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_STATE_HOME", home.join(".local/state"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(std::process::Stdio::null());
        let out = cmd.output().expect("run kiln");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let context = format!(
            "kiln preflight --json {args:?}: {}\nstdout: {stdout}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // files/ holds no artifacts here, so preflight always fails: exit 2, never a crash.
        assert_eq!(out.status.code(), Some(2), "{context}");
        let json: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {context}"));
        let checks = json["checks"].as_array().expect("checks[]").clone();
        for c in &checks {
            assert!(c["name"].is_string(), "{c}");
            assert!(c["detail"].is_string(), "{c}");
            assert!(c["fix"].is_string() || c["fix"].is_null(), "{c}");
            assert!(
                matches!(c["status"].as_str(), Some("ok" | "warn" | "fail")),
                "{c}"
            );
        }
        checks
    }
}

impl Drop for Cloud {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(cloud_dir().join("stop-openstack.sh"))
            .arg(self.state())
            .stdin(std::process::Stdio::null())
            .status();
        if std::thread::panicking() {
            let kept = self.dir.take().unwrap().keep();
            eprintln!("kept the cloud's state and logs in {}", kept.display());
        }
    }
}

/// The named check's (status, detail).
fn check<'a>(checks: &'a [Value], name: &str) -> (&'a str, &'a str) {
    let c = checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` check in {checks:#?}"));
    (c["status"].as_str().unwrap(), c["detail"].as_str().unwrap())
}

fn source(name: &str) -> String {
    format!("source_image_name={name}")
}

#[test]
fn preflight_looks_up_the_source_image_in_a_real_glance() {
    let cloud = Cloud::start();

    let checks = cloud.preflight(&["--var", &source("ubuntu-22.04")], &[]);
    let (status, detail) = check(&checks, "source image");
    assert_eq!(status, "ok", "{detail}");
    assert!(
        detail.contains("ubuntu-22.04") && detail.contains("active"),
        "{detail}"
    );
    assert_eq!(check(&checks, "credentials").0, "ok");

    let checks = cloud.preflight(&["--var", &source("no-such-image")], &[]);
    let (status, detail) = check(&checks, "source image");
    assert_eq!(status, "fail", "{detail}");
    let lower = detail.to_lowercase();
    assert!(
        lower.contains("not found") || lower.contains("no image named"),
        "{detail}"
    );

    let checks = cloud.preflight(&["--var", &source("ubuntu-queued")], &[]);
    let (status, detail) = check(&checks, "source image");
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains("queued"), "{detail}");

    let checks = cloud.preflight(&["--fips", "--var", &source("ubuntu-22.04")], &[]);
    assert_eq!(check(&checks, "source image").0, "ok");
    let (status, detail) = check(&checks, "fips");
    assert_eq!(status, "fail", "{detail}");

    let checks = cloud.preflight(&["--fips", "--var", &source("ubuntu-pro-22.04-fips")], &[]);
    assert_eq!(check(&checks, "source image").0, "ok");
    let (status, detail) = check(&checks, "fips");
    assert_eq!(status, "ok", "{detail}");
    // Properties are judged before the name: this proves Glance's custom property was read.
    assert!(detail.contains("ubuntu_pro"), "{detail}");

    let checks = cloud.preflight(
        &["--var", &source("ubuntu-22.04")],
        &[("OS_PASSWORD", "wrong")],
    );
    let (status, detail) = check(&checks, "source image");
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains("refused the credentials"), "{detail}");
}
