//! `kiln inspect` against the REAL OpenSSH server (Debian's sshd, started here on free
//! 127.0.0.1 ports with its own config, host key and authorized_keys): a node is a fake
//! filesystem under the test's directory (the manifest via --manifest-path) and stub commands
//! first on the sessions' PATH (rke2, ctr, pro, id, sudo). Every wait is bounded; sshd and what
//! its sessions left are stopped by PID on drop.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::sshd::{Sshd, SshdSpec, keygen, run};
use serde_json::Value;

const GOLDEN: &str = include_str!("stages/golden/image-manifest.json");

/// The pinned list as (upstream, harbor ref), read the way the console reads it.
fn pinned() -> Vec<(String, String)> {
    let list = kiln::manifest::PinnedList::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("stages/03-prepull-images.sh"),
    )
    .unwrap();
    list.images
        .iter()
        .map(|p| (p.upstream.clone(), p.harbor_ref("harbor.vitro.lan")))
        .collect()
}

/// A manifest for an image built from today's pinned list, every image pre-pulled.
fn good_manifest() -> String {
    let mut m: Value = serde_json::from_str(GOLDEN).unwrap();
    let p = pinned();
    m["prepulled_images"] = p.iter().map(|(_, h)| Value::from(h.clone())).collect();
    m["prepull_failures"] = Value::Array(vec![]);
    m["prepulled_image_upstream"] = p
        .iter()
        .map(|(u, h)| (h.clone(), Value::from(u.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    m["prepulled_image_digests"] = serde_json::json!({});
    serde_json::to_string_pretty(&m).unwrap()
}

/// One sshd, a fake node, an isolated home for kiln.
struct Lab {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    sshd: Sshd,
}

impl Lab {
    fn new() -> Lab {
        Lab::with(SshdSpec::default())
    }

    fn with(spec: SshdSpec) -> Lab {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let home = root.join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(root.join("node/etc/packer-build")).unwrap();
        let sshd = Sshd::start(&root.join("sshd"), &spec);
        std::fs::copy(&sshd.client_key, home.join(".ssh/id_ed25519")).unwrap();
        let lab = Lab {
            _tmp: tmp,
            root,
            home,
            sshd,
        };
        lab.write_manifest(&good_manifest());
        let images: String = pinned()
            .iter()
            .flat_map(|(u, h)| [format!("{h}\n"), format!("{u}\n")])
            .chain(["sha256:0123456789abcdef\n".to_string()])
            .collect();
        std::fs::write(lab.root.join("node/images.txt"), images).unwrap();
        lab.stub_node();
        lab
    }

    /// Stubs for a healthy node: not root (so `sudo -n` is used), RKE2's version, ctr listing
    /// the images only when asked for namespace k8s.io, pro not attached.
    fn stub_node(&self) {
        let node = self.root.join("node");
        let s = &self.sshd;
        s.stub(
            "id",
            r#"if [ "$1" = -u ]; then echo 1000; else exec /usr/bin/id "$@"; fi"#,
        );
        s.stub(
            "sudo",
            &format!(
                r#"[ "$1" = -n ] || {{ echo "stub sudo: no -n: $*" >&2; exit 1; }}
shift
echo "$*" >>{calls}
exec "$@""#,
                calls = node.join("sudo.calls").display()
            ),
        );
        s.stub(
            "rke2",
            r#"[ "$1" = --version ] || exit 2
printf 'rke2 version v1.28.15+rke2r1 (a1b2c3d)\ngo version go1.22.8\n'"#,
        );
        s.stub(
            "ctr",
            &format!(
                r#"case "$*" in
  *"--address /run/k3s/containerd/containerd.sock --namespace k8s.io images ls -q") exec cat {list} ;;
  *) echo "stub ctr: unexpected arguments: $*" >&2; exit 1 ;;
esac"#,
                list = node.join("images.txt").display()
            ),
        );
        s.stub(
            "pro",
            r#"[ "$*" = "status --format json" ] || exit 2
echo '{"attached": false, "services": []}'"#,
        );
    }

    fn manifest_path(&self) -> PathBuf {
        self.root.join("node/etc/packer-build/image-manifest.json")
    }

    fn write_manifest(&self, text: &str) {
        std::fs::write(self.manifest_path(), text).unwrap();
    }

    fn known_hosts(&self) -> PathBuf {
        self.home.join(".ssh/known_hosts")
    }

    fn trust(&self) {
        std::fs::write(self.known_hosts(), self.sshd.known_hosts()).unwrap();
    }

    fn config(&self, text: &str) {
        let dir = self.home.join("config/kiln");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), text).unwrap();
    }

    fn target(&self) -> String {
        self.sshd.target(self.sshd.port())
    }

    /// `kiln inspect <args> --user <me> --manifest-path <node manifest>`, bounded.
    fn inspect(&self, args: &[&str]) -> Outcome {
        self.inspect_limited(args, Duration::from_secs(60))
    }

    fn inspect_limited(&self, args: &[&str], limit: Duration) -> Outcome {
        let out = self.root.join("kiln.out");
        let err = self.root.join("kiln.err");
        let mut cmd = common::kiln(&self.home);
        cmd.arg("inspect")
            .args(args)
            .arg("--user")
            .arg(&self.sshd.user)
            .arg("--manifest-path")
            .arg(self.manifest_path());
        let rusage = self.root.join("kiln.rusage");
        let started = Instant::now();
        let code = run_measured(&cmd, &out, &err, &rusage, limit);
        let max_rss_kb = std::fs::read_to_string(&rusage)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(-1);
        let stdout = std::fs::read_to_string(&out).unwrap();
        let stderr = std::fs::read_to_string(&err).unwrap();
        Outcome {
            code,
            json: serde_json::from_str(&stdout).ok(),
            stdout,
            stderr,
            seconds: started.elapsed().as_secs_f64(),
            max_rss_kb,
        }
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    json: Option<Value>,
    seconds: f64,
    max_rss_kb: i64,
}

impl Outcome {
    /// The one host's object.
    fn host(&self) -> &Value {
        let Some(Value::Array(a)) = &self.json else {
            panic!("not a JSON array:\n{}\n{}", self.stdout, self.stderr);
        };
        assert_eq!(a.len(), 1, "{}", self.stdout);
        &a[0]
    }

    fn error(&self) -> String {
        self.host()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn kinds(&self) -> Vec<String> {
        self.host()["drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["kind"].as_str().unwrap().to_string())
            .collect()
    }

    fn finding(&self, kind: &str) -> Value {
        self.host()["drift"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {}", self.stdout))
            .clone()
    }
}

/// Runs `cmd` (stdout and stderr to the given files) under a small python3 parent that forks
/// it and writes its peak RSS (KiB, from wait4) to `rusage`: measured on a fresh process, so
/// the figure is kiln's own (a child spawned straight from this multi-threaded test process
/// inherits the test process's high-water mark, which a panic's backtrace elsewhere in the
/// suite raises past 100 MB). Bounded by `limit`: the whole process group is killed then.
fn run_measured(cmd: &Command, out: &Path, err: &Path, rusage: &Path, limit: Duration) -> i32 {
    use std::os::unix::process::CommandExt;
    const PARENT: &str = "import os, sys\n\
pid = os.fork()\n\
if pid == 0:\n    os.execvp(sys.argv[2], sys.argv[2:])\n\
_, status, usage = os.wait4(pid, 0)\n\
open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n\
sys.exit(os.waitstatus_to_exitcode(status))\n";
    let mut wrapped = Command::new("python3");
    wrapped
        .arg("-c")
        .arg(PARENT)
        .arg(rusage)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(cmd.get_current_dir().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(err).unwrap())
        .process_group(0);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let mut child = wrapped.spawn().expect("python3 (CI installs it)");
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    match common::wait_until(&mut child, limit) {
        Some(status) => status.code().unwrap_or(-1),
        None => {
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            panic!("kiln inspect did not finish within {limit:?}");
        }
    }
}

/// `ssh-keygen -lf`'s SHA256 fingerprint of the server's host key.
fn host_fingerprint(lab: &Lab) -> String {
    let out = run(Command::new("ssh-keygen")
        .arg("-lf")
        .arg(lab.sshd.dir.join("keys/host_ed25519.pub")));
    out.split_whitespace().nth(1).unwrap().to_string()
}

/// "Accepted publickey" lines in sshd's log (one per authenticated connection).
fn logins(lab: &Lab) -> usize {
    lab.sshd.log().matches("Accepted publickey").count()
}

#[test]
fn a_good_read_reports_the_node_and_no_drift() {
    let lab = Lab::new();
    lab.trust();
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let h = o.host();
    assert_eq!(h["host"], lab.target());
    assert_eq!(h["ok"], true);
    assert_eq!(h["error"], Value::Null);
    assert_eq!(h["manifest"]["schema_version"], "1.0");
    assert_eq!(h["manifest"]["kubernetes"]["version"], "v1.28.15+rke2r1");
    assert_eq!(h["rke2_version"], "v1.28.15+rke2r1");
    let kernel = std::fs::read_to_string("/proc/sys/crypto/fips_enabled").ok();
    match kernel.as_deref().map(str::trim) {
        Some("1") => assert_eq!(h["fips_enabled_kernel"], true),
        Some("0") => assert_eq!(h["fips_enabled_kernel"], false),
        _ => assert_eq!(h["fips_enabled_kernel"], Value::Null),
    }
    let images = h["images_present"].as_array().unwrap();
    assert_eq!(
        images.len(),
        28,
        "14 pinned images under both names, ids left out"
    );
    assert!(images.contains(&Value::from(
        "registry.k8s.io/provider-os/cinder-csi-plugin:v1.30.0"
    )));
    // a node that is not root: ctr ran through `sudo -n`
    let sudo = std::fs::read_to_string(lab.root.join("node/sudo.calls")).unwrap();
    assert!(sudo.contains("--namespace k8s.io images ls -q"), "{sudo}");
    if kernel.as_deref().map(str::trim) == Some("1") {
        // a FIPS machine: the manifest says false
        assert_eq!(o.kinds(), ["fips-not-recorded"]);
    } else {
        assert_eq!(h["drift"], Value::Array(vec![]), "{}", o.stdout);
    }
    assert_eq!(logins(&lab), 1, "one connection for every read");

    // the same node, human output
    let o = lab.inspect(&[&lab.target()]);
    assert_eq!(o.code, 0);
    assert!(
        o.stdout
            .contains(&format!("{}  ok  rke2-node-v1.28-20260407", lab.target())),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("28 images"), "{}", o.stdout);
}

#[test]
fn drift_of_severity_error_exits_1_and_is_listed() {
    let lab = Lab::new();
    lab.trust();
    // the node runs another RKE2 and lost one image's upstream name
    lab.sshd
        .stub("rke2", r#"printf 'rke2 version v1.29.9+rke2r1 (x)\n'"#);
    let list = std::fs::read_to_string(lab.root.join("node/images.txt")).unwrap();
    let gone = "registry.k8s.io/sig-storage/csi-attacher:v4.6.1";
    std::fs::write(
        lab.root.join("node/images.txt"),
        list.replace(&format!("{gone}\n"), ""),
    )
    .unwrap();
    // and the manifest claims FIPS
    let mut m: Value = serde_json::from_str(&good_manifest()).unwrap();
    m["fips_enabled"] = true.into();
    lab.write_manifest(&serde_json::to_string(&m).unwrap());
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    let f = o.finding("rke2-version-mismatch");
    assert_eq!(f["severity"], "error");
    assert!(f["detail"].as_str().unwrap().contains("v1.29.9+rke2r1"));
    let f = o.finding("upstream-name-missing");
    assert!(f["detail"].as_str().unwrap().contains(gone));
    let fips_kernel = std::fs::read_to_string("/proc/sys/crypto/fips_enabled")
        .map(|s| s.trim() == "1")
        .unwrap_or(false);
    if !fips_kernel {
        assert_eq!(o.finding("fips-not-enabled")["severity"], "error");
    }
}

#[test]
fn an_unknown_host_is_refused_with_its_fingerprint_and_accept_new_records_it() {
    let lab = Lab::new();
    std::fs::write(lab.known_hosts(), "# nothing yet\n").unwrap();
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let e = o.error();
    assert_eq!(o.host()["ok"], false);
    assert!(e.contains("host key not known"), "{e}");
    assert!(e.contains(&host_fingerprint(&lab)), "{e}");
    assert!(e.contains("--accept-new"), "{e}");
    assert_eq!(
        std::fs::read_to_string(lab.known_hosts()).unwrap(),
        "# nothing yet\n"
    );
    assert_eq!(logins(&lab), 0, "nothing sent to an unknown host");

    let o = lab.inspect(&[&lab.target(), "--json", "--accept-new"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let kh = std::fs::read_to_string(lab.known_hosts()).unwrap();
    assert_eq!(
        kh,
        format!(
            "# nothing yet\n{}",
            lab.sshd.known_hosts_line(lab.sshd.port())
        )
    );
    // recorded: trusted from now on without the flag
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        std::fs::read_to_string(lab.known_hosts()).unwrap(),
        kh,
        "recorded once"
    );
}

#[test]
fn a_changed_host_key_is_refused_naming_the_line_even_with_accept_new() {
    let lab = Lab::new();
    let other = lab.root.join("other_host_key");
    keygen(&other);
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let other_pub: Vec<&str> = other_pub.split_whitespace().take(2).collect();
    let kh = format!(
        "# lab hosts\nnode-9 {}\n[127.0.0.1]:{} {}\n",
        lab.sshd.host_key,
        lab.sshd.port(),
        other_pub.join(" ")
    );
    std::fs::write(lab.known_hosts(), &kh).unwrap();
    for extra in [None, Some("--accept-new")] {
        let mut args = vec![lab.target(), "--json".to_string()];
        args.extend(extra.map(str::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = lab.inspect(&args);
        assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
        let e = o.error();
        assert!(e.contains("HOST KEY CHANGED"), "{e}");
        assert!(
            e.contains(&format!("{}:3", lab.known_hosts().display())),
            "the line, comments counted: {e}"
        );
        assert!(e.contains(&host_fingerprint(&lab)), "{e}");
        assert_eq!(std::fs::read_to_string(lab.known_hosts()).unwrap(), kh);
    }
    assert_eq!(logins(&lab), 0);
}

#[test]
fn a_wrong_key_is_a_clear_auth_error_and_no_password_is_tried() {
    let lab = Lab::new();
    lab.trust();
    std::fs::copy(&lab.sshd.wrong_key, lab.home.join(".ssh/id_ed25519")).unwrap();
    // an encrypted key: said, never decrypted, its passphrase never anywhere
    let enc = lab.root.join("encrypted_key");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "sekrit-passphrase-42", "-f"])
        .arg(&enc));
    let enc_s = enc.display().to_string();
    let o = lab.inspect(&[&lab.target(), "--json", "--identity", &enc_s]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let e = o.error();
    assert!(
        e.contains(&format!("authentication as `{}` failed", lab.sshd.user)),
        "{e}"
    );
    assert!(
        e.contains(&lab.home.join(".ssh/id_ed25519").display().to_string()),
        "{e}"
    );
    assert!(e.contains(&format!("{enc_s} is encrypted")), "{e}");
    assert!(!o.stdout.contains("sekrit") && !o.stderr.contains("sekrit"));
    let log = lab.sshd.log();
    assert!(log.contains("method publickey"), "{log}");
    assert!(
        !log.contains("method password") && !log.contains("method keyboard-interactive"),
        "{log}"
    );
}

#[test]
fn a_malformed_manifest_is_drift_with_line_and_column() {
    let lab = Lab::new();
    lab.trust();
    lab.write_manifest("{\n  \"schema_version\": \"1.0\",\n  \"built_by\": 3\n}\n");
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.host()["ok"], true);
    assert_eq!(o.host()["manifest"], Value::Null);
    let f = o.finding("manifest-invalid");
    let d = f["detail"].as_str().unwrap();
    assert!(
        d.contains(&format!(
            "{}:{}",
            lab.target(),
            lab.manifest_path().display()
        )),
        "{d}"
    );
    assert!(d.contains("line 3, column"), "{d}");

    lab.write_manifest(r#"{"schema_version": "2.0", "whatever": 1}"#);
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 1);
    assert!(
        o.finding("manifest-schema-unsupported")["detail"]
            .as_str()
            .unwrap()
            .contains("2.0")
    );
}

#[test]
fn a_command_that_hangs_times_out() {
    let lab = Lab::new();
    lab.trust();
    lab.config("[ssh]\ncommand_timeout_seconds = 3\n");
    // bounded even if nobody kills it; sshd's sessions are killed by PID on drop anyway
    lab.sshd.stub("rke2", "sleep 30");
    let o = lab.inspect_limited(&[&lab.target(), "--json"], Duration::from_secs(30));
    assert!(o.seconds < 20.0, "took {}s", o.seconds);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.host()["rke2_version"], Value::Null);
    let f = o.finding("command-timed-out");
    assert_eq!(f["severity"], "warning");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("rke2 --version did not finish within 3s")
    );
    assert!(!o.kinds().contains(&"rke2-version-mismatch".to_string()));
}

#[test]
fn huge_output_is_bounded() {
    let lab = Lab::new();
    lab.trust();
    // 200 MB after the version line
    lab.sshd.stub(
        "rke2",
        "printf 'rke2 version v1.28.15+rke2r1 (x)\\n'; head -c 200000000 /dev/zero",
    );
    let o = lab.inspect_limited(&[&lab.target(), "--json"], Duration::from_secs(60));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.host()["rke2_version"], "v1.28.15+rke2r1");
    let f = o.finding("output-truncated");
    assert!(f["detail"].as_str().unwrap().contains("rke2 --version"));
    assert!(
        o.max_rss_kb < 120 * 1024,
        "kiln's peak RSS {} KiB for 200 MB of output",
        o.max_rss_kb
    );
}

#[test]
fn a_node_without_the_commands_is_findings_not_a_crash() {
    let lab = Lab::new();
    lab.trust();
    for stub in ["rke2", "ctr", "pro"] {
        std::fs::remove_file(lab.sshd.dir.join("bin").join(stub)).unwrap();
    }
    // a root node this time: no sudo in the way
    std::fs::remove_file(lab.sshd.dir.join("bin/id")).unwrap();
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.host()["ok"], true);
    assert_eq!(o.finding("rke2-missing")["severity"], "error");
    let k = o.kinds();
    assert!(
        k.contains(&"command-missing".to_string())
            || k.contains(&"image-store-unreadable".to_string()),
        "{k:?}"
    );
    assert!(!k.contains(&"image-missing".to_string()), "{k:?}");
}

#[test]
fn nodes_behind_a_jump_host_are_reached_through_it() {
    // two ports on the node's sshd: the jump host lets one through
    let lab = Lab::with(SshdSpec {
        ports: 2,
        extra: vec![],
        env: vec![],
    });
    let (allowed, denied) = (lab.sshd.ports[0], lab.sshd.ports[1]);
    let jump = Sshd::start(
        &lab.root.join("jump"),
        &SshdSpec {
            ports: 1,
            extra: vec![format!("PermitOpen 127.0.0.1:{allowed}")],
            env: vec![],
        },
    );
    // the jump host authorises the same client key
    std::fs::copy(
        lab.sshd.dir.join("keys/client.pub"),
        jump.dir.join("keys/authorized_keys"),
    )
    .unwrap();
    std::fs::write(
        lab.known_hosts(),
        format!("{}{}", lab.sshd.known_hosts(), jump.known_hosts()),
    )
    .unwrap();
    let via = format!("{}@127.0.0.1:{}", jump.user, jump.port());
    let o = lab.inspect(&[&lab.sshd.target(allowed), "--json", "--jump", &via]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.host()["rke2_version"], "v1.28.15+rke2r1");
    let log = jump.log();
    assert!(
        log.contains(&format!(
            "server_request_direct_tcpip: originator 127.0.0.1 port 0, target 127.0.0.1 port {allowed}"
        )),
        "the jump host carried the connection: {log}"
    );

    let o = lab.inspect(&[&lab.sshd.target(denied), "--json", "--jump", &via]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let e = o.error();
    assert!(e.contains(&format!("through jump host {via}")), "{e}");
}

/// A TCP front for sshd that resets the first `resets` connections (RST, before the SSH
/// banner: what sshd's MaxStartups does) and relays the rest; counts connections.
struct ResettingProxy {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ResettingProxy {
    fn start(backend: u16, resets: usize, serve: usize) -> ResettingProxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut n = 0;
            while n < resets + serve && Instant::now() < deadline {
                let Ok((conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                n += 1;
                count.fetch_add(1, Ordering::SeqCst);
                conn.set_nonblocking(false).unwrap();
                if n <= resets {
                    reset(conn);
                    continue;
                }
                let Ok(up) = std::net::TcpStream::connect(("127.0.0.1", backend)) else {
                    continue;
                };
                for (mut a, mut b) in [
                    (conn.try_clone().unwrap(), up.try_clone().unwrap()),
                    (up, conn),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut a, &mut b);
                        let _ = b.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        ResettingProxy { port, accepted }
    }
}

/// Closes with RST (SO_LINGER 0).
fn reset(conn: std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(conn);
}

#[test]
fn a_reset_during_key_exchange_is_retried_once() {
    use std::sync::atomic::Ordering;
    let lab = Lab::new();
    let proxy = ResettingProxy::start(lab.sshd.port(), 1, 1);
    std::fs::write(
        lab.known_hosts(),
        format!("[127.0.0.1]:{} {}\n", proxy.port, lab.sshd.host_key),
    )
    .unwrap();
    let target = format!("127.0.0.1:{}", proxy.port);
    let o = lab.inspect(&[&target, "--json"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 2);

    // reset every time: one retry only, then a clear error
    let proxy = ResettingProxy::start(lab.sshd.port(), 5, 0);
    std::fs::write(
        lab.known_hosts(),
        format!("[127.0.0.1]:{} {}\n", proxy.port, lab.sshd.host_key),
    )
    .unwrap();
    let target = format!("127.0.0.1:{}", proxy.port);
    let o = lab.inspect(&[&target, "--json"]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    assert!(o.error().contains("MaxStartups"), "{}", o.error());
    assert_eq!(
        proxy.accepted.load(Ordering::SeqCst),
        2,
        "one retry, not more"
    );
}

#[test]
fn many_hosts_one_array_in_order_with_exit_2_for_the_unreachable() {
    let lab = Lab::with(SshdSpec {
        ports: 3,
        extra: vec![],
        env: vec![],
    });
    lab.trust();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let t: Vec<String> = lab.sshd.ports.iter().map(|p| lab.sshd.target(*p)).collect();
    let o = lab.inspect(&[&t[0], &dead, &t[1], &t[2], "--json"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    let a = o.json.as_ref().unwrap().as_array().unwrap();
    let hosts: Vec<&str> = a.iter().map(|h| h["host"].as_str().unwrap()).collect();
    assert_eq!(hosts, [t[0].as_str(), &dead, &t[1], &t[2]]);
    assert_eq!(a[1]["ok"], false);
    assert!(
        a[1]["error"].as_str().unwrap().contains("cannot connect"),
        "{}",
        a[1]
    );
    assert!(a.iter().filter(|h| h["ok"] == true).count() == 3);
}

/// The console's hook: an unknown key is put to the policy with its SHA256 fingerprint; the
/// connect timeout waits while the operator decides (here longer than the timeout), and a
/// trusted key is recorded. Through the library API the console calls.
#[test]
fn the_host_key_hook_shows_the_fingerprint_and_the_timeout_waits_for_the_decision() {
    use kiln::node::hostkey::DecisionFuture;
    use kiln::node::{HostKeyDecision, HostKeyPolicy, InspectOptions, Target, UnknownHostKey};
    use std::sync::{Arc, Mutex};

    struct SlowOperator(Mutex<Vec<UnknownHostKey>>);
    impl HostKeyPolicy for SlowOperator {
        fn decide<'a>(&'a self, key: &'a UnknownHostKey) -> DecisionFuture<'a> {
            if let Ok(mut asked) = self.0.lock() {
                asked.push(key.clone());
            }
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                HostKeyDecision::TrustAndRecord
            })
        }
    }

    let lab = Lab::new();
    let mut o = InspectOptions::new(&lab.home);
    o.user = lab.sshd.user.clone();
    o.manifest_path = lab.manifest_path().display().to_string();
    o.connect_timeout = Duration::from_millis(500);
    let operator = Arc::new(SlowOperator(Mutex::new(Vec::new())));
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = Target::new("127.0.0.1", lab.sshd.port());
    let reports = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            kiln::node::inspect(
                std::slice::from_ref(&target),
                &o,
                &kiln::manifest::Expectations::default(),
                operator.clone(),
                Arc::new(move |p: kiln::node::Progress| seen.lock().unwrap().push(p.stage)),
            ),
        )
        .await
    });
    let reports = reports.expect("bounded");
    assert!(reports[0].ok, "{:?}", reports[0].error);
    // the console's raw view: the manifest's text as read
    assert_eq!(
        reports[0].facts.as_ref().unwrap().manifest_text.as_deref(),
        Some(
            std::fs::read_to_string(lab.manifest_path())
                .unwrap()
                .as_str()
        )
    );
    let asked = operator.0.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].fingerprint, host_fingerprint(&lab));
    assert_eq!(asked[0].algorithm, "ssh-ed25519");
    assert_eq!(asked[0].port, lab.sshd.port());
    assert_eq!(
        std::fs::read_to_string(lab.known_hosts()).unwrap(),
        lab.sshd.known_hosts_line(lab.sshd.port())
    );
    let stages = events.lock().unwrap().clone();
    assert_eq!(
        stages,
        [
            kiln::node::Stage::Queued,
            kiln::node::Stage::Connecting,
            kiln::node::Stage::Reading,
            kiln::node::Stage::Done {
                ok: true,
                errors: 0
            }
        ]
    );
}

/// An ssh-agent started here (stopped by PID on drop).
struct Agent {
    child: std::process::Child,
    sock: PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent (openssh-client)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(Instant::now() < deadline, "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Agent { child, sock }
    }

    fn add(&self, key: &Path) {
        run(Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_agent_is_tried_first_and_its_key_is_enough() {
    let lab = Lab::new();
    lab.trust();
    // no key file at all: only the agent holds the authorised key, after a wrong one
    std::fs::remove_file(lab.home.join(".ssh/id_ed25519")).unwrap();
    let agent = Agent::start(&lab.root);
    agent.add(&lab.sshd.wrong_key);
    agent.add(&lab.sshd.client_key);
    let o = {
        // SSH_AUTH_SOCK is stripped from every child unless a test sets it: this one does
        let out = lab.root.join("agent.out");
        let err = lab.root.join("agent.err");
        let mut cmd = common::kiln(&lab.home);
        cmd.arg("inspect")
            .arg(lab.target())
            .arg("--json")
            .arg("--user")
            .arg(&lab.sshd.user)
            .arg("--manifest-path")
            .arg(lab.manifest_path())
            .env("SSH_AUTH_SOCK", &agent.sock);
        let code = run_measured(
            &cmd,
            &out,
            &err,
            &lab.root.join("agent.rusage"),
            Duration::from_secs(60),
        );
        (
            code,
            std::fs::read_to_string(out).unwrap(),
            std::fs::read_to_string(err).unwrap(),
        )
    };
    assert_eq!(o.0, 0, "{}\n{}", o.1, o.2);
    let log = lab.sshd.log();
    assert_eq!(logins(&lab), 1, "{log}");
    // the wrong key was offered first (the agent's order), then the right one
    let fp = |k: &Path| {
        run(Command::new("ssh-keygen")
            .arg("-lf")
            .arg(k.with_extension("pub")))
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
    };
    let (wrong, right) = (fp(&lab.sshd.wrong_key), fp(&lab.sshd.client_key));
    let first_wrong = log.find(&wrong).expect("the agent's first key was offered");
    let accepted = log
        .find(&format!("Accepted publickey for {}", lab.sshd.user))
        .unwrap();
    assert!(first_wrong < accepted, "{log}");
    assert!(log[accepted..].contains(&right), "{log}");
}

/// The fan-out is bounded: with `parallel = 2`, never more than two nodes between Connecting
/// and Done, and every node is read; reports come back in the order given.
#[test]
fn the_fan_out_is_bounded_and_reports_keep_their_order() {
    use std::sync::{Arc, Mutex};
    let lab = Lab::with(SshdSpec {
        ports: 5,
        extra: vec![],
        env: vec![],
    });
    lab.trust();
    let mut o = kiln::node::InspectOptions::new(&lab.home);
    o.user = lab.sshd.user.clone();
    o.manifest_path = lab.manifest_path().display().to_string();
    o.parallel = 2;
    let targets: Vec<kiln::node::Target> = lab
        .sshd
        .ports
        .iter()
        .rev()
        .map(|p| kiln::node::Target::new("127.0.0.1", *p))
        .collect();
    let state = Arc::new(Mutex::new((0usize, 0usize))); // (in flight, most in flight)
    let s = state.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let reports = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            kiln::node::inspect(
                &targets,
                &o,
                &kiln::manifest::Expectations::default(),
                Arc::new(kiln::node::AcceptNew(false)),
                Arc::new(move |p: kiln::node::Progress| {
                    let mut st = s.lock().unwrap();
                    match p.stage {
                        kiln::node::Stage::Connecting => {
                            st.0 += 1;
                            st.1 = st.1.max(st.0);
                        }
                        kiln::node::Stage::Done { .. } => st.0 -= 1,
                        _ => {}
                    }
                }),
            ),
        )
        .await
        .expect("bounded")
    });
    assert_eq!(
        state.lock().unwrap().1,
        2,
        "at most (and, with 5 nodes, exactly) 2 at once"
    );
    let order: Vec<kiln::node::Target> = reports.iter().map(|r| r.target.clone()).collect();
    assert_eq!(order, targets);
    assert!(
        reports.iter().all(|r| r.ok),
        "{:?}",
        reports.iter().map(|r| &r.error).collect::<Vec<_>>()
    );
    assert_eq!(logins(&lab), 5);
}

#[test]
fn crictl_stands_in_for_ctr_and_a_sudo_that_wants_a_password_is_said() {
    let lab = Lab::new();
    lab.trust();
    std::fs::remove_file(lab.sshd.dir.join("bin/ctr")).unwrap();
    let tags: Vec<String> = pinned()
        .iter()
        .flat_map(|(u, h)| [format!("\"{h}\""), format!("\"{u}\"")])
        .collect();
    lab.sshd.stub(
        "crictl",
        &format!(
            r#"case "$*" in
  "--runtime-endpoint unix:///run/k3s/containerd/containerd.sock --timeout 3 images -o json") ;;
  *) echo "stub crictl: unexpected arguments: $*" >&2; exit 1 ;;
esac
echo '{{"images": [{{"id": "sha256:1", "repoTags": [{}], "repoDigests": []}}]}}'"#,
            tags.join(", ")
        ),
    );
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(o.host()["images_present"].as_array().unwrap().len(), 28);

    lab.sshd
        .stub("sudo", r#"echo "sudo: a password is required" >&2; exit 1"#);
    let o = lab.inspect(&[&lab.target(), "--json"]);
    assert_eq!(o.code, 0, "a warning, not an error: {}", o.stdout);
    let f = o.finding("image-store-unreadable");
    assert_eq!(f["severity"], "warning");
    assert!(
        f["detail"]
            .as_str()
            .unwrap()
            .contains("sudo: a password is required"),
        "{f}"
    );
    assert_eq!(o.host()["images_present"], Value::Array(vec![]));
    assert!(!o.kinds().contains(&"image-missing".to_string()));
}
