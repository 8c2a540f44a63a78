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
}

impl Column {
    /// A left-aligned column fitted to its content.
    pub const fn fit(title: &'static str, min: u16, max: u16) -> Self {
        Column {
            title,
            width: Width::Fit { min, max },
            align: Align::Left,
        }
    }

    /// A right-aligned column fitted to its content.
    pub const fn fit_right(title: &'static str, min: u16, max: u16) -> Self {
        Column {
            title,
            width: Width::Fit { min, max },
            align: Align::Right,
        }
    }

    /// A column taking what is left.
    pub const fn fill(title: &'static str) -> Self {
        Column {
            title,
            width: Width::Fill,
            align: Align::Left,
        }
    }
}

/// The widths of `columns` in `total` cells (one space between columns), given the widest
/// value of each column among the rows shown.
pub fn widths(columns: &[Column], widest: &[usize], total: u16) -> Vec<u16> {
    let gaps = columns.len().saturating_sub(1) as u16;
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
        .collect();
    let used: u16 = out.iter().sum::<u16>().saturating_add(gaps);
    let fills: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.width == Width::Fill)
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
    out
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
        assert_eq!(widths(&cols, &[30, 2, 99], 40), vec![10, 3, 25]);
        // Too narrow: the fill column gets nothing, fitted columns keep their width.
        assert_eq!(widths(&cols, &[30, 2, 99], 10), vec![10, 3, 0]);
    }

    #[test]
    fn two_fill_columns_share_the_rest() {
        let cols = [Column::fill("A"), Column::fill("B")];
        assert_eq!(widths(&cols, &[0, 0], 21), vec![10, 10]);
    }
}
