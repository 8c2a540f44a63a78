//! Reading one cloud from a clouds.yaml file into a [`CloudConfig`]: `auth` (password,
//! application credential or token; names or ids), `auth_type`, `region_name`, `interface`,
//! `cacert` and `verify`. Every error names the file, the line and the key.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::config::{AuthMethod, CloudConfig, IdOrName, Origin, ProjectScope, Secret, Tls};

/// What is wrong with a clouds.yaml, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {key}: {message}", file.display())]
pub struct CloudsYamlError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (of the key, or of the nearest enclosing key found).
    pub line: usize,
    /// The key path, e.g. `clouds.prod.auth.auth_url`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// The 1-based line of the key `path` (each component indented under the previous one), or of
/// the deepest component found.
fn line_of(text: &str, path: &[&str]) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut indent: Option<usize> = None;
    let mut found = 1;
    for comp in path {
        let hit = lines.iter().enumerate().skip(from).find(|(_, l)| {
            let t = l.trim_start();
            let ind = l.len() - t.len();
            let key = t
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(|c| c == '"' || c == '\'');
            indent.is_none_or(|i| ind > i) && key == *comp && t.contains(':')
        });
        match hit {
            Some((i, l)) => {
                found = i + 1;
                from = i + 1;
                indent = Some(l.len() - l.trim_start().len());
            }
            None => break,
        }
    }
    found
}

struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
    cloud: &'a str,
}

impl Ctx<'_> {
    fn err(&self, keys: &[&str], message: impl Into<String>) -> CloudsYamlError {
        let mut path = vec!["clouds", self.cloud];
        path.extend_from_slice(keys);
        CloudsYamlError {
            file: self.file.to_path_buf(),
            line: line_of(self.text, &path),
            key: path.join("."),
            message: message.into(),
        }
    }

    /// A string value (numbers are taken as text); Err when it is another type.
    fn string(&self, map: &Value, keys: &[&str]) -> Result<Option<String>, CloudsYamlError> {
        let Some(last) = keys.last() else {
            return Ok(None);
        };
        match map.get(*last) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(self.err(keys, format!("expected a string, got {}", kind(other)))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn id_or_name(id: Option<String>, name: Option<String>) -> Option<IdOrName> {
    id.map(IdOrName::Id).or(name.map(IdOrName::Name))
}

/// Reads cloud `cloud` from `file` (whose contents are `text`).
pub fn parse(file: &Path, text: &str, cloud: &str) -> Result<CloudConfig, CloudsYamlError> {
    let cx = Ctx { file, text, cloud };
    let doc: Value = serde_yaml::from_str(text).map_err(|e| CloudsYamlError {
        file: file.to_path_buf(),
        line: e.location().map(|l| l.line()).unwrap_or(1),
        key: "(document)".into(),
        message: format!("not valid YAML: {e}"),
    })?;
    let Some(clouds) = doc.get("clouds").filter(|c| c.is_mapping()) else {
        return Err(CloudsYamlError {
            file: file.to_path_buf(),
            line: 1,
            key: "clouds".into(),
            message: "no `clouds:` mapping".into(),
        });
    };
    let Some(entry) = clouds.get(cloud) else {
        return Err(CloudsYamlError {
            file: file.to_path_buf(),
            line: line_of(text, &["clouds"]),
            key: format!("clouds.{cloud}"),
            message: "no such cloud in this file".into(),
        });
    };
    if !entry.is_mapping() {
        return Err(cx.err(&[], format!("expected a mapping, got {}", kind(entry))));
    }
    let auth = entry.get("auth").cloned().unwrap_or(Value::Null);
    if !auth.is_mapping() {
        return Err(cx.err(&["auth"], "missing: a cloud needs an `auth:` mapping"));
    }
    let s = |k: &'static str| cx.string(&auth, &["auth", k]);
    let auth_url = s("auth_url")?
        .ok_or_else(|| cx.err(&["auth", "auth_url"], "missing: Keystone's URL is required"))?;
    let auth_type = cx.string(entry, &["auth_type"])?.unwrap_or_default();
    let project = id_or_name(s("project_id")?, s("project_name")?.or(s("tenant_name")?));
    let scope = project.map(|project| ProjectScope {
        project,
        domain: None,
    });
    let user_domain = id_or_name(s("user_domain_id")?, s("user_domain_name")?)
        .or(id_or_name(s("domain_id")?, s("domain_name")?));
    let scope = match scope {
        Some(mut sc) => {
            sc.domain = id_or_name(s("project_domain_id")?, s("project_domain_name")?)
                .or(user_domain.clone())
                .or(Some(IdOrName::Id("default".into())));
            Some(sc)
        }
        None => None,
    };
    let method = if auth_type.contains("applicationcredential")
        || s("application_credential_secret")?.is_some()
    {
        let id = s("application_credential_id")?.ok_or_else(|| {
            cx.err(
                &["auth", "application_credential_id"],
                "missing: an application credential needs its id (names are not supported)",
            )
        })?;
        let secret = s("application_credential_secret")?.ok_or_else(|| {
            cx.err(
                &["auth", "application_credential_secret"],
                "missing: an application credential needs its secret",
            )
        })?;
        AuthMethod::ApplicationCredential {
            id,
            secret: Secret::new(secret),
        }
    } else if auth_type.contains("token") {
        let token = s("token")?
            .ok_or_else(|| cx.err(&["auth", "token"], "missing: auth_type token needs `token`"))?;
        AuthMethod::Token {
            token: Secret::new(token),
            scope,
        }
    } else {
        let user = id_or_name(s("user_id")?, s("username")?).ok_or_else(|| {
            cx.err(
                &["auth", "username"],
                "missing: password auth needs `username` or `user_id`",
            )
        })?;
        let password = s("password")?.ok_or_else(|| {
            cx.err(
                &["auth", "password"],
                "missing: password auth needs `password`",
            )
        })?;
        AuthMethod::Password {
            user,
            user_domain: user_domain.or(Some(IdOrName::Id("default".into()))),
            password: Secret::new(password),
            scope,
        }
    };
    let verify = match entry.get("verify") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(v)) if v.eq_ignore_ascii_case("true") => true,
        Some(Value::String(v)) if v.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(cx.err(
                &["verify"],
                format!("expected true or false, got {}", kind(other)),
            ));
        }
    };
    let ca_file = cx.string(entry, &["cacert"])?.map(PathBuf::from);
    if let Some(ca) = &ca_file
        && !ca.is_file()
    {
        return Err(cx.err(
            &["cacert"],
            format!("{} is not a readable file", ca.display()),
        ));
    }
    let interface = cx
        .string(entry, &["interface"])?
        .unwrap_or_else(|| "public".into());
    if !["public", "internal", "admin"].contains(&interface.as_str()) {
        return Err(cx.err(
            &["interface"],
            format!("`{interface}`: expected public, internal or admin"),
        ));
    }
    Ok(CloudConfig {
        auth_url,
        auth: method,
        region: cx.string(entry, &["region_name"])?,
        interface,
        tls: Tls { ca_file, verify },
        origin: Origin::CloudsYaml {
            cloud: cloud.to_string(),
            file: file.to_path_buf(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "clouds:\n  other:\n    auth: {}\n  prod:\n    auth:\n      auth_url: https://keystone.example:5000/v3\n      username: ops\n      password: s3cret\n      project_name: platform\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n    verify: false\n";

    #[test]
    fn a_password_cloud_is_read() {
        let c = parse(Path::new("/x/clouds.yaml"), GOOD, "prod").unwrap();
        assert_eq!(c.auth_url, "https://keystone.example:5000/v3");
        assert_eq!(c.region.as_deref(), Some("RegionOne"));
        assert!(!c.tls.verify);
        match &c.auth {
            AuthMethod::Password {
                user,
                password,
                scope,
                ..
            } => {
                assert_eq!(user, &IdOrName::Name("ops".into()));
                assert_eq!(password.expose(), "s3cret");
                let sc = scope.as_ref().unwrap();
                assert_eq!(sc.project, IdOrName::Name("platform".into()));
                assert_eq!(sc.domain, Some(IdOrName::Name("Default".into())));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = parse(
            Path::new("/x/clouds.yaml"),
            &GOOD.replace("      auth_url: https://keystone.example:5000/v3\n", ""),
            "prod",
        )
        .unwrap_err();
        assert_eq!(e.key, "clouds.prod.auth.auth_url");
        assert_eq!(e.line, 5, "the nearest key found is `auth:` on line 5: {e}");
        assert!(
            e.to_string()
                .starts_with("/x/clouds.yaml:5: clouds.prod.auth.auth_url: missing"),
            "{e}"
        );

        let e = parse(
            Path::new("c.yaml"),
            &GOOD.replace("verify: false", "verify: [1]"),
            "prod",
        )
        .unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (13, "clouds.prod.verify"), "{e}");

        let e = parse(
            Path::new("c.yaml"),
            &GOOD.replace("username: ops", "username: [a]"),
            "prod",
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.key.as_str()),
            (7, "clouds.prod.auth.username"),
            "{e}"
        );

        let e = parse(Path::new("c.yaml"), "clouds:\n  prod: [\n", "prod").unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{e}");
        assert!(e.line >= 2, "{e}");

        let e = parse(Path::new("c.yaml"), GOOD, "nope").unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (1, "clouds.nope"));

        let e = parse(
            Path::new("c.yaml"),
            &GOOD.replace("verify: false", "cacert: /no/such/ca.pem"),
            "prod",
        )
        .unwrap_err();
        assert!(e.message.contains("/no/such/ca.pem"), "{e}");
    }

    #[test]
    fn application_credential_needs_its_id() {
        let text = "clouds:\n  ac:\n    auth_type: v3applicationcredential\n    auth:\n      auth_url: http://k/v3\n      application_credential_secret: x\n";
        let e = parse(Path::new("c.yaml"), text, "ac").unwrap_err();
        assert_eq!(e.key, "clouds.ac.auth.application_credential_id");
        let ok = parse(
            Path::new("c.yaml"),
            &text.replace(
                "secret: x",
                "secret: x\n      application_credential_id: abc",
            ),
            "ac",
        )
        .unwrap();
        assert_eq!(ok.auth.name(), "application credential");
    }
}
