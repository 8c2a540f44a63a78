//! Table columns: title, width rule and alignment.

/// How wide a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Exactly this many cells.
    Fixed(u16),
    /// As wide as the widest visible value (or the title), between `min` and `max`.
    Fit {
        /// At least.
        min: u16,
        /// At most.
        max: u16,
    },
    /// What is left (the last such column takes the remainder).
    Fill,
}

/// Text alignment in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers, durations, sizes.
    Right,
}

/// A column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The header.
    pub title: &'static str,
    /// The width rule.
    pub width: Width,
    /// Alignment.
    pub align: Align,
    /// Left out when the table is too narrow for the fill column to show [`MIN_FILL`] cells;
    /// the lowest rank goes first.
    pub optional: Option<u8>,
}

/// The fewest cells a fill column should get before optional columns are left out.
pub const MIN_FILL: u16 = 16;

impl Column {
    /// A left-aligned column fitted to its content.
    pub const fn fit(title: &'static str, min: u16, max: u16) -> Self {
        Column {
            title,
            width: Width::Fit { min, max },
            align: Align::Left,
            optional: None,
        }
    }

    /// A right-aligned column fitted to its content.
    pub const fn fit_right(title: &'static str, min: u16, max: u16) -> Self {
        Column {
            title,
            width: Width::Fit { min, max },
            align: Align::Right,
            optional: None,
        }
    }

    /// The same column, left out when the table is narrow (rank 0 first, then 1, ...).
    pub const fn optional(self, rank: u8) -> Self {
        Column {
            optional: Some(rank),
            ..self
        }
    }

    /// A column taking what is left.
    pub const fn fill(title: &'static str) -> Self {
        Column {
            title,
            width: Width::Fill,
            align: Align::Left,
            optional: None,
        }
    }
}

/// The widths of `columns` in `total` cells (one space between columns), given the widest
/// value of each column among the rows shown; `None` for an optional column left out because
/// the fill column would get fewer than [`MIN_FILL`] cells (lowest rank first).
pub fn widths(columns: &[Column], widest: &[usize], total: u16) -> Vec<Option<u16>> {
    let mut shown = vec![true; columns.len()];
    loop {
        let out = widths_of(columns, &shown, widest, total);
        let starved = columns
            .iter()
            .zip(&out)
            .any(|(c, w)| c.width == Width::Fill && w.is_some_and(|w| w < MIN_FILL));
        let next = (0..columns.len())
            .filter(|&i| shown[i])
            .filter_map(|i| Some((columns[i].optional?, i)))
            .min()
            .map(|(_, i)| i);
        match next {
            Some(i) if starved => shown[i] = false,
            _ => return out,
        }
    }
}

fn widths_of(columns: &[Column], shown: &[bool], widest: &[usize], total: u16) -> Vec<Option<u16>> {
    let gaps = shown.iter().filter(|s| **s).count().saturating_sub(1) as u16;
    let mut out: Vec<u16> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c.width {
            Width::Fixed(n) => n,
            Width::Fit { min, max } => {
                let want = widest
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .max(c.title.chars().count());
                (want.min(u16::MAX as usize) as u16).clamp(min, max.max(min))
            }
            Width::Fill => 0,
        })
        .zip(shown)
        .map(|(w, s)| if *s { w } else { 0 })
        .collect();
    let used: u16 = out.iter().sum::<u16>().saturating_add(gaps);
    let fills: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(i, c)| c.width == Width::Fill && shown[*i])
        .map(|(i, _)| i)
        .collect();
    let rest = total.saturating_sub(used);
    if let Some((&last, others)) = fills.split_last() {
        let share = rest / fills.len() as u16;
        for &i in others {
            out[i] = share;
        }
        out[last] = rest - share * others.len() as u16;
    }
    out.into_iter()
        .zip(shown)
        .map(|(w, s)| s.then_some(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_columns_follow_content_within_bounds_and_fill_takes_the_rest() {
        let cols = [
            Column::fit("NAME", 4, 10),
            Column::fit_right("AGE", 3, 6),
            Column::fill("NOTE"),
        ];
        // Widest values: 30 (capped at 10), 2 (the title "AGE" wins: 3).
        assert_eq!(
            widths(&cols, &[30, 2, 99], 40),
            vec![Some(10), Some(3), Some(25)]
        );
        // Too narrow: the fill column gets nothing, fitted columns keep their width.
        assert_eq!(
            widths(&cols, &[30, 2, 99], 10),
            vec![Some(10), Some(3), Some(0)]
        );
    }

    #[test]
    fn optional_columns_go_lowest_rank_first_when_the_fill_column_starves() {
        let cols = [
            Column::fit("NAME", 4, 10),
            Column::fit("A", 6, 6).optional(1),
            Column::fit("B", 6, 6).optional(0),
            Column::fill("NOTE"),
        ];
        let w = [10, 6, 6, 99];
        // Wide enough: everything.
        assert_eq!(
            widths(&cols, &w, 60),
            vec![Some(10), Some(6), Some(6), Some(35)]
        );
        // B goes first (NOTE would get 13), then A too when still short.
        assert_eq!(
            widths(&cols, &w, 40),
            vec![Some(10), Some(6), None, Some(22)]
        );
        assert_eq!(widths(&cols, &w, 28), vec![Some(10), None, None, Some(17)]);
        // Narrower still: nothing more to leave out, the fill column takes what is left.
        assert_eq!(widths(&cols, &w, 20), vec![Some(10), None, None, Some(9)]);
    }

    #[test]
    fn two_fill_columns_share_the_rest() {
        let cols = [Column::fill("A"), Column::fill("B")];
        assert_eq!(widths(&cols, &[0, 0], 21), vec![Some(10), Some(10)]);
    }
}
