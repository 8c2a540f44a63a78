//! A small chart of the images by age, with the retention line: how many images there are in
//! each age bucket, those past the minimum age drawn apart from the young ones.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::rows::ImageRow;
use crate::app::widgets::panel;
use crate::retention::Verdict;
use crate::theme::Theme;

/// Bucket edges in days (the last bucket is open).
const EDGES: [i64; 7] = [0, 30, 60, 90, 120, 180, 270];

/// (label, images, eligible images) per bucket.
pub fn buckets(rows: &[ImageRow], min_age_days: i64) -> Vec<(String, usize, usize)> {
    let mut edges: Vec<i64> = EDGES.to_vec();
    if !edges.contains(&min_age_days) {
        edges.push(min_age_days);
        edges.sort_unstable();
    }
    edges
        .iter()
        .enumerate()
        .map(|(i, &lo)| {
            let hi = edges.get(i + 1).copied();
            let in_bucket = rows.iter().filter(|r| {
                let d = r.age_seconds / 86_400;
                d >= lo && hi.is_none_or(|h| d < h)
            });
            let (n, e) = in_bucket.fold((0, 0), |(n, e), r| {
                (n + 1, e + usize::from(r.image.verdict == Verdict::Eligible))
            });
            let label = match hi {
                Some(h) => format!("{lo}-{h}d"),
                None => format!("{lo}d+"),
            };
            (label, n, e)
        })
        .collect()
}

/// Draws the chart: one row per bucket, a bar of kept and eligible images, the retention line
/// between the buckets younger and older than the minimum age.
pub fn draw(t: &Theme, rows: &[ImageRow], min_age_days: i64, frame: &mut Frame, area: Rect) {
    let b = buckets(rows, min_age_days);
    let max = b.iter().map(|(_, n, _)| *n).max().unwrap_or(0).max(1);
    let width = area.width.saturating_sub(16) as usize;
    let mut lines = Vec::new();
    for (label, n, eligible) in &b {
        if label.starts_with(&format!("{min_age_days}-")) || label == &format!("{min_age_days}d+") {
            lines.push(Line::from(Span::styled(
                format!("── {min_age_days} days: retention ──"),
                t.style("warning"),
            )));
        }
        let kept = n - eligible;
        let cells = |k: usize| (k * width).div_ceil(max);
        lines.push(Line::from(vec![
            Span::styled(format!("{label:>8} {n:>3} "), t.style("dim")),
            Span::styled("█".repeat(cells(kept)), t.style("progress")),
            Span::styled("█".repeat(cells(*eligible)), t.style("flag_expired")),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(panel(t, "Images by age (kept / eligible)", false)),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_age_is_a_bucket_edge() {
        let b = buckets(&[], 100);
        assert!(b.iter().any(|(l, _, _)| l == "90-100d"));
        assert!(b.iter().any(|(l, _, _)| l == "100-120d"));
        assert_eq!(buckets(&[], 90).len(), EDGES.len());
    }
}
