//! What kiln reads from the Packer template without running packer: variable defaults (for the
//! image name kiln expects and the source image to check), the variables that have no default
//! (a build cannot run until they are given), and the keys a `-var-file` sets.

use chrono::{DateTime, Utc};

/// The body of `variable "<name>" { ... }` (between the braces), when the template declares it.
fn variable_body<'a>(text: &'a str, name: &str) -> Option<&'a str> {
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
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    end = open + i;
                    break;
                }
            }
            _ => {}
        }
    }
    Some(&body[open + 1..end])
}

/// The `default` line of a variable body, as written.
fn default_line(body: &str) -> Option<&str> {
    body.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "default").then_some(value)
    })
}

/// The `default` of `variable "<name>"` in an HCL2 template, when it is a plain string or bool.
pub fn variable_default(text: &str, name: &str) -> Option<String> {
    let v = default_line(variable_body(text, name)?)?
        .trim()
        .trim_end_matches(',');
    Some(v.trim_matches('"').to_string())
}

/// The names of the variables the template declares, in order.
pub fn declared_variables(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("variable")?.trim_start();
            let name = rest.strip_prefix('"')?.split('"').next()?;
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// The variables declared without a `default`: packer refuses to run until each has a value.
pub fn variables_without_default(text: &str) -> Vec<String> {
    declared_variables(text)
        .into_iter()
        .filter(|n| variable_body(text, n).is_some_and(|b| default_line(b).is_none()))
        .collect()
}

/// The keys a `.pkrvars.hcl` file sets (`name = value` lines at the top level).
pub fn var_file_keys(text: &str) -> Vec<String> {
    let mut depth = 0i32;
    let mut keys = Vec::new();
    for line in text.lines() {
        let code = line.split('#').next().unwrap_or("");
        if depth == 0
            && let Some((key, _)) = code.split_once('=')
        {
            let key = key.trim().trim_matches('"');
            if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                keys.push(key.to_string());
            }
        }
        depth += code.matches(['{', '[']).count() as i32 - code.matches(['}', ']']).count() as i32;
    }
    keys
}

/// `rke2-node-<minor>-<YYYYMMDD>` for a Kubernetes version such as `v1.28.15+rke2r1`, with
/// `-<suffix>` for a second image of the same day (the template's `image_suffix`).
pub fn expected_image_name(k8s_version: &str, date: DateTime<Utc>, suffix: &str) -> String {
    let minor: String = k8s_version.split('.').take(2).collect::<Vec<_>>().join(".");
    let day = date.format("%Y%m%d");
    if suffix.is_empty() {
        format!("rke2-node-{minor}-{day}")
    } else {
        format!("rke2-node-{minor}-{day}-{suffix}")
    }
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
    fn variables_without_a_default_are_found() {
        let t = "variable \"a\" {\n  default = \"x\"\n}\nvariable \"flavor\" {\n  type = string\n  description = \"no default = here\"\n}\nvariable \"tags\" {\n  default = {\n    k = \"v\"\n  }\n}\nvariable \"network_id\" {\n  type = string\n}\n";
        assert_eq!(declared_variables(t), ["a", "flavor", "tags", "network_id"]);
        assert_eq!(variables_without_default(t), ["flavor", "network_id"]);
    }

    #[test]
    fn var_file_keys_are_top_level_assignments_only() {
        let f = "flavor = \"m1.large\" # the build VM\nsecurity_groups = [\n  \"ssh\",\n]\nextra = {\n  nested = 1\n}\n# network_id = \"x\"\n";
        assert_eq!(var_file_keys(f), ["flavor", "security_groups", "extra"]);
    }

    #[test]
    fn image_name_matches_the_document() {
        let d = Utc.with_ymd_and_hms(2026, 4, 7, 11, 23, 14).unwrap();
        assert_eq!(
            expected_image_name("v1.28.15+rke2r1", d, ""),
            "rke2-node-v1.28-20260407"
        );
        assert_eq!(
            expected_image_name("v1.28.15+rke2r1", d, "2"),
            "rke2-node-v1.28-20260407-2"
        );
    }
}
