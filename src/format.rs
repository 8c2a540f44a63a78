//! Small formatting helpers shared by views and printers.

/// `754.2` -> `12m34s`; `3725` -> `1h02m05s`; under a minute `42.0s`. Every unit after the
/// first has two digits, so durations line up.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m{sec:02}s")
    } else {
        format!("{m}m{sec:02}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations() {
        assert_eq!(super::duration(42.04), "42.0s");
        assert_eq!(super::duration(754.2), "12m34s");
        assert_eq!(super::duration(3725.0), "1h02m05s");
        assert_eq!(super::duration(36000.0), "10h00m00s");
        assert_eq!(super::duration(65.0), "1m05s");
        assert_eq!(super::duration(-3.0), "0.0s");
    }
}
