//! Entry points for fuzzing kiln's parsers of untrusted input: the fuzz targets
//! (`tests/fuzz/`, cargo-fuzz on nightly) and the replay of their corpora on stable
//! (`tests/fuzz_replay.rs`) call the same functions, so what the fuzzer found stays tested.
//! Each takes raw bytes and must never panic, hang or allocate without bound.

use std::path::Path;

/// packer's machine-readable output: every line parsed and routed to stages, then the build
/// finished, as a session would.
pub fn machine_readable(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let mut router = crate::bake::router::StageRouter::new(
        crate::bake::plan::StagePlan::new(crate::bake::plan::PIPELINE_SCRIPTS),
        at,
    );
    let mut state = crate::bake::state::BuildState::new(router.plan(), at);
    let mut events = Vec::new();
    for line in text.lines() {
        let _ = crate::bake::machine_readable::parse_line(line);
        router.route_stdout(line, at, &mut events);
        router.route_stderr(line, at, &mut events);
    }
    router.finish(crate::bake::router::Ending::default(), at, &mut events);
    for e in &events {
        state.apply(e);
        let _ = e.to_json(&|id| router.plan().name(id).to_string());
    }
}

/// An image manifest.
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = crate::manifest::ImageManifest::parse(&text, "fuzz") {
        let _ = m.prepull_failures();
    }
}

/// A config file and a theme file.
pub fn config_and_theme(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::settings::config::Config::parse(&text, Path::new("fuzz.toml"));
    let _ = crate::theme::Theme::from_text("fuzz", &text, "fuzz.toml", false);
    let _ = crate::bake::template::variables_without_default(&text);
    let _ = crate::bake::template::var_file_keys(&text);
    let _ = crate::bake::plan::scripts_in_template(&text);
}
