//! The table's state: which rows pass the filter, in which order, which one is selected and
//! which window of them is on screen. Pure; the rows themselves live in the view.

use std::cell::Cell;
use std::ops::Range;

use super::TableRow;
use super::sort::{SortDir, compare};

/// Selection, sort, filter and scroll position of a table.
#[derive(Debug, Clone, Default)]
pub struct TableState {
    /// Row indices that pass the filter, in display order.
    order: Vec<usize>,
    /// Position of the selection in `order`.
    selected: usize,
    /// First position on screen (kept by drawing, so it survives between frames).
    offset: Cell<usize>,
    /// Rows the last frame could show (for page moves).
    page: Cell<usize>,
    /// Column and direction, when sorted.
    sort: Option<(usize, SortDir)>,
    /// The live filter as typed.
    filter: String,
}

impl TableState {
    /// A state sorted by `column` in `dir` (the view's natural order).
    pub fn sorted(column: usize, dir: SortDir) -> Self {
        TableState {
            sort: Some((column, dir)),
            ..TableState::default()
        }
    }

    /// Recomputes which rows show and in which order, keeping the selection in range.
    pub fn refresh<R: TableRow>(&mut self, rows: &[R]) {
        let needle = self.filter.to_lowercase();
        self.order = (0..rows.len())
            .filter(|&i| needle.is_empty() || rows[i].matches(&needle))
            .collect();
        if let Some((col, dir)) = self.sort {
            // Stable: rows with equal keys keep their natural order.
            self.order
                .sort_by(|&a, &b| compare(&rows[a].sort_key(col), &rows[b].sort_key(col), dir));
        }
        self.selected = self.selected.min(self.order.len().saturating_sub(1));
    }

    /// The live filter.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// Sets the filter; call [`TableState::refresh`] after. The selection goes to the top.
    pub fn set_filter(&mut self, filter: String) {
        if filter != self.filter {
            self.filter = filter;
            self.selected = 0;
            self.offset.set(0);
        }
    }

    /// The sort column and direction.
    pub fn sort(&self) -> Option<(usize, SortDir)> {
        self.sort
    }

    /// Sorts by `column`; the same column again flips the direction. Call `refresh` after.
    pub fn sort_by(&mut self, column: usize) {
        self.sort = Some(match self.sort {
            Some((c, SortDir::Asc)) if c == column => (c, SortDir::Desc),
            Some((c, SortDir::Desc)) if c == column => (c, SortDir::Asc),
            _ => (column, SortDir::Asc),
        });
    }

    /// How many rows pass the filter.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no row passes the filter.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Row indices in display order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Position of the selection among the shown rows.
    pub fn selected_position(&self) -> usize {
        self.selected
    }

    /// The selected row's index in the view's rows.
    pub fn selected_row(&self) -> Option<usize> {
        self.order.get(self.selected).copied()
    }

    /// Selects the row with this index, if it is shown.
    pub fn select_row(&mut self, row: usize) {
        if let Some(p) = self.order.iter().position(|&r| r == row) {
            self.selected = p;
        }
    }

    /// Moves the selection by `delta` rows, clamped to the ends.
    pub fn step(&mut self, delta: isize) {
        let last = self.order.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
    }

    /// One screen down (the height of the last frame).
    pub fn page_down(&mut self) {
        self.step(self.page.get().max(1) as isize);
    }

    /// One screen up.
    pub fn page_up(&mut self) {
        self.step(-(self.page.get().max(1) as isize));
    }

    /// The first row.
    pub fn top(&mut self) {
        self.selected = 0;
    }

    /// The last row.
    pub fn bottom(&mut self) {
        self.selected = self.order.len().saturating_sub(1);
    }

    /// The positions on screen for a frame of `height` rows: the window moves only as far as
    /// it must to keep the selection in view.
    pub fn window(&self, height: usize) -> Range<usize> {
        self.page.set(height);
        let len = self.order.len();
        if height == 0 || len == 0 {
            return 0..0;
        }
        let mut first = self.offset.get().min(len.saturating_sub(height));
        if self.selected < first {
            first = self.selected;
        } else if self.selected >= first + height {
            first = self.selected + 1 - height;
        }
        self.offset.set(first);
        first..(first + height).min(len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SortKey;
    use super::*;

    struct R(&'static str, f64);
    impl TableRow for R {
        fn cells(&self) -> Vec<super::super::Cell> {
            vec![
                super::super::Cell::new(self.0, "text"),
                super::super::Cell::new(self.1.to_string(), "dim"),
            ]
        }
        fn sort_key(&self, col: usize) -> SortKey {
            match col {
                0 => SortKey::Text(self.0.into()),
                _ => SortKey::Number(self.1),
            }
        }
    }

    fn rows() -> Vec<R> {
        vec![
            R("delta", 4.0),
            R("alpha", 30.0),
            R("charlie", 3.0),
            R("bravo", 200.0),
        ]
    }

    #[test]
    fn filter_then_sort_and_the_selection_follows_the_shown_rows() {
        let rows = rows();
        let mut t = TableState::default();
        t.refresh(&rows);
        assert_eq!(t.order(), &[0, 1, 2, 3], "natural order without a sort");
        t.sort_by(1);
        t.refresh(&rows);
        assert_eq!(
            t.order(),
            &[2, 0, 1, 3],
            "numbers sort as numbers: 3 < 4 < 30 < 200"
        );
        t.sort_by(1);
        t.refresh(&rows);
        assert_eq!(
            t.order(),
            &[3, 1, 0, 2],
            "the same column again flips the direction"
        );
        t.bottom();
        assert_eq!(t.selected_row(), Some(2));
        t.set_filter("A".into());
        t.refresh(&rows);
        // "alpha", "charlie", "bravo", "delta" all contain an a: case-folded.
        assert_eq!(t.len(), 4);
        assert_eq!(t.selected_position(), 0, "a new filter selects the top");
        t.set_filter("ar".into());
        t.refresh(&rows);
        assert_eq!(t.order(), &[2], "only charlie");
        t.step(5);
        assert_eq!(t.selected_row(), Some(2), "clamped at the last row");
        t.set_filter("zz".into());
        t.refresh(&rows);
        assert!(t.is_empty());
        assert_eq!(t.selected_row(), None);
    }

    #[test]
    fn the_window_scrolls_only_as_far_as_the_selection_needs() {
        let rows: Vec<R> = (0..50).map(|i| R("x", f64::from(i))).collect();
        let mut t = TableState::default();
        t.refresh(&rows);
        assert_eq!(t.window(10), 0..10);
        t.step(12);
        assert_eq!(t.window(10), 3..13, "selection at the bottom edge");
        t.step(-5);
        assert_eq!(
            t.window(10),
            3..13,
            "moving up inside the window does not scroll"
        );
        t.step(-5);
        assert_eq!(t.window(10), 2..12, "above the window: it follows");
        t.page_down();
        assert_eq!(
            t.selected_position(),
            12,
            "a page is the last frame's height"
        );
        t.bottom();
        assert_eq!(t.window(10), 40..50);
        t.top();
        assert_eq!(t.window(10), 0..10);
        assert_eq!(t.window(0), 0..0);
    }
}
