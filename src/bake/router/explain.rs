//! The lines that explain a failure: the last error lines of the stage that failed, then what
//! packer itself reported, each bounded and without repeats (a flood of 200,000 error lines costs
//! a few set lookups each, and the explanation stays a dozen lines); and the stage script's own
//! verdict, the last line it printed as `<stage>: <message>` (how the stage scripts' `die`
//! reports why they give up).

use std::collections::{HashSet, VecDeque};

/// How many of a stage's last error lines are kept.
pub const STAGE_LINES: usize = 12;
/// How many of packer's own error reports are kept.
pub const PACKER_LINES: usize = 12;
/// The longest line kept in an explanation, in characters.
pub const LINE_CHARS: usize = 400;

/// The error lines seen so far.
#[derive(Debug, Default)]
pub struct Explanation {
    recent: VecDeque<String>,
    packer: Vec<String>,
    seen: HashSet<String>,
    /// `<stage>: `, the prefix of the stage script's own verdict.
    verdict_prefix: String,
    verdict: Option<String>,
}

fn cut(line: &str) -> String {
    crate::settings::toml_error::cut(line.trim(), LINE_CHARS)
}

impl Explanation {
    /// An error line of the stage under way (the last [`STAGE_LINES`] are kept).
    pub fn stage_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let line = cut(line);
        if !self.verdict_prefix.is_empty() && line.starts_with(&self.verdict_prefix) {
            self.verdict = Some(line.clone());
        }
        // a retried step repeats its error word for word: once is enough
        if self.recent.contains(&line) {
            return;
        }
        if self.recent.len() == STAGE_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back(line);
    }

    /// Stage `name` began: its predecessor's errors no longer explain anything.
    pub fn new_stage(&mut self, name: &str) {
        self.recent.clear();
        self.verdict = None;
        self.verdict_prefix = format!("{name}: ");
    }

    /// The last line the stage under way printed as `<stage>: <message>` on its stderr: its
    /// script's own word on why it failed.
    pub fn verdict(&self) -> Option<&str> {
        self.verdict.as_deref()
    }

    /// An error packer reported (the first [`PACKER_LINES`] distinct ones are kept).
    pub fn packer_error(&mut self, line: &str) {
        let line = cut(line);
        if self.packer.len() < PACKER_LINES && self.seen.insert(line.clone()) {
            self.packer.push(line);
        }
    }

    /// The explanation: the stage script's verdict, the stage's other lines, then packer's that
    /// are not among them.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.verdict.iter().cloned().collect();
        out.extend(
            self.recent
                .iter()
                .filter(|l| Some(*l) != self.verdict.as_ref())
                .cloned(),
        );
        let shown: HashSet<&String> = self.recent.iter().chain(self.verdict.iter()).collect();
        out.extend(self.packer.iter().filter(|l| !shown.contains(l)).cloned());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_errors_stays_a_dozen_lines_without_repeats() {
        let mut e = Explanation::default();
        for i in 0..200_000 {
            e.packer_error(&format!("error {i}"));
            e.stage_line(&format!("stderr {i}"));
        }
        e.packer_error("error 1");
        let lines = e.lines();
        assert_eq!(lines.len(), STAGE_LINES + PACKER_LINES);
        assert_eq!(lines[0], format!("stderr {}", 200_000 - STAGE_LINES));
        assert_eq!(lines[STAGE_LINES], "error 0");
    }

    #[test]
    fn the_stage_scripts_own_verdict_is_kept_and_repeats_are_shown_once() {
        let mut e = Explanation::default();
        e.new_stage("02-install-rke2");
        e.stage_line("02-install-rke2: an earlier stage's verdict");
        e.new_stage("03-prepull-images");
        assert_eq!(e.verdict(), None);
        for _ in 0..2 {
            for i in 0..20 {
                e.stage_line(&format!("ctr: failed to resolve reference image-{i}"));
            }
        }
        e.stage_line("03-prepull-images: none of the 20 images could be pulled");
        e.stage_line("later noise");
        assert_eq!(
            e.verdict(),
            Some("03-prepull-images: none of the 20 images could be pulled")
        );
        let lines = e.lines();
        assert_eq!(lines.len(), STAGE_LINES);
        assert_eq!(
            lines[0], "03-prepull-images: none of the 20 images could be pulled",
            "the verdict leads"
        );
        let distinct: HashSet<&String> = lines.iter().collect();
        assert_eq!(distinct.len(), lines.len(), "{lines:#?}");
        // a line naming another stage is not a verdict
        e.new_stage("04-harden");
        e.stage_line("03-prepull-images: not this stage's");
        assert_eq!(e.verdict(), None);
    }

    #[test]
    fn packer_errors_already_shown_are_not_repeated_and_long_lines_are_cut() {
        let mut e = Explanation::default();
        e.stage_line("Script exited 3");
        e.packer_error("Script exited 3");
        e.packer_error(&"x".repeat(10_000));
        let lines = e.lines();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].chars().count() <= LINE_CHARS + 1);
    }
}
