//! The console under a log flood, through the real binary in a pty, where operators feel it: a
//! fake packer prints 100,000 machine-readable lines/s for 30 s (tests/common/flood.rs) while
//! Tab goes round every view every 100 ms. Reports the key-to-screen latency (p50/p99/max;
//! goal p99 < 100 ms), kiln's peak RSS, and how many lines the flood wrote.
//!
//! Run: `cargo bench --bench pty_flood`. `cargo test --benches` runs 2 s at 20,000 lines/s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rate, secs) = if quick {
        (20_000, 2.0)
    } else {
        (100_000, 30.0)
    };
    let home = tempfile::tempdir().expect("temp home");
    let path = common::flood::install_packer(home.path(), rate, secs);
    let gap = Duration::from_millis(100);
    // Keys for the flood's length (each takes its latency plus the gap), less two seconds for
    // the start; then the writer finishes.
    let keys = (((secs - 2.0) * 1000.0) / 110.0) as usize;
    let run = common::flood::run(home.path(), &path, keys, Duration::from_secs(10), gap);
    let mut shown: Vec<Duration> = run.latencies.iter().flatten().copied().collect();
    shown.sort();
    let missed = run.latencies.len() - shown.len();
    println!(
        "pty flood: {rate} lines/s for {secs} s, {} keys ({missed} never showed)",
        run.latencies.len()
    );
    println!(
        "  key-to-screen latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 < 100 ms)",
        percentile(&shown, 0.50).as_secs_f64() * 1000.0,
        percentile(&shown, 0.99).as_secs_f64() * 1000.0,
        shown.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    println!(
        "  kiln peak RSS {:.1} MiB; {:.1} MiB written to the terminal",
        run.peak_rss_kib as f64 / 1024.0,
        run.bytes as f64 / (1024.0 * 1024.0)
    );
    match common::flood::written(home.path()) {
        Some((lines, s)) => println!(
            "  the writer wrote {lines} lines in {s:.1} s ({:.0} lines/s achieved)",
            lines as f64 / s
        ),
        None => println!("  the writer did not finish (cancelled before its end)"),
    }
    for m in &run.missed {
        println!("  missed {}", m.chars().take(300).collect::<String>());
    }
}
