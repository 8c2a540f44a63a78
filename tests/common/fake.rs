//! A home with a fake `packer` on PATH: it answers `version`, records its argv and environment,
//! and replays a real transcript (or runs a given script). For headless tests of the real kiln
//! binary.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use super::*;

/// An isolated home with a fake packer.
pub struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A home with a fake packer that replays `transcript` and exits with its recorded code.
    pub fn new(transcript_name: &str) -> Env {
        let (_, exit) = transcript(transcript_name);
        let log = transcript_path(transcript_name, "log");
        Env::script(&format!("cat '{}'\nexit {exit}\n", log.display()))
    }

    /// A home with a fake packer that runs `body` (sh) after recording its argv and environment.
    pub fn script(body: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'Packer v1.6.6'; exit 0; fi\nprintf '%s\\n' \"$@\" > '{args}'\nenv > '{env}'\n{body}",
            args = dir.path().join("packer-args").display(),
            env = dir.path().join("packer-env").display(),
        );
        let packer = bin.join("packer");
        std::fs::write(&packer, script).unwrap();
        std::fs::set_permissions(&packer, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        Env { dir }
    }

    /// The home.
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// kiln with the fake packer first on PATH.
    pub fn cmd(&self) -> std::process::Command {
        let path = format!(
            "{}:{}",
            self.home().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = kiln(self.home());
        c.env("PATH", path);
        c
    }

    /// Runs kiln to its end (bounded: a hang fails the test).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut child = self
            .cmd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
        let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
        let status = wait_bounded(&mut child, std::time::Duration::from_secs(120));
        Output {
            status,
            stdout: out.join().unwrap().into_bytes(),
            stderr: err.join().unwrap().into_bytes(),
        }
    }

    /// The environment the fake packer saw.
    pub fn packer_env(&self) -> Vec<String> {
        std::fs::read_to_string(self.home().join("packer-env"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The arguments the fake packer got.
    pub fn packer_args(&self) -> Option<Vec<String>> {
        std::fs::read_to_string(self.home().join("packer-args"))
            .ok()
            .map(|s| s.lines().map(str::to_string).collect())
    }

    /// The one record's build.json.
    pub fn build_json(&self) -> Value {
        record_json(self.home())
    }
}

/// The JSON lines of an output.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The events of one kind.
pub fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}
