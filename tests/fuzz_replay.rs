//! Replays the fuzz corpora (`tests/fuzz/corpus/<target>/`, grown by cargo-fuzz on nightly) on
//! stable, through the same entry points the fuzz targets call (`kiln::fuzzing`): whatever the
//! fuzzer once found, and every seed, must still parse without a panic.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        f(&data);
        n += 1;
    }
    assert!(n > 0, "no corpus in {}", dir.display());
}

#[test]
fn machine_readable_corpus() {
    replay("machine_readable", kiln::fuzzing::machine_readable);
}

#[test]
fn manifest_corpus() {
    replay("manifest", kiln::fuzzing::manifest);
}

#[test]
fn config_and_theme_corpus() {
    replay("config_theme", kiln::fuzzing::config_and_theme);
}

#[test]
fn clouds_yaml_corpus() {
    replay("clouds_yaml", kiln::fuzzing::clouds_yaml);
}

#[test]
fn glance_decode_corpus() {
    replay("glance_decode", kiln::fuzzing::glance_decode);
}

#[test]
fn nova_decode_corpus() {
    replay("nova_decode", kiln::fuzzing::nova_decode);
}

#[test]
fn known_hosts_corpus() {
    replay("known_hosts", kiln::fuzzing::known_hosts);
}

#[test]
fn node_reads_corpus() {
    replay("node_reads", kiln::fuzzing::node_reads);
}
