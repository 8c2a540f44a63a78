//! kiln's own cost on a real build: the end-to-end build of tests/e2e_build.rs (the real kiln
//! binary, Debian's packer 1.6.6, the real template and stage scripts, the simulator, a real
//! sshd as the build VM; tests/common/e2e.rs) measured per run:
//! - wall time of `kiln build --headless --json`;
//! - kiln's own CPU seconds (its `/proc/<pid>/stat` utime + stime once it has exited, before it
//!   is reaped: without its children) and peak RSS (VmHWM, sampled every 20 ms; kiln is a fresh
//!   exec, so the high-water mark is its own, not this bench's);
//! - packer's, through GNU time as kiln's `packer` (`/usr/bin/time -f '%e %U %S %M' packer ...`):
//!   packer and everything it reaped (its plugin processes), CPU and the largest peak RSS.
//!
//! Run: `cargo bench --bench e2e` (release, 5 builds). `cargo test --benches` runs one build.

#[path = "../tests/common/e2e.rs"]
mod e2e;
#[path = "../tests/common/sshd.rs"]
mod sshd;

use std::path::Path;
use std::time::Duration;

use e2e::{Lab, Scenario};

/// packer's figures from GNU time: (wall s, CPU s, peak RSS KiB).
fn packer_time(path: &Path) -> (f64, f64, u64) {
    let text = std::fs::read_to_string(path).expect("packer's GNU time report");
    let last = text.lines().last().unwrap_or("");
    let f: Vec<f64> = last
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    assert_eq!(f.len(), 4, "GNU time report: {text}");
    (f[0], f[1] + f[2], f[3] as u64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 1 } else { 5 };
    let gnu_time = Path::new("/usr/bin/time");
    assert!(
        gnu_time.exists(),
        "/usr/bin/time missing: apt-get install time"
    );
    let lab = Lab::new();
    // packer through GNU time: kiln runs the wrapper as packer (the last call, the build,
    // leaves its report; preflight's `packer version` came before)
    let report = lab.dir().join("packer.time");
    let wrapper = lab.dir().join("packer-timed");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} -f '%e %U %S %M' -o '{}' packer \"$@\"\n",
            gnu_time.display(),
            report.display()
        ),
    )
    .expect("wrapper");
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    std::fs::create_dir_all(lab.home.join("config/kiln")).expect("config dir");
    std::fs::write(
        lab.home.join("config/kiln/config.toml"),
        format!("packer = \"{}\"\n", wrapper.display()),
    )
    .expect("config");

    let mut rows = Vec::new();
    for i in 0..runs {
        lab.prepare(Scenario::Partial03);
        let mut cmd = lab.kiln();
        cmd.args(lab.build_args());
        if i > 0 {
            // one image name a day: the next builds of the day get a suffix
            cmd.args(["--var", &format!("image_suffix={}", i + 1)]);
        }
        let run = lab.run(&mut cmd, Duration::from_secs(300), |_| false);
        assert_eq!(run.code, Some(0), "{}", run.dump());
        let (p_wall, p_cpu, p_rss) = packer_time(&report);
        println!(
            "e2e build {}: wall {:.2} s | kiln CPU {:.3} s, peak RSS {:.1} MiB | packer wall {:.2} s, CPU {:.3} s, peak RSS {:.1} MiB | kiln's children CPU {:.3} s (wait4: kiln and children {:.3} s)",
            i + 1,
            run.wall.as_secs_f64(),
            run.usage.cpu,
            run.usage.peak_rss_kib as f64 / 1024.0,
            p_wall,
            p_cpu,
            p_rss as f64 / 1024.0,
            run.usage.children_cpu,
            run.usage.total_cpu,
        );
        rows.push((run, p_cpu, p_rss));
    }
    let kiln_cpu = median(rows.iter().map(|r| r.0.usage.cpu).collect());
    let packer_cpu = median(rows.iter().map(|r| r.1).collect());
    let wall = median(rows.iter().map(|r| r.0.wall.as_secs_f64()).collect());
    let kiln_rss = rows
        .iter()
        .map(|r| r.0.usage.peak_rss_kib)
        .max()
        .unwrap_or(0);
    let packer_rss = rows.iter().map(|r| r.2).max().unwrap_or(0);
    println!(
        "e2e build, {runs} run(s): median wall {wall:.2} s; kiln CPU {kiln_cpu:.3} s ({:.1}% of kiln + packer), peak RSS {:.1} MiB; packer CPU {packer_cpu:.3} s, peak RSS {:.1} MiB",
        100.0 * kiln_cpu / (kiln_cpu + packer_cpu).max(f64::EPSILON),
        kiln_rss as f64 / 1024.0,
        packer_rss as f64 / 1024.0,
    );
}
