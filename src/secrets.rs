//! Keeping secrets out of logs, screens, files and argv: which names hold secrets, and
//! [`Secrets`], the set of known secret values that every line is scrubbed of, in the form the
//! operator sees and in packer's escaped form (`,` is `%!(PACKER_COMMA)` in machine-readable
//! output), longest first so a secret that contains another is replaced whole.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// What a redacted value is shown as.
pub const REDACTED: &str = "<redacted>";

/// Secrets shorter than this are not scrubbed: too likely to mangle ordinary words.
pub const MIN_SECRET_LEN: usize = 4;

/// True when a variable name suggests a secret (password, token, key, credential, secret).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "pass",
        "secret",
        "token",
        "credential",
        "pro_key",
        "api_key",
        "private_key",
        "attach",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// Known secret values, ready to scrub text with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Every form to replace, longest first.
    forms: Vec<String>,
}

impl Secrets {
    /// The set of these values (empty and too-short ones are ignored).
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(values: I) -> Self {
        let mut s = Secrets::default();
        for v in values {
            s.add(v.as_ref());
        }
        s
    }

    /// Adds a value (and its packer-escaped forms).
    pub fn add(&mut self, value: &str) {
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        for form in [
            value.to_string(),
            value.replace(',', "%!(PACKER_COMMA)"),
            value.replace('\n', "\\n"),
            value.replace(',', "%!(PACKER_COMMA)").replace('\n', "\\n"),
        ] {
            if !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.forms
            .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    }

    /// True when no value is known.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// The text with every known secret replaced by [`REDACTED`] (no copy when none occurs).
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for f in &self.forms {
            if out.contains(f.as_str()) {
                out = Cow::Owned(out.replace(f.as_str(), REDACTED));
            }
        }
        out
    }

    /// The same for raw bytes (packer.log keeps packer's bytes as written).
    pub fn scrub_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out = Cow::Borrowed(bytes);
        for f in &self.forms {
            let needle = f.as_bytes();
            if find(&out, needle).is_some() {
                let mut replaced = Vec::with_capacity(out.len());
                let mut rest: &[u8] = &out;
                while let Some(i) = find(rest, needle) {
                    replaced.extend_from_slice(&rest[..i]);
                    replaced.extend_from_slice(REDACTED.as_bytes());
                    rest = &rest[i + needle.len()..];
                }
                replaced.extend_from_slice(rest);
                out = Cow::Owned(replaced);
            }
        }
        out
    }

    /// The variables for a record: secret-named ones redacted, and any known secret value
    /// scrubbed out of the others (`https://admin:<secret>@host`).
    pub fn redact_vars(&self, vars: &[(String, String)]) -> BTreeMap<String, String> {
        vars.iter()
            .map(|(k, v)| {
                let v = if is_secret_name(k) {
                    REDACTED.to_string()
                } else {
                    self.scrub(v).into_owned()
                };
                (k.clone(), v)
            })
            .collect()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_redacted_and_values_scrubbed_from_other_vars() {
        let s = Secrets::new(["hunter22"]);
        let vars = vec![
            ("k8s_version".to_string(), "v1.28.15+rke2r1".to_string()),
            ("ubuntu_pro_token".to_string(), "C1234secret".to_string()),
            ("os_password".to_string(), "hunter22".to_string()),
            (
                "mirror".to_string(),
                "https://admin:hunter22@host".to_string(),
            ),
        ];
        let r = s.redact_vars(&vars);
        assert_eq!(r["k8s_version"], "v1.28.15+rke2r1");
        assert_eq!(r["ubuntu_pro_token"], REDACTED);
        assert_eq!(r["os_password"], REDACTED);
        assert_eq!(r["mirror"], "https://admin:<redacted>@host");
    }

    #[test]
    fn a_comma_in_a_secret_is_scrubbed_in_packers_escaped_form_too() {
        let s = Secrets::new(["Super,Secret123"]);
        assert_eq!(s.scrub("pw=Super,Secret123 ok"), "pw=<redacted> ok");
        assert_eq!(
            s.scrub("pw=Super%!(PACKER_COMMA)Secret123 ok"),
            "pw=<redacted> ok"
        );
        assert_eq!(
            &*s.scrub_bytes(b"x Super%!(PACKER_COMMA)Secret123 y"),
            b"x <redacted> y"
        );
    }

    #[test]
    fn the_longest_secret_goes_first() {
        let s = Secrets::new(["Long", "LongSecret98765"]);
        assert_eq!(
            s.scrub("a LongSecret98765 b Long"),
            "a <redacted> b <redacted>"
        );
    }

    #[test]
    fn short_values_are_left_alone_and_nothing_is_copied_without_a_match() {
        let s = Secrets::new(["a", ""]);
        assert!(s.is_empty());
        assert!(matches!(s.scrub("a b"), Cow::Borrowed(_)));
    }
}
