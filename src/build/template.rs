//! What kiln reads from the Packer template without running packer: the scripts (stages) it runs
//! and variable defaults (for the image name kiln expects and the source image to check).

use chrono::{DateTime, Utc};

/// The `default` of `variable "<name>"` in an HCL2 template, when it is a plain string or bool.
pub fn variable_default(text: &str, name: &str) -> Option<String> {
    let header = format!("variable \"{name}\"");
    let start = text.find(&header)?;
    let body = &text[start + header.len()..];
    let open = body.find('{')?;
    let mut depth = 0usize;
    let mut end = body.len();
    for (i, c) in body[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    body[open..end].lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        if key.trim() != "default" {
            return None;
        }
        let v = value.trim().trim_end_matches(',');
        Some(v.trim_matches('"').to_string())
    })
}

/// `rke2-node-<minor>-<YYYYMMDD>` for a Kubernetes version such as `v1.28.15+rke2r1`.
pub fn expected_image_name(k8s_version: &str, date: DateTime<Utc>) -> String {
    let minor: String = k8s_version.split('.').take(2).collect::<Vec<_>>().join(".");
    format!("rke2-node-{minor}-{}", date.format("%Y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn defaults_are_read() {
        let t = "variable \"k8s_version\" {\n  type    = string\n  default = \"v1.28.15+rke2r1\"\n}\nvariable \"fips_enabled\" {\n  default = false\n}\n";
        assert_eq!(
            variable_default(t, "k8s_version").as_deref(),
            Some("v1.28.15+rke2r1")
        );
        assert_eq!(
            variable_default(t, "fips_enabled").as_deref(),
            Some("false")
        );
        assert_eq!(variable_default(t, "flavor"), None);
    }

    #[test]
    fn image_name_matches_the_document() {
        let d = Utc.with_ymd_and_hms(2026, 4, 7, 11, 23, 14).unwrap();
        assert_eq!(
            expected_image_name("v1.28.15+rke2r1", d),
            "rke2-node-v1.28-20260407"
        );
    }
}
