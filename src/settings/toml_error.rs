//! Where a TOML error is: the 1-based line of a byte offset and the key written there, for the
//! errors of config.toml and theme files ("file, line, key").

/// How much of a line an error quotes as its key (a huge bad line must not flood the terminal).
pub const MAX_KEY_CHARS: usize = 60;

/// The first `max` characters of `text`, with `…` when it was longer.
pub fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The 1-based line of a byte offset and the key written on that line.
pub fn locate(text: &str, offset: usize) -> (usize, String) {
    let offset = offset.min(text.len());
    let line = text[..offset].matches('\n').count() + 1;
    let this = text.lines().nth(line - 1).unwrap_or("");
    let key = this
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches(|c| c == '[' || c == ']' || c == '"');
    (line, cut(key, MAX_KEY_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_key_of_an_offset() {
        let text = "a = 1\n[vars]\nk8s_version = 3\n";
        let at = text.find("3").unwrap_or(0);
        assert_eq!(locate(text, at), (3, "k8s_version".to_string()));
        assert_eq!(locate(text, 7), (2, "vars".to_string()));
        assert_eq!(locate(text, 10_000).0, 4, "past the end: the last line");
        let huge = "x".repeat(100_000);
        let (_, key) = locate(&huge, 5);
        assert_eq!(
            key.chars().count(),
            MAX_KEY_CHARS + 1,
            "cut, with an ellipsis"
        );
    }
}
