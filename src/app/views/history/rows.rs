//! The History table: its columns and how a record reads in them (result coloured, time sorted
//! as a duration, why it failed).

use crate::app::widgets::table::{Cell, Column, SortKey, TableRow};
use crate::bake::record::RecordResult;
use crate::format::duration;

use super::Entry;

/// The table's columns.
pub const COLUMNS: &[Column] = &[
    Column::fit("STARTED (UTC)", 16, 16),
    Column::fit("RESULT", 9, 10),
    Column::fit_right("TIME", 6, 9),
    Column::fit("FIPS", 4, 5),
    Column::fit("IMAGE", 5, 28),
    Column::fill("REASON"),
];

/// A row of the table: a record, and whether it is this console's running build (its record
/// says `running` either way; only then is that true rather than a build kiln left behind).
#[derive(Debug, Clone)]
pub struct HistoryRow(pub Entry, pub bool);

impl TableRow for HistoryRow {
    fn cells(&self) -> Vec<Cell> {
        match &self.0 {
            Ok((_, rec)) => {
                let style = match rec.result {
                    RecordResult::Succeeded => "stage_ok",
                    RecordResult::Failed => "stage_failed",
                    RecordResult::Cancelled => "warning",
                    RecordResult::Running => "stage_running",
                };
                let reason = match rec.result {
                    RecordResult::Running if self.1 => "running now, in this console".to_string(),
                    _ => rec.reason().unwrap_or_default(),
                };
                vec![
                    Cell::new(rec.started_at.format("%Y-%m-%d %H:%M").to_string(), "text"),
                    Cell::new(rec.result.as_str(), style),
                    Cell::new(rec.seconds.map_or_else(|| "-".into(), duration), "dim"),
                    Cell::new(rec.fips_label(), "text"),
                    Cell::new(rec.image_name.clone().unwrap_or_else(|| "-".into()), "text"),
                    Cell::new(crate::format::plain(&reason).into_owned(), "dim"),
                ]
            }
            Err(e) => vec![
                Cell::new("-", "dim"),
                Cell::new("unreadable", "error"),
                Cell::new("-", "dim"),
                Cell::new("-", "dim"),
                Cell::new("-", "dim"),
                Cell::new(crate::format::plain(e).into_owned(), "error"),
            ],
        }
    }

    fn sort_key(&self, col: usize) -> SortKey {
        let Ok((_, rec)) = &self.0 else {
            return SortKey::Missing;
        };
        match col {
            0 => SortKey::Number(rec.started_at.timestamp_millis() as f64),
            2 => rec.seconds.map_or(SortKey::Missing, SortKey::Number),
            _ => SortKey::Text(self.cells()[col].text.to_lowercase()),
        }
    }
}
