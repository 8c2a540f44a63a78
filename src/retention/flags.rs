//! Flags on an image that are not verdicts but break something or look wrong: a name shared by
//! several images (CAPO's filter by name must match exactly one), and a name whose date is not
//! the day the image was made.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// A flag. The strings are the JSON contract (`flags` of `kiln images`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Another image has the same name: a CAPO filter by that name fails ("too many images
    /// were found").
    DuplicateName,
    /// The name's date is more than a day from `created_at`.
    NameDateMismatch,
}

impl Flag {
    /// The contract string.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::DuplicateName => "duplicate_name",
            Flag::NameDateMismatch => "name_date_mismatch",
        }
    }
}

/// The flags of each image, given (name, name date, created_at) for every image listed.
pub fn flags(images: &[(&str, Option<NaiveDate>, DateTime<Utc>)]) -> Vec<Vec<Flag>> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _, _) in images {
        *count.entry(name).or_default() += 1;
    }
    images
        .iter()
        .map(|(name, date, created)| {
            let mut f = Vec::new();
            if count.get(name).copied().unwrap_or(0) > 1 {
                f.push(Flag::DuplicateName);
            }
            // A build that starts before midnight and ends after it is one day off: fine.
            if let Some(d) = date
                && (created.date_naive() - *d).num_days().abs() > 1
            {
                f.push(Flag::NameDateMismatch);
            }
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn duplicates_and_date_mismatches_are_flagged() {
        let at = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 23, 50, 0).unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d);
        let f = flags(&[
            ("rke2-node-v1.28-20261101", day(1), at(1)),
            ("rke2-node-v1.28-20261101", day(1), at(2)),
            ("rke2-node-v1.28-20261110", day(10), at(20)),
            ("odd", None, at(3)),
        ]);
        assert_eq!(f[0], [Flag::DuplicateName]);
        assert_eq!(f[1], [Flag::DuplicateName], "a day apart is not a mismatch");
        assert_eq!(f[2], [Flag::NameDateMismatch]);
        assert!(f[3].is_empty());
    }
}
