//! The Images table: its columns and how an image reads in them (coloured by verdict, AGE sorted
//! as a duration, SIZE as bytes, USE as servers and volumes).

use crate::app::widgets::table::{Cell, Column, SortKey, TableRow};
use crate::format::{age, size};
use crate::inventory::ImageReport;
use crate::retention::Verdict;

/// The table's columns.
pub const COLUMNS: &[Column] = &[
    Column::fit("NAME", 12, 30),
    Column::fit("SERIES", 6, 7).optional(1),
    Column::fit("BUILT", 5, 10).optional(0),
    Column::fit_right("AGE", 3, 6),
    Column::fit_right("SIZE", 4, 10).optional(2),
    Column::fit("STATUS", 6, 11).optional(3),
    Column::fit("FIPS", 4, 4),
    Column::fit("USE", 3, 11),
    Column::fill("VERDICT / FLAGS"),
];

/// A row: an image at the time of the listing.
#[derive(Debug, Clone)]
pub struct ImageRow {
    /// The image.
    pub image: ImageReport,
    /// Seconds since it was created, at the listing.
    pub age_seconds: i64,
}

impl TableRow for ImageRow {
    fn cells(&self) -> Vec<Cell> {
        let i = &self.image;
        let (verdict, style) = match i.verdict {
            Verdict::Eligible => ("eligible".to_string(), "flag_expired"),
            Verdict::Keep => (
                format!(
                    "keep: {}",
                    i.reasons
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                "text",
            ),
        };
        let flags: Vec<&str> = i.flags.iter().map(|f| f.as_str()).collect();
        let mut last = verdict;
        if !flags.is_empty() {
            last = format!("{} ! {last}", flags.join(" "));
        }
        let name_style = if i.in_use.servers + i.in_use.volumes > 0 {
            "flag_in_use"
        } else if i.protected {
            "flag_protected"
        } else {
            style
        };
        vec![
            Cell::new(i.name.clone(), name_style),
            Cell::new(i.series.clone().unwrap_or_else(|| "-".into()), "text"),
            Cell::new(
                i.name_date
                    .map_or_else(|| "-".into(), |d| d.format("%Y-%m-%d").to_string()),
                "dim",
            ),
            Cell::new(age(self.age_seconds), "text"),
            Cell::new(i.size.map_or_else(|| "-".into(), size), "dim"),
            Cell::new(
                i.status.clone(),
                if i.status == "active" {
                    "dim"
                } else {
                    "warning"
                },
            ),
            Cell::new(
                match i.fips_enabled {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                },
                "text",
            ),
            Cell::new(
                i.use_summary(),
                if i.is_used() { "flag_in_use" } else { "dim" },
            ),
            Cell::new(last, if flags.is_empty() { style } else { "warning" }),
        ]
    }

    fn sort_key(&self, col: usize) -> SortKey {
        let i = &self.image;
        match col {
            2 => i
                .name_date
                .map_or(SortKey::Missing, |d| SortKey::Text(d.to_string())),
            3 => SortKey::Number(self.age_seconds as f64),
            4 => i
                .size
                .map_or(SortKey::Missing, |s| SortKey::Number(s as f64)),
            7 => SortKey::Number((i.in_use.servers + i.in_use.volumes) as f64),
            _ => SortKey::Text(self.cells()[col].text.to_lowercase()),
        }
    }
}
