//! Shared by the benches: the real recorded lines long transcripts are made of.

/// The distinct real lines the long transcripts repeat (no artifact or end-of-build lines).
pub fn base_lines() -> Vec<&'static str> {
    include_str!("../src/demo/transcripts/success.log")
        .lines()
        .filter(|l| !l.contains(",artifact") && !l.contains("Build '"))
        .collect()
}
