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

/// An age as k9s shows it: `45s`, `12m`, `5h12m`, `3d4h` (under ten days), `95d`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{m}m"),
        s if s < 86_400 => format!("{h}h{m}m"),
        s if s < 10 * 86_400 => format!("{d}d{h}h"),
        _ => format!("{d}d"),
    }
}

/// Bytes in binary units: `812.3 MiB`, `2.0 GiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The first `max` characters of `text`, with `…` when it was longer (a huge value quoted in an
/// error must not flood the terminal).
pub fn cut_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Text safe to print on a terminal: escape sequences (colours, cursor moves, window titles)
/// and other control characters removed, tabs kept. No copy when there is nothing to remove.
pub fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then one final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC (a title, a hyperlink): up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn terminal_escapes_and_controls_are_removed() {
        assert_eq!(
            super::plain("\u{1b}[31mred\u{1b}[0m\ttab\u{7}\u{1b}]0;title\u{7}end\r"),
            "red\ttabend"
        );
        assert_eq!(super::plain("\u{1b}]8;;http://x\u{1b}\\link"), "link");
        assert!(matches!(
            super::plain("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn ages_and_sizes() {
        assert_eq!(super::age(42), "42s");
        assert_eq!(super::age(12 * 60 + 5), "12m");
        assert_eq!(super::age(5 * 3600 + 12 * 60), "5h12m");
        assert_eq!(super::age(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(super::age(95 * 86_400 + 3600), "95d");
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(3 << 30), "3.0 GiB");
    }

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
