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
    fn durations() {
        assert_eq!(super::duration(42.04), "42.0s");
        assert_eq!(super::duration(754.2), "12m34s");
        assert_eq!(super::duration(3725.0), "1h02m05s");
        assert_eq!(super::duration(36000.0), "10h00m00s");
        assert_eq!(super::duration(65.0), "1m05s");
        assert_eq!(super::duration(-3.0), "0.0s");
    }
}
