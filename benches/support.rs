//! Shared by the benches: the real recorded lines long transcripts are made of.

/// The distinct real lines the long transcripts repeat (no artifact or end-of-build lines).
#[allow(dead_code)]
pub fn base_lines() -> Vec<&'static str> {
    include_str!("../src/demo/transcripts/success.log")
        .lines()
        .filter(|l| !l.contains(",artifact") && !l.contains("Build '"))
        .collect()
}

/// A child run to completion with its own figures.
#[allow(dead_code)]
pub struct Measured {
    /// Wall seconds from spawn to exit.
    pub wall: f64,
    /// The child's peak resident set (KiB, from `wait4`: its own, not its children's).
    pub max_rss_kib: i64,
    /// Exit code (-1: killed by a signal).
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: Vec<u8>,
}

/// Runs `cmd` (stdin null, stdout to a temp file, stderr inherited) and measures it. With
/// GNU time at /usr/bin/time, the peak RSS is the one it reports for `cmd`: a child forked from
/// a large bench process (say one holding a 5,000-image simulator) would otherwise carry the
/// bench's resident set into its own `ru_maxrss` until it execs.
#[allow(dead_code)]
pub fn measured(cmd: &mut std::process::Command) -> Measured {
    let gnu_time = std::path::Path::new("/usr/bin/time");
    if !gnu_time.exists() {
        return measured_direct(cmd);
    }
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let mut wrapped = std::process::Command::new(gnu_time);
    wrapped
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(report.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let mut m = measured_direct(&mut wrapped);
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    if let Some(kib) = text.lines().last().and_then(|l| l.trim().parse().ok()) {
        m.max_rss_kib = kib;
    }
    m
}

fn measured_direct(cmd: &mut std::process::Command) -> Measured {
    use std::os::unix::process::ExitStatusExt;
    let out = tempfile::tempfile().expect("temp file");
    let started = std::time::Instant::now();
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also reports its rusage
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid pointers.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let wall = started.elapsed().as_secs_f64();
    let mut out = out;
    let mut stdout = Vec::new();
    std::io::Seek::rewind(&mut out).expect("rewind");
    std::io::Read::read_to_end(&mut out, &mut stdout).expect("read stdout");
    Measured {
        wall,
        max_rss_kib: usage.ru_maxrss,
        code: std::process::ExitStatus::from_raw(status)
            .code()
            .unwrap_or(-1),
        stdout,
    }
}

/// min, median, max.
#[allow(dead_code)]
pub fn spread(mut xs: Vec<f64>) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return (0.0, 0.0, 0.0);
    }
    (xs[0], xs[n / 2], xs[n - 1])
}
