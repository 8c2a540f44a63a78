//! The template's image names, `rke2-node-<series>-<YYYYMMDD>[-suffix]` (series like `v1.28`),
//! parsed into series and build date. Anything else under the prefix is "unparseable".

use chrono::NaiveDate;

/// The name prefix of kiln's images.
pub const PREFIX: &str = "rke2-node-";

/// What an image name says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageName {
    /// `v1.28`.
    pub series: String,
    /// The build day in the name.
    pub build_date: NaiveDate,
    /// Anything after the date (`-rc1`), without the dash.
    pub suffix: Option<String>,
}

fn is_series(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Parses `rke2-node-v1.28-20260301` (None when the name does not follow the template).
pub fn parse(name: &str) -> Option<ImageName> {
    let rest = name.strip_prefix(PREFIX)?;
    let (series, rest) = rest.split_once('-')?;
    if !is_series(series) {
        return None;
    }
    let (date, suffix) = match rest.split_once('-') {
        Some((d, s)) if !s.is_empty() => (d, Some(s.to_string())),
        Some(_) => return None,
        None => (rest, None),
    };
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let build_date = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
    Some(ImageName {
        series: series.to_string(),
        build_date,
        suffix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_names_parse() {
        let n = parse("rke2-node-v1.28-20260301").unwrap();
        assert_eq!(n.series, "v1.28");
        assert_eq!(n.build_date, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(n.suffix, None);
        let n = parse("rke2-node-v1.29-20261124-rc1").unwrap();
        assert_eq!(n.suffix.as_deref(), Some("rc1"));
        assert_eq!(
            parse("rke2-node-v1.30-20240229")
                .unwrap()
                .build_date
                .to_string(),
            "2024-02-29"
        );
    }

    #[test]
    fn other_names_do_not() {
        for bad in [
            "rke2-node-manual-test",
            "rke2-node-v1.28",
            "rke2-node-v1.28-2026031",
            "rke2-node-v1.28-20260230",
            "rke2-node-1.28-20260301",
            "rke2-node-v1-20260301",
            "rke2-node-v1.28.3-20260301",
            "rke2-node-v1.28-20260301-",
            "rke2-nodepool-legacy",
            "ubuntu-22.04",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
