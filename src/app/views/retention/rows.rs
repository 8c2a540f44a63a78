//! The Retention table: eligible images first (markable), then the kept ones with their reasons.

use crate::app::widgets::table::{Cell, Column, SortKey, TableRow};
use crate::format::age;
use crate::inventory::ImageReport;
use crate::retention::Verdict;

/// The table's columns.
pub const COLUMNS: &[Column] = &[
    Column::fit("", 1, 1),
    Column::fit("NAME", 12, 30),
    Column::fit("SERIES", 6, 7),
    Column::fit_right("AGE", 3, 6),
    Column::fit("USE", 3, 11),
    Column::fit("VERDICT", 8, 8),
    Column::fill("WHY IT STAYS"),
];

/// A row: an image, whether it is marked for deletion.
#[derive(Debug, Clone)]
pub struct RetentionRow {
    /// The image.
    pub image: ImageReport,
    /// Seconds since it was created, at the listing.
    pub age_seconds: i64,
    /// Marked for deletion.
    pub marked: bool,
}

impl TableRow for RetentionRow {
    fn cells(&self) -> Vec<Cell> {
        let i = &self.image;
        let eligible = i.verdict == Verdict::Eligible;
        vec![
            Cell::new(if self.marked { "✗" } else { " " }, "error"),
            Cell::new(
                i.name.clone(),
                if eligible { "flag_expired" } else { "text" },
            ),
            Cell::new(i.series.clone().unwrap_or_else(|| "-".into()), "dim"),
            Cell::new(age(self.age_seconds), "text"),
            Cell::new(
                i.use_summary(),
                if i.is_used() { "flag_in_use" } else { "dim" },
            ),
            Cell::new(
                if eligible { "eligible" } else { "keep" },
                if eligible { "flag_expired" } else { "ok" },
            ),
            Cell::new(
                i.reasons
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                "dim",
            ),
        ]
    }

    fn sort_key(&self, col: usize) -> SortKey {
        match col {
            3 => SortKey::Number(self.age_seconds as f64),
            _ => SortKey::Text(self.cells()[col].text.to_lowercase()),
        }
    }
}

/// Rows of an inventory: eligible first, each group oldest first.
pub fn rows(images: &[ImageReport], at: chrono::DateTime<chrono::Utc>) -> Vec<RetentionRow> {
    let mut rows: Vec<RetentionRow> = images
        .iter()
        .map(|i| RetentionRow {
            image: i.clone(),
            age_seconds: (at - i.created_at).num_seconds(),
            marked: false,
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.image.verdict != Verdict::Eligible)
            .cmp(&(b.image.verdict != Verdict::Eligible))
            .then(b.age_seconds.cmp(&a.age_seconds))
    });
    rows
}
