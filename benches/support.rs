//! Shared by the benches: a long transcript made of real recorded lines.

/// `n` machine-readable lines: the real success transcript, repeated, with every repetition
/// re-entering the stages (so stage routing is exercised, not just one stage's log).
pub fn transcript_lines(n: usize) -> Vec<String> {
    let text = include_str!("../tests/data/packer/demo-success.log");
    let base: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(",artifact") && !l.contains("Build '"))
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        for line in &base {
            if out.len() == n {
                break;
            }
            out.push((*line).to_string());
        }
    }
    out
}
