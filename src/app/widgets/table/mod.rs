//! One table widget for every list view (History now; Images, Retention and Nodes later): columns
//! with widths and alignment, sortable keys, a live filter, selection and the visible window.
//! State and drawing are split so the state is unit-tested without a terminal.

mod column;
mod draw;
mod sort;
mod state;

pub use column::{Align, Column, Width};
pub use draw::{TableView, draw};
pub use sort::{SortDir, SortKey};
pub use state::TableState;

/// One cell as a row shows it: its text and the theme style it is drawn in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// What is shown (cut to the column's width when drawn).
    pub text: String,
    /// A theme style name (`text`, `dim`, `stage_failed`, ...).
    pub style: &'static str,
}

impl Cell {
    /// A cell in a theme style.
    pub fn new(text: impl Into<String>, style: &'static str) -> Self {
        Cell {
            text: text.into(),
            style,
        }
    }
}

/// What a table needs of its rows.
pub trait TableRow {
    /// The cells, one per column, in column order.
    fn cells(&self) -> Vec<Cell>;
    /// How column `col` sorts (defaults to its text, case-folded).
    fn sort_key(&self, col: usize) -> SortKey {
        self.cells()
            .into_iter()
            .nth(col)
            .map_or(SortKey::Missing, |c| SortKey::Text(c.text.to_lowercase()))
    }
    /// True when the row matches a lower-case filter (defaults to any cell's text).
    fn matches(&self, needle: &str) -> bool {
        self.cells()
            .iter()
            .any(|c| c.text.to_lowercase().contains(needle))
    }
}
