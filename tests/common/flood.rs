//! A console build under a log flood, through the real binary in a pty: a fake `packer` (a shell
//! wrapper around a small Python writer) starts stage 03 and then prints machine-readable lines
//! at a fixed rate for a fixed time, while the test switches views with Tab and times how long
//! each key takes to show on the screen. Used by `tests/pty_flood.rs` (short, asserts only what
//! cannot flake) and `benches/pty_flood.rs` (100,000 lines/s for 30 s, latency percentiles).

use std::path::Path;
use std::time::{Duration, Instant};

use super::pty::Pty;

const WRITER: &str = r#"
import sys, time
rate, secs = int(sys.argv[1]), float(sys.argv[2])
out = sys.stdout.buffer
out.write(b"1795482400,,ui,say,==> openstack.rke2: Provisioning with shell script: stages/03-prepull-images.sh\n")
out.flush()
batch = max(1, rate // 200)
start = time.monotonic()
n = 0
while time.monotonic() - start < secs:
    ts = int(time.time())
    out.write(b"".join(
        b"%d,,ui,message,    openstack.rke2: ==> 03-prepull-images: pulled layer %d of harbor.vitro.lan/k8s/rancher/hardened-kubernetes:v1.28.15-rke2r1-build20241023 (42%%)\n" % (ts, n + i)
        for i in range(batch)))
    out.flush()
    n += batch
    wait = start + n / rate - time.monotonic()
    if wait > 0:
        time.sleep(wait)
out.write(b"1795483040,,ui,say,==> openstack.rke2: Creating the image: rke2-node-v1.28-20261125\n")
out.write(b"1795483045,openstack.rke2,artifact,0,id,img-flood\n")
out.flush()
open(sys.argv[3], "w").write("%d %.3f\n" % (n, time.monotonic() - start))
"#;

/// Installs the fake packer in `home/bin` (returns the PATH to use).
pub fn install_packer(home: &Path, rate: u32, seconds: f64) -> String {
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("flood.py"), WRITER).unwrap();
    let packer = bin.join("packer");
    std::fs::write(
        &packer,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'Packer v1.6.6'; exit 0; fi\nexec python3 '{}' {rate} {seconds} '{}'\n",
            bin.join("flood.py").display(),
            bin.join("flood.out").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&packer, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The views Tab goes through from Build, each with text only its own frame draws (any one of
/// them: Images says it is reading, then that it cannot list without credentials). A needle is
/// a run of cells the previous view did not have: the terminal diff skips unchanged cells, so
/// `Nodes (` drawn over `Retention (` arrives split around the shared `e`, and Nodes's
/// "Reading Nova" shares "Reading " with Retention's.
pub const CYCLE: &[(&str, &[&[u8]])] = &[
    ("Images", &[b"Reading Glance", b"could not list"]),
    ("Retention", &[b"eligible of"]),
    ("Nodes", &[b"Nova, Cinder and", b"No server runs"]),
    ("History", &[b"STARTED"]),
    ("Log", &[b"kiln diagnostics"]),
    ("Build", &[b"Stages"]),
];

/// What the writer managed once it ended: (lines, seconds). None while it runs or if cancelled
/// before its end.
pub fn written(home: &Path) -> Option<(u64, f64)> {
    let text = std::fs::read_to_string(home.join("bin/flood.out")).ok()?;
    let mut it = text.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// kiln's peak resident set so far (VmHWM), in KiB.
pub fn peak_rss_kib(pid: nix::unistd::Pid) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// What a flood run saw.
pub struct FloodRun {
    /// Key-to-screen latency of each Tab, in order (None: the view never showed).
    pub latencies: Vec<Option<Duration>>,
    /// kiln's peak RSS (KiB) when the keys were done.
    pub peak_rss_kib: u64,
    /// Bytes kiln wrote to the terminal.
    pub bytes: usize,
    /// For each key whose view never showed: the end of what the terminal got after it.
    pub missed: Vec<String>,
}

/// Starts a console build on `home`'s fake packer, waits for the flood, presses Tab `keys`
/// times (each after the previous one showed, or after `per_key` without it, then `gap` later:
/// the benchmark spreads its keys over the flood), then quits.
pub fn run(home: &Path, path: &str, keys: usize, per_key: Duration, gap: Duration) -> FloodRun {
    let template = super::data_dir().join("templates/long-sleep.pkr.hcl");
    let mut cmd = super::kiln(home);
    cmd.env("PATH", path)
        .args(["build", "--skip-preflight", "--template"])
        .arg(&template);
    let mut pty = Pty::spawn(cmd);
    assert!(
        pty.wait_for(b"History", 0),
        "the console never drew its tabs"
    );
    let at = pty.seen.len();
    pty.send(b"\r");
    assert!(
        pty.wait_for(b"pulled layer", at),
        "the flood never showed: {}",
        pty.text_since(at)
    );
    let mut latencies = Vec::with_capacity(keys);
    let mut missed = Vec::new();
    for k in 0..keys {
        let (_, needles) = CYCLE[k % CYCLE.len()];
        let from = pty.seen.len();
        let sent = Instant::now();
        pty.send(b"\t");
        let shown = pty.wait_for_any_within(needles, from, per_key);
        if !shown {
            let text = pty.text_since(from);
            let tail: String = text
                .chars()
                .rev()
                .take(3000)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            missed.push(format!("key {k}: {tail:?}"));
        }
        latencies.push(shown.then(|| sent.elapsed()));
        if !gap.is_zero() {
            std::thread::sleep(gap);
        }
    }
    if !gap.is_zero() {
        // The benchmark lets the writer finish, to report the rate it achieved.
        let deadline = Instant::now() + Duration::from_secs(60);
        while written(home).is_none() && Instant::now() < deadline {
            let _ = pty.wait_for_within(b"\x00never", pty.seen.len(), Duration::from_millis(200));
        }
    }
    let peak_rss_kib = peak_rss_kib(pty.pid).unwrap_or(0);
    let bytes = pty.seen.len();
    // Quit: the build is running, so kiln asks; y cancels it and quits.
    let at = pty.seen.len();
    pty.send(b"q");
    if pty.wait_for_within(b"y: quit", at, Duration::from_secs(10)) {
        pty.send(b"y");
    }
    let _ = pty.wait_exit(Duration::from_secs(60));
    FloodRun {
        latencies,
        peak_rss_kib,
        bytes,
        missed,
    }
}
