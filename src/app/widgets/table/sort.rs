//! Sort keys: a column sorts as text, a number, a duration or a time, never as its display text
//! (`3d4h` sorts after `95m`).

use std::cmp::Ordering;

/// A value to sort a column by.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    /// Case-folded text.
    Text(String),
    /// A number (sizes, counts, seconds).
    Number(f64),
    /// Missing: sorts after every value, whichever the direction.
    Missing,
}

impl SortKey {
    /// Compares two keys ascending; `Missing` last.
    pub fn cmp_asc(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Missing, SortKey::Missing) => Ordering::Equal,
            (SortKey::Missing, _) => Ordering::Greater,
            (_, SortKey::Missing) => Ordering::Less,
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            (SortKey::Number(_), SortKey::Text(_)) => Ordering::Less,
            (SortKey::Text(_), SortKey::Number(_)) => Ordering::Greater,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortDir {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Compares with a direction; `Missing` stays last either way.
pub fn compare(a: &SortKey, b: &SortKey, dir: SortDir) -> Ordering {
    match (a, b, dir) {
        (SortKey::Missing, _, _) | (_, SortKey::Missing, _) | (_, _, SortDir::Asc) => a.cmp_asc(b),
        (_, _, SortDir::Desc) => b.cmp_asc(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_numerically_and_missing_is_last_both_ways() {
        let mut keys = [
            SortKey::Number(95.0 * 60.0),
            SortKey::Missing,
            SortKey::Number(3.0 * 86400.0 + 4.0 * 3600.0),
            SortKey::Number(9.0),
        ];
        keys.sort_by(|a, b| compare(a, b, SortDir::Asc));
        assert_eq!(keys[0], SortKey::Number(9.0));
        assert_eq!(keys[3], SortKey::Missing);
        keys.sort_by(|a, b| compare(a, b, SortDir::Desc));
        assert_eq!(keys[0], SortKey::Number(3.0 * 86400.0 + 4.0 * 3600.0));
        assert_eq!(keys[3], SortKey::Missing);
    }
}
