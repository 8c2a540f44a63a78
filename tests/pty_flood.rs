//! The console under a log flood through the real binary in a pty (20,000 lines/s for a few
//! seconds while Tab goes round every view): every key is answered (each view shows) and kiln's
//! memory stays bounded. Only what cannot flake is asserted; the latency figures are the
//! benchmark's (`cargo bench --bench pty_flood`).

mod common;

use std::time::Duration;

#[test]
fn every_key_is_answered_and_memory_stays_bounded_under_a_flood() {
    let home = tempfile::tempdir().unwrap();
    let path = common::flood::install_packer(home.path(), 20_000, 20.0);
    let keys = common::flood::CYCLE.len() * 2;
    let run = common::flood::run(
        home.path(),
        &path,
        keys,
        Duration::from_secs(20),
        Duration::ZERO,
    );
    for (k, l) in run.latencies.iter().enumerate() {
        let (view, _) = common::flood::CYCLE[k % common::flood::CYCLE.len()];
        assert!(
            l.is_some(),
            "Tab {k} to {view} never showed:\n{}",
            run.missed.join("\n")
        );
    }
    assert!(run.peak_rss_kib > 0, "kiln's RSS was read");
    assert!(
        run.peak_rss_kib < 128 * 1024,
        "kiln's peak RSS {} KiB: memory is not bounded",
        run.peak_rss_kib
    );
}
