//! A bounded ring of log lines: memory stays flat however long a build runs. A build's stages
//! each have one; the build state also bounds their total (see `state.rs`).

use std::collections::VecDeque;

use crate::bake::events::Stream;

/// Longest line kept in memory, in bytes; the full line is on disk in `packer.log`.
pub const MAX_LINE_BYTES: usize = 2048;

/// One stored log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// stdout or stderr.
    pub stream: Stream,
    /// The text, cut at [`MAX_LINE_BYTES`].
    pub text: String,
}

/// A ring buffer of at most `capacity` lines that counts what it dropped.
#[derive(Debug, Clone)]
pub struct LogRing {
    lines: VecDeque<LogLine>,
    capacity: usize,
    dropped: u64,
    bytes: usize,
}

impl LogRing {
    /// An empty ring holding up to `capacity` lines (at least one).
    pub fn new(capacity: usize) -> Self {
        LogRing {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            bytes: 0,
        }
    }

    /// Appends a line, dropping the oldest when full.
    pub fn push(&mut self, stream: Stream, mut text: String) {
        if text.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        if self.lines.len() == self.capacity {
            self.pop_oldest();
        }
        self.bytes += text.len();
        self.lines.push_back(LogLine { stream, text });
    }

    /// Drops the oldest line; returns its size in bytes (0 when empty).
    pub fn pop_oldest(&mut self) -> usize {
        match self.lines.pop_front() {
            Some(l) => {
                self.dropped += 1;
                self.bytes -= l.text.len();
                l.text.len()
            }
            None => 0,
        }
    }

    /// Bytes of text held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The lines held, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> + ExactSizeIterator {
        self.lines.iter()
    }

    /// How many lines are held.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when no line is held.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// How many lines were dropped to keep the bound.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_lines() {
        let mut ring = LogRing::new(3);
        for i in 0..5 {
            ring.push(Stream::Out, format!("line {i}"));
        }
        let kept: Vec<&str> = ring.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(kept, ["line 2", "line 3", "line 4"]);
        assert_eq!(ring.dropped(), 2);
    }

    #[test]
    fn long_lines_are_cut_on_a_char_boundary() {
        let mut ring = LogRing::new(2);
        ring.push(Stream::Err, "é".repeat(MAX_LINE_BYTES));
        let line = &ring
            .iter()
            .next()
            .map(|l| l.text.clone())
            .unwrap_or_default();
        assert!(line.len() <= MAX_LINE_BYTES + '…'.len_utf8());
        assert!(line.ends_with('…'));
    }
}
