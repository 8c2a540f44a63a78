//! The end-to-end build lab, shared by tests/e2e_build.rs and benches/e2e.rs: the real kiln
//! binary runs `kiln build --headless --json`, which runs Debian's real packer 1.6.6 on the real
//! `stages/rke2-node.pkr.hcl` (copied, byte for byte, with `stages/` into a workspace whose
//! `files/` holds a stand-in RKE2 release) against kiln's simulator (in-process, on a runtime of
//! its own), whose new servers get a real OpenSSH server on 127.0.0.1 as their SSH endpoint. That
//! sshd is the build VM: `tests/e2e/vm.sh` made its disk (a VM root the stage scripts reach
//! through TARGET_ROOT), the stubs first on its sessions' PATH (sudo, systemctl, apt-get, ...:
//! they act on the VM root) and a whitelist of harmless host tools after them, nothing else;
//! sessions get an empty HOME. When the simulator creates packer's server, the public key of the
//! keypair it was created with becomes sshd's only authorized key (what cloud-init does on a
//! real server).
//!
//! Every wait is bounded; everything started here is stopped by PID when the lab is dropped
//! (kiln, packer's process group, the sshd and its sessions, the simulator), after a failed
//! assertion too.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use kiln::sim::{FleetSize, Sim, SimConfig, SimEvent};
use serde_json::Value;

use super::sshd::{Sshd, SshdSpec};

/// The repository.
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// The kiln binary under test.
pub const KILN: &str = env!("CARGO_BIN_EXE_kiln");
/// Marks every process a lab starts (kiln, and through it packer): see [`Lab::kill_marked`].
pub const MARKER: &str = "KILN_E2E_LAB";
/// The stages a build reports, in order.
pub const STAGES: &[&str] = &[
    "launch",
    "upload",
    "01-system-packages",
    "02-install-rke2",
    "03-prepull-images",
    "04-harden",
    "06-manifest",
    "07-validate",
    "05-cleanup",
    "snapshot",
];

/// What a build run does on the VM (`tests/e2e/vm.sh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Every stage passes, every image is pre-pulled.
    Ok,
    /// Every stage passes; Harbor lacks one pinned image (kube-vip): a partial pre-pull, warned
    /// about by 03 and by the gate (07).
    Partial03,
    /// Stage 03 fails.
    Fail03,
    /// Stage 03 hangs (120 s at most).
    Hang03,
}

impl Scenario {
    fn word(self) -> &'static str {
        match self {
            Scenario::Ok => "ok",
            Scenario::Partial03 => "partial-03",
            Scenario::Fail03 => "fail-03",
            Scenario::Hang03 => "hang-03",
        }
    }
}

/// kiln's own figures for one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// kiln's CPU seconds (user + system), its own (`/proc/<pid>/stat` of the exited process
    /// before it is reaped: utime + stime).
    pub cpu: f64,
    /// CPU seconds of the children kiln reaped (packer and everything packer reaped).
    pub children_cpu: f64,
    /// kiln's and its reaped children's CPU seconds as `wait4` reports them (a cross-check:
    /// about `cpu + children_cpu`, at a finer resolution).
    pub total_cpu: f64,
    /// kiln's own peak RSS in KiB (VmHWM, sampled every 20 ms; kiln is a fresh exec, so the
    /// high-water mark is its own, not the lab's).
    pub peak_rss_kib: u64,
}

/// One `kiln build` run.
#[derive(Debug)]
pub struct Run {
    /// The JSON events kiln printed, in order.
    pub events: Vec<Value>,
    /// kiln's exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// What kiln wrote to stderr.
    pub stderr: String,
    /// kiln's own figures.
    pub usage: Usage,
}

impl Run {
    /// The events of one kind.
    pub fn of(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == kind).collect()
    }

    /// The one `build_finished` event.
    pub fn finished(&self) -> &Value {
        let f = self.of("build_finished");
        assert_eq!(f.len(), 1, "exactly one build_finished: {:#?}", self.events);
        f[0]
    }

    /// Stage names of `stage_started` events, in order.
    pub fn started(&self) -> Vec<String> {
        self.of("stage_started")
            .iter()
            .filter_map(|e| e["stage"].as_str().map(String::from))
            .collect()
    }

    /// (stage, status) of `stage_finished` events, in order.
    pub fn finished_stages(&self) -> Vec<(String, String)> {
        self.of("stage_finished")
            .iter()
            .map(|e| {
                (
                    e["stage"].as_str().unwrap_or("?").to_string(),
                    e["status"].as_str().unwrap_or("?").to_string(),
                )
            })
            .collect()
    }

    /// Every event, one per line, for failure messages.
    pub fn dump(&self) -> String {
        let mut s: String = self.events.iter().map(|e| format!("{e}\n")).collect();
        s.push_str("--- kiln stderr ---\n");
        s.push_str(&self.stderr);
        s
    }
}

/// The lab. Field order is drop order: the runtime goes last.
pub struct Lab {
    /// The simulator (admin credentials in kiln's and packer's environment).
    pub sim: Arc<Sim>,
    /// The build VM's sshd.
    pub sshd: Sshd,
    /// `tests/e2e/vm.sh`'s directory: bin/, safe/, files/, root/, scenario, calls.log.
    pub vm: PathBuf,
    /// kiln's working directory: stages/ (the repository's) and files/ (the stand-in release).
    pub workspace: PathBuf,
    /// kiln's HOME (records under state/kiln/builds).
    pub home: PathBuf,
    /// The network packer's server goes on.
    pub network_id: String,
    keys: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

/// Runs a shell command of the lab's setup, panicking with its output on failure.
fn sh(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run a setup command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("dir entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

impl Lab {
    /// Sets everything up: the VM (vm.sh), the workspace, the simulator (a small fleet dated two
    /// days ago, so today's image name is free and the new image is the newest), the sshd.
    pub fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("kiln-e2e-")
            .tempdir()
            .expect("tempdir");
        let vm = dir.path().join("vm");
        let workspace = dir.path().join("work");
        let home = dir.path().join("home");
        for d in [&vm, &workspace, &home, &dir.path().join("vm-home")] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        sh(Command::new("bash")
            .arg(Path::new(REPO).join("tests/e2e/vm.sh"))
            .arg("setup")
            .arg(&vm));
        copy_dir(&Path::new(REPO).join("stages"), &workspace.join("stages"));
        copy_dir(&vm.join("files"), &workspace.join("files"));

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let today = Utc::now().date_naive();
        let sim = rt
            .block_on(kiln::sim::start(SimConfig {
                fleet: FleetSize::Small,
                ..SimConfig::new(12, today - Days::new(2))
            }))
            .expect("simulator");
        let sim = Arc::new(sim);
        let network_id = sim.fleet().networks[0].id.clone();

        let sshd = Sshd::start(
            &dir.path().join("sshd"),
            &SshdSpec {
                env: vec![
                    format!(
                        "PATH={}:{}",
                        vm.join("bin").display(),
                        vm.join("safe").display()
                    ),
                    format!("TARGET_ROOT={}", vm.join("root").display()),
                    format!("KILN_E2E_DIR={}", vm.display()),
                    format!("HOME={}", dir.path().join("vm-home").display()),
                    "LANG=C.UTF-8".into(),
                ],
                // sshd's own debug lines would reach the sessions' stderr (packer's log)
                extra: vec!["LogLevel ERROR".into()],
                ..SshdSpec::default()
            },
        );
        // No key is authorized until a server is created with one.
        std::fs::write(sshd.dir.join("keys/authorized_keys"), "").expect("authorized_keys");
        sim.set_ssh_endpoint_for_new_servers(Some(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            sshd.port(),
        ))));
        let keys = {
            let sim = sim.clone();
            let mut events = sim.subscribe();
            let authorized = sshd.dir.join("keys/authorized_keys");
            rt.spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(SimEvent::ServerCreated { id, .. }) => {
                            if let Some(key) = sim.server_public_key(&id) {
                                let _ = std::fs::write(&authorized, format!("{}\n", key.trim()));
                            }
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            })
        };
        Lab {
            sim,
            sshd,
            vm,
            workspace,
            home,
            network_id,
            keys,
            dir,
            rt,
        }
    }

    /// The lab's directory (for scrubbing it out of recordings).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The VM root (TARGET_ROOT of the stage scripts).
    pub fn root(&self) -> PathBuf {
        self.vm.join("root")
    }

    /// The folder the template uploads to on the VM.
    pub fn build_dir(&self) -> PathBuf {
        self.root().join("var/tmp/kiln-build")
    }

    /// kiln with the lab's environment: the simulator's admin credentials (OS_*), an isolated
    /// HOME and XDG directories, the lab's marker, run from the workspace. Nothing of the
    /// caller's OS_*, PKR_VAR_*, KILN_*, XDG_* or ssh-agent reaches it.
    pub fn kiln(&self) -> Command {
        let mut c = Command::new(KILN);
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| {
                ["OS_", "PKR_VAR_", "KILN_", "XDG_"]
                    .iter()
                    .any(|p| k.starts_with(p))
                    || ["SSH_AUTH_SOCK", "UBUNTU_PRO_TOKEN", "NO_COLOR"].contains(&k)
            }) {
                c.env_remove(k);
            }
        }
        c.envs(self.sim.admin().openrc())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_STATE_HOME", self.home.join("state"))
            .env("CHECKPOINT_DISABLE", "1")
            .env(MARKER, self.dir.path())
            .current_dir(&self.workspace)
            .stdin(Stdio::null());
        c
    }

    /// `build --headless --json` and the variables that point the template at the lab.
    pub fn build_args(&self) -> Vec<String> {
        let mut a: Vec<String> = ["build", "--headless", "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (k, v) in [
            ("flavor", "m1.large".to_string()),
            ("network_id", self.network_id.clone()),
            ("ssh_username", self.sshd.user.clone()),
            ("ssh_port", self.sshd.port().to_string()),
            ("ssh_timeout", "2m".to_string()),
            ("build_dir", self.build_dir().display().to_string()),
        ] {
            a.push("--var".into());
            a.push(format!("{k}={v}"));
        }
        a
    }

    /// A fresh VM disk (a new server boots from the source image) and the scenario.
    pub fn prepare(&self, scenario: Scenario) {
        sh(Command::new("bash")
            .arg(Path::new(REPO).join("tests/e2e/vm.sh"))
            .arg("root")
            .arg(&self.vm));
        std::fs::write(self.vm.join("scenario"), format!("{}\n", scenario.word()))
            .expect("scenario");
    }

    /// Runs `cmd` (a [`Lab::kiln`] with the build's arguments) to its end, at most `limit`.
    /// `interrupt` sees every event; when it says true, kiln gets SIGINT (once).
    pub fn run(
        &self,
        cmd: &mut Command,
        limit: Duration,
        mut interrupt: impl FnMut(&Value) -> bool,
    ) -> Run {
        let stderr_path = self.dir.path().join("kiln.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let started = Instant::now();
        #[allow(clippy::zombie_processes)] // reaped by wait4 below
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn kiln");
        let pid = child.id() as i32;
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = started + limit;
        let mut events = Vec::new();
        let mut peak = 0u64;
        let mut signalled = false;
        loop {
            peak = peak.max(vm_hwm_kib(pid));
            match rx.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok(line)) => {
                    let v: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("not a JSON event ({e}): {line}"));
                    if !signalled && interrupt(&v) {
                        signal(pid, libc::SIGINT);
                        signalled = true;
                    }
                    events.push(v);
                }
                Ok(Err(_)) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            if Instant::now() > deadline {
                self.kill_marked();
                panic!(
                    "kiln did not finish within {limit:?}; events so far:\n{}",
                    events.iter().map(|e| format!("{e}\n")).collect::<String>()
                );
            }
        }
        // stdout is closed: wait for kiln to exit without reaping it (a thread blocks in
        // waitid(WNOWAIT); its answer is awaited with a deadline), read its own CPU time, then
        // reap it.
        let (exit_tx, exit_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = exit_tx.send(wait_exited_unreaped(pid));
        });
        let exited = loop {
            peak = peak.max(vm_hwm_kib(pid));
            match exit_rx.recv_timeout(Duration::from_millis(20)) {
                Ok(ok) => break ok,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break false,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if Instant::now() > deadline => {
                    break false;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
        };
        if !exited {
            self.kill_marked();
            panic!("kiln closed its stdout but did not exit within {limit:?}");
        }
        let (cpu, children_cpu) = cpu_of_exited(pid);
        let mut status = 0;
        // SAFETY: a zeroed rusage is a valid out-parameter; reaping our own exited child.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        assert_eq!(reaped, pid, "wait4");
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let wall = started.elapsed();
        let code = if libc::WIFEXITED(status) {
            Some(libc::WEXITSTATUS(status))
        } else {
            None
        };
        Run {
            events,
            code,
            wall,
            stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
            usage: Usage {
                cpu,
                children_cpu,
                total_cpu: secs(rusage.ru_utime) + secs(rusage.ru_stime),
                peak_rss_kib: peak,
            },
        }
    }

    /// One build: a fresh VM, `scenario`, the build's arguments; see [`Lab::run`].
    pub fn build(
        &self,
        scenario: Scenario,
        limit: Duration,
        interrupt: impl FnMut(&Value) -> bool,
    ) -> Run {
        self.prepare(scenario);
        let mut cmd = self.kiln();
        cmd.args(self.build_args());
        self.run(&mut cmd, limit, interrupt)
    }

    /// The record directory of the build that printed `run` (its `build.json` names the image
    /// or the failure; the newest record is the last build's).
    pub fn last_record(&self) -> PathBuf {
        let builds = self.home.join("state/kiln/builds");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&builds)
            .expect("records")
            .map(|e| e.expect("entry").path())
            .collect();
        dirs.sort_by_key(|d| {
            std::fs::metadata(d)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH)
        });
        dirs.pop().expect("a build record")
    }

    /// Every secret of the lab's cloud: the users' passwords, every token Keystone issued, and
    /// `more` (e.g. a Pro token given to a build).
    pub fn secrets(&self, more: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = [self.sim.admin().password, self.sim.member().password]
            .into_iter()
            .chain(self.sim.issued_tokens())
            .chain(more.iter().map(|s| s.to_string()))
            .filter(|s| !s.is_empty())
            .collect();
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        all
    }

    /// The packer.log of the last build record, made fit to ship as a transcript: the VM root
    /// becomes `/` (the paths read as on a build VM). Panics when kiln's log holds a secret of
    /// the lab ([`Lab::secrets`] with `more`; kiln scrubs what it knows, and packer never prints
    /// a token or the generated private key), or when anything of this machine is left: the
    /// lab's paths, the sshd's or the simulator's port.
    pub fn transcript(&self, more: &[&str]) -> String {
        let raw =
            std::fs::read_to_string(self.last_record().join("packer.log")).expect("packer.log");
        for (i, secret) in self.secrets(more).iter().enumerate() {
            assert!(
                !raw.contains(secret.as_str()),
                "secret #{i} of the lab (a password, token or the Pro token) is in packer.log"
            );
        }
        assert!(
            !raw.contains("PRIVATE KEY"),
            "a private key is in packer.log"
        );
        let text = raw.replace(&self.root().display().to_string(), "");
        let lab = self.dir.path().display().to_string();
        assert!(
            !text.contains(&lab),
            "the lab's path {lab} is left in:\n{text}"
        );
        for port in [self.sshd.port(), self.sim.addr().port()] {
            for form in [format!(":{port}"), format!(" {port} "), format!("={port}")] {
                assert!(!text.contains(&form), "port {port} is left in:\n{text}");
            }
        }
        text
    }

    /// Checks the last build's [`Lab::transcript`] (secrets `more` besides the lab's own) and,
    /// with `KILN_E2E_RECORD=DIR` set, writes it as `DIR/<name>.log` and packer's exit code as
    /// `DIR/<name>.exit` (how the demo's transcripts are recorded: tests/data/packer/record-demo.sh).
    pub fn record_transcript(&self, name: &str, packer_exit: i32, more: &[&str]) {
        let text = self.transcript(more);
        let Some(dir) = std::env::var_os("KILN_E2E_RECORD") else {
            return;
        };
        let dir = PathBuf::from(dir);
        std::fs::write(dir.join(format!("{name}.log")), text).expect("write log");
        std::fs::write(dir.join(format!("{name}.exit")), format!("{packer_exit}\n"))
            .expect("write exit");
    }

    /// Servers in the simulator now (ids).
    pub fn servers(&self) -> BTreeSet<String> {
        self.sim
            .server_ids()
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    /// Keypairs in the simulator now.
    pub fn keypairs(&self) -> BTreeSet<String> {
        self.sim.keypair_names().into_iter().collect()
    }

    /// Kills what a cancelled build left on the VM (packer drops the SSH session; the remote
    /// command goes on, as on a real server until it is deleted): every process of the sshd's
    /// sessions, by PID.
    pub fn kill_vm_sessions(&self) {
        for pid in self.sshd.session_pids() {
            signal(pid, libc::SIGKILL);
        }
    }

    /// Kills every process carrying the lab's marker (kiln, packer and its plugins) and their
    /// process groups (packer leads its own), by PID.
    pub fn kill_marked(&self) {
        let marker = format!("{MARKER}={}", self.dir.path().display());
        // SAFETY: getpgrp has no preconditions.
        let own_group = unsafe { libc::getpgrp() };
        for pid in marked_pids(&marker) {
            // SAFETY: getpgid on a PID has no preconditions.
            let group = unsafe { libc::getpgid(pid) };
            if group > 1 && group != own_group {
                // SAFETY: signalling a process group the lab started.
                unsafe { libc::kill(-group, libc::SIGKILL) };
            }
            signal(pid, libc::SIGKILL);
        }
    }

    /// Processes still carrying the lab's marker (not zombies).
    pub fn marked(&self) -> Vec<i32> {
        marked_pids(&format!("{MARKER}={}", self.dir.path().display()))
    }

    /// Runs a future on the lab's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.kill_marked();
        self.kill_vm_sessions();
        self.keys.abort();
        self.sshd.stop();
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: signalling a process the lab started.
    unsafe { libc::kill(pid, sig) };
}

/// VmHWM of a live process in KiB (0 once it has exited).
fn vm_hwm_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Blocks until the child has exited, leaving it unreaped (WNOWAIT): true when it did.
fn wait_exited_unreaped(pid: i32) -> bool {
    loop {
        // SAFETY: a zeroed siginfo is a valid out-parameter; waiting on our own child.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return true;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// (own, reaped children's) CPU seconds of an exited, unreaped process.
fn cpu_of_exited(pid: i32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest: Vec<f64> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let at = |i: usize| rest.get(i).copied().unwrap_or(0.0) / hz;
    // after the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14)
    (at(11) + at(12), at(13) + at(14))
}

fn marked_pids(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| *pid != me)
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/environ"))
                        .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
                })
                .filter(|pid| {
                    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                        s.rsplit(')')
                            .next()
                            .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}
