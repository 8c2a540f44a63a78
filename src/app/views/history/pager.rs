//! A pager over a build's packer.log: scrolling, and a search (`/`) with the next and previous
//! match (`n`, `N`). The file is read off the UI thread, at most its last [`MAX_BYTES`].

use crate::app::loading::Loading;

/// The most of a packer.log the pager reads (its end: where a failure is).
pub const MAX_BYTES: u64 = 16 << 20;

/// The pager's state.
#[derive(Debug, Clone, Default)]
pub struct Pager {
    /// The file shown.
    pub path: std::path::PathBuf,
    /// Its lines, once read (and how many bytes before them were not read).
    pub lines: Loading<(Vec<String>, u64)>,
    /// The first line on screen.
    pub top: usize,
    /// Lines the last frame showed.
    pub page: std::cell::Cell<usize>,
    /// The search as typed.
    pub search: String,
    /// Lines matching the search.
    pub matches: Vec<usize>,
    /// Which match is current.
    pub current: usize,
}

impl Pager {
    /// A pager for `path`, loading.
    pub fn new(path: std::path::PathBuf) -> Self {
        Pager {
            path,
            lines: Loading::Loading { stale: None },
            ..Pager::default()
        }
    }

    fn len(&self) -> usize {
        self.lines.data().map_or(0, |(l, _)| l.len())
    }

    /// Scrolls by `delta` lines, clamped so the last page stays full.
    pub fn scroll(&mut self, delta: isize) {
        let max = self.len().saturating_sub(self.page.get().max(1));
        self.top = (self.top as isize + delta).clamp(0, max as isize) as usize;
    }

    /// To the first line (`end` false) or the last page.
    pub fn jump(&mut self, end: bool) {
        self.top = if end {
            self.len().saturating_sub(self.page.get().max(1))
        } else {
            0
        };
    }

    /// A new search: matching lines found, the first at or after the top shown.
    pub fn set_search(&mut self, text: String) {
        self.search = text;
        let needle = self.search.to_lowercase();
        self.matches = match self.lines.data() {
            Some((lines, _)) if !needle.is_empty() => lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.to_lowercase().contains(&needle))
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        };
        self.current = self
            .matches
            .iter()
            .position(|&m| m >= self.top)
            .unwrap_or(0);
        self.show_current();
    }

    /// The next (or previous) match, wrapping around.
    pub fn next_match(&mut self, forward: bool) {
        if self.matches.is_empty() {
            return;
        }
        let n = self.matches.len();
        self.current = if forward {
            (self.current + 1) % n
        } else {
            (self.current + n - 1) % n
        };
        self.show_current();
    }

    fn show_current(&mut self) {
        if let Some(&line) = self.matches.get(self.current) {
            // The match a third of the way down the page.
            self.top = line.saturating_sub(self.page.get() / 3);
            self.scroll(0);
        }
    }
}

/// Reads the end of a packer.log: its lines, and how many bytes before them were left out.
pub fn read_tail(path: &std::path::Path) -> std::io::Result<(Vec<String>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    crate::settings::files::ensure_regular(path)?;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let skipped = len.saturating_sub(MAX_BYTES);
    f.seek(SeekFrom::Start(skipped))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| crate::format::plain(l).into_owned())
        .collect();
    if skipped > 0 && !lines.is_empty() {
        lines.remove(0); // cut in the middle
    }
    Ok((lines, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pager(n: usize) -> Pager {
        let mut p = Pager::new("x".into());
        p.lines = Loading::Loaded(((0..n).map(|i| format!("line {i}")).collect(), 0));
        p.page.set(10);
        p
    }

    #[test]
    fn scrolling_clamps_at_both_ends() {
        let mut p = pager(25);
        p.scroll(100);
        assert_eq!(p.top, 15, "the last page stays full");
        p.scroll(-100);
        assert_eq!(p.top, 0);
        p.jump(true);
        assert_eq!(p.top, 15);
    }

    #[test]
    fn search_finds_every_match_and_wraps() {
        let mut p = pager(100);
        p.set_search("LINE 1".into());
        // line 1, 10..19, 100 does not exist: 11 matches.
        assert_eq!(p.matches.len(), 11);
        assert_eq!(p.matches[p.current], 1);
        p.next_match(true);
        assert_eq!(p.matches[p.current], 10);
        p.next_match(false);
        p.next_match(false);
        assert_eq!(p.matches[p.current], 19, "wraps to the last");
        p.set_search(String::new());
        assert!(p.matches.is_empty());
    }

    #[test]
    fn the_tail_of_a_big_log_is_read_and_escapes_stripped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("packer.log");
        std::fs::write(&f, "a\u{1b}[31mred\u{1b}[0m\nb\n").unwrap();
        let (lines, skipped) = read_tail(&f).unwrap();
        assert_eq!(lines, ["ared", "b"]);
        assert_eq!(skipped, 0);
    }
}
