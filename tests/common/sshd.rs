//! A real OpenSSH server for tests and the inspect benchmark: Debian's /usr/sbin/sshd with its
//! own config, a generated host key and authorized_keys, listening on free 127.0.0.1 ports only,
//! `MaxStartups` raised, stub commands first on the sessions' PATH. Stopped by PID on drop (and
//! every session process it left, found by the marker its sessions carry), even on a failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs sshd.
pub const SSHD: &str = "/usr/sbin/sshd";
/// The marker every session process gets (see [`Sshd::stop`]).
pub const SESSION_MARKER: &str = "KILN_TEST_SSHD";

/// sshd's MAX_LISTEN_SOCKS.
pub const MAX_PORTS: usize = 16;

/// What a test server looks like.
#[derive(Debug, Clone)]
pub struct SshdSpec {
    /// How many ports (all served by one sshd).
    pub ports: usize,
    /// Extra sshd_config lines, written before the defaults: sshd keeps a keyword's first
    /// value, so they override them (no `Match` blocks).
    pub extra: Vec<String>,
    /// More `NAME=VALUE` for the sessions' environment (sshd reads one `SetEnv` line, the
    /// first: they go on it). A `PATH=...` here replaces the default PATH.
    pub env: Vec<String>,
}

impl Default for SshdSpec {
    fn default() -> Self {
        SshdSpec {
            ports: 1,
            extra: Vec::new(),
            env: Vec::new(),
        }
    }
}

/// A running sshd.
pub struct Sshd {
    /// Its directory (keys, config, log, stubs in `bin/`).
    pub dir: PathBuf,
    /// Its ports on 127.0.0.1.
    pub ports: Vec<u16>,
    /// The client key authorized_keys holds (`client_key.pub` beside it).
    pub client_key: PathBuf,
    /// A key authorized_keys does not hold.
    pub wrong_key: PathBuf,
    /// The host public key line (`ssh-ed25519 AAAA...`).
    pub host_key: String,
    /// The login name (the user running the tests).
    pub user: String,
    child: Option<Child>,
}

/// Runs a command (without credentials, packer variables, kiln's switches or the agent socket
/// in its environment), panicking with its stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| {
            ["OS_", "PKR_VAR_", "KILN_"]
                .iter()
                .any(|p| k.starts_with(p))
                || k == "SSH_AUTH_SOCK"
        }) {
            cmd.env_remove(k);
        }
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new ed25519 key pair at `path` (and `path.pub`), no passphrase.
pub fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "kiln-test", "-f"])
        .arg(path));
}

/// The user running the tests.
pub fn current_user() -> String {
    run(Command::new("id").arg("-un")).trim().to_string()
}

/// Free ports on 127.0.0.1, held together so they are distinct, then released.
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl Sshd {
    /// Starts an sshd under `dir` (created), retrying when a port was taken meanwhile.
    pub fn start(dir: &Path, spec: &SshdSpec) -> Sshd {
        assert!(
            spec.ports <= MAX_PORTS,
            "one sshd listens on at most {MAX_PORTS} sockets (MAX_LISTEN_SOCKS): start several"
        );
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} missing: run .ci/run once (it installs openssh-server)"
        );
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let host = keys.join("host_ed25519");
        let client_key = keys.join("client");
        let wrong_key = keys.join("wrong");
        for k in [&host, &client_key, &wrong_key] {
            if !k.exists() {
                keygen(k);
            }
        }
        std::fs::copy(keys.join("client.pub"), keys.join("authorized_keys")).unwrap();
        let host_key = std::fs::read_to_string(keys.join("host_ed25519.pub")).unwrap();
        let host_key = host_key
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let user = current_user();
        // sshd as root needs its privilege separation directory
        if run(Command::new("id").arg("-u")).trim() == "0" && !Path::new("/run/sshd").is_dir() {
            std::fs::create_dir_all("/run/sshd").unwrap();
        }
        let mut last_log = String::new();
        for _ in 0..5 {
            let ports = free_ports(spec.ports);
            let default_path = format!(
                "PATH={}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                dir.join("bin").display()
            );
            let path = spec
                .env
                .iter()
                .find(|v| v.starts_with("PATH="))
                .unwrap_or(&default_path);
            let more: Vec<&str> = spec
                .env
                .iter()
                .filter(|v| !v.starts_with("PATH="))
                .map(String::as_str)
                .collect();
            let mut cfg = String::new();
            for line in &spec.extra {
                cfg.push_str(line);
                cfg.push('\n');
            }
            for p in &ports {
                cfg.push_str(&format!("ListenAddress 127.0.0.1:{p}\n"));
            }
            cfg.push_str(&format!(
                "HostKey {host}\nPidFile {pid}\nAuthorizedKeysFile {ak}\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
                 StrictModes no\nUsePAM no\nAllowUsers {user}\nMaxStartups 400:30:800\nMaxSessions 64\n\
                 SetEnv {path} SHLVL=1 {SESSION_MARKER}={dir}{more}\n\
                 LogLevel DEBUG1\n",
                host = host.display(),
                pid = dir.join("sshd.pid").display(),
                ak = keys.join("authorized_keys").display(),
                dir = dir.display(),
                more = more.iter().map(|v| format!(" {v}")).collect::<String>(),
            ));
            let cfg_path = dir.join("sshd_config");
            std::fs::write(&cfg_path, cfg).unwrap();
            let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
            let child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&cfg_path)
                .env_clear()
                .env(SESSION_MARKER, dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut s = Sshd {
                dir: dir.to_path_buf(),
                ports,
                client_key: client_key.clone(),
                wrong_key: wrong_key.clone(),
                host_key: host_key.clone(),
                user: user.clone(),
                child: Some(child),
            };
            if s.wait_listening(Duration::from_secs(20)) {
                return s;
            }
            s.stop();
            last_log = std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default();
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("sshd did not start: {last_log}");
    }

    /// Polls until every port accepts a connection; false when sshd exited or time ran out.
    fn wait_listening(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut pending = self.ports.clone();
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut()
                && c.try_wait().unwrap().is_some()
            {
                return false;
            }
            pending.retain(|p| {
                std::net::TcpStream::connect_timeout(
                    &std::net::SocketAddr::from(([127, 0, 0, 1], *p)),
                    Duration::from_millis(200),
                )
                .is_err()
            });
            if pending.is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The listener's PID (None once stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The first port.
    pub fn port(&self) -> u16 {
        self.ports[0]
    }

    /// `127.0.0.1:<port>`.
    pub fn target(&self, port: u16) -> String {
        format!("127.0.0.1:{port}")
    }

    /// The known_hosts line for one of its ports.
    pub fn known_hosts_line(&self, port: u16) -> String {
        format!("[127.0.0.1]:{port} {}\n", self.host_key)
    }

    /// A known_hosts file trusting every port of this server.
    pub fn known_hosts(&self) -> String {
        self.ports
            .iter()
            .map(|p| self.known_hosts_line(*p))
            .collect()
    }

    /// Writes an executable stub `bin/<name>` (a POSIX sh script body).
    pub fn stub(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join("bin").join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// sshd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// Stops sshd by PID (TERM, then KILL after a bounded wait), then every session process
    /// still carrying this server's marker (a command left hanging on the node).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(c.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        for pid in self.session_pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// Processes started by this server's sessions (they carry its marker).
    pub fn session_pids(&self) -> Vec<i32> {
        let marker = format!("{SESSION_MARKER}={}", self.dir.display());
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
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}
