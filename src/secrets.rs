//! Keeping secrets out of logs, screens and files: which names hold secrets, and redaction.

use std::collections::BTreeMap;

/// What a redacted value is shown as.
pub const REDACTED: &str = "<redacted>";

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

/// The variables with secret values replaced.
pub fn redact_vars(vars: &[(String, String)]) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(k, v)| {
            let v = if is_secret_name(k) {
                REDACTED.to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// Replaces every occurrence of each secret in `text` (secrets shorter than 4 chars are ignored:
/// too likely to mangle ordinary words).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_redacted() {
        let vars = vec![
            ("k8s_version".to_string(), "v1.28.15+rke2r1".to_string()),
            ("ubuntu_pro_token".to_string(), "C1234secret".to_string()),
            ("os_password".to_string(), "hunter22".to_string()),
        ];
        let r = redact_vars(&vars);
        assert_eq!(r["k8s_version"], "v1.28.15+rke2r1");
        assert_eq!(r["ubuntu_pro_token"], REDACTED);
        assert_eq!(r["os_password"], REDACTED);
    }

    #[test]
    fn scrub_replaces_secret_values() {
        assert_eq!(
            scrub("token=abcd1234 ok", &["abcd1234".into()]),
            "token=<redacted> ok"
        );
        assert_eq!(scrub("a b", &["a".into()]), "a b");
    }
}
