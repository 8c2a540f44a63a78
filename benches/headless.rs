//! The build path through the real binary, where users feel it: `kiln build --headless --json`
//! with a fake packer (a shell script) producing
//! - 1,000,000 lines (lines/s end to end, peak RSS),
//! - one 400 MB line without a newline (peak RSS; goal < 64 MB),
//! - 100 stages x 2,000 lines of 1 KB (peak RSS; goal < 64 MB).
//!
//! Peak RSS is kiln's own (`wait4` on kiln: its maximum resident set, not the fake packer's).
//!
//! Run: `cargo bench --bench headless` (release). `cargo test --benches` runs it small.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

fn kiln() -> std::path::PathBuf {
    // Benches are built beside the binary.
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("kiln")
}

/// Runs kiln with `script` as packer; returns (wall seconds, kiln's peak RSS in KiB, exit).
fn run(home: &Path, script: &str) -> (f64, i64, i32) {
    let bin = home.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let packer = bin.join("packer");
    std::fs::write(
        &packer,
        format!(
            "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'Packer v1.6.6'; exit 0; fi\n{script}"
        ),
    )
    .expect("write packer");
    std::fs::set_permissions(&packer, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also reports its rusage
    let child = Command::new(kiln())
        .args(["build", "--headless", "--json", "--skip-preflight"])
        .env("PATH", path)
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kiln");
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let wall = started.elapsed().as_secs_f64();
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    (wall, usage.ru_maxrss, code)
}

const START: &str = "echo '1,,ui,say,==> openstack.rke2: Provisioning with shell script: stages/03-prepull-images.sh'";
const END: &str = "echo '9,,ui,say,==> openstack.rke2: Creating the image: rke2-node-v1.28-20261125'\necho '9,,artifact,0,id,img-1'\nexit 0";

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let scale = if quick { 100 } else { 1 };
    let home = tempfile::tempdir().expect("tempdir");

    let lines = 1_000_000 / scale;
    let (wall, rss, code) = run(
        home.path(),
        &format!(
            "{START}\nyes '2,,ui,message,    openstack.rke2: pulled harbor.vitro.lan/k8s/provider-os/cinder-csi-plugin:v1.30.0 layer 3/7 (12.3 MiB)' | head -n {lines}\n{END}\n"
        ),
    );
    assert_eq!(code, 0);
    println!(
        "headless: {lines} lines end to end in {wall:.2}s ({:.0} lines/s), kiln peak RSS {} MiB",
        lines as f64 / wall,
        rss / 1024
    );

    let bytes = 400_000_000 / scale;
    let (wall, rss, code) = run(
        home.path(),
        &format!(
            "{START}\nprintf '2,,ui,message,    openstack.rke2: '\nhead -c {bytes} /dev/zero | tr '\\0' 'x'\necho\n{END}\n"
        ),
    );
    assert_eq!(code, 0);
    println!(
        "headless: one {} MB line without a newline in {wall:.2}s, kiln peak RSS {} MiB (goal < 64)",
        bytes / 1_000_000,
        rss / 1024
    );

    let (stages, per) = (100, 2000 / scale);
    let (wall, rss, code) = run(
        home.path(),
        &format!(
            "python3 -c '\nimport sys\nline = \"x\" * 1000\nw = sys.stdout.write\nfor s in range({stages}):\n    w(\"1,,ui,say,==> openstack.rke2: Provisioning with shell script: stages/%03d-s.sh\\n\" % s)\n    for i in range({per}):\n        w(\"2,,ui,message,    openstack.rke2: %d %s\\n\" % (i, line))\n'\n{END}\n"
        ),
    );
    assert_eq!(code, 0);
    println!(
        "headless: {stages} stages x {per} lines of 1 KB in {wall:.2}s, kiln peak RSS {} MiB (goal < 64)",
        rss / 1024
    );
}
