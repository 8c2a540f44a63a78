//! Finding OpenStack credentials: `--os-cloud NAME`, else `OS_CLOUD` (in the first clouds.yaml
//! that names it: `OS_CLIENT_CONFIG_FILE`, ./clouds.yaml, the user's and the system's), else the
//! `OS_*` variables of a sourced openrc. The result is an explicit [`CloudConfig`] (or why there
//! is none); the environment is read only through the injected lookup, and never a secret is
//! shown.

use std::path::{Path, PathBuf};

use super::clouds_yaml;
use super::config::CloudConfig;
use super::env::from_env;

/// Where the credentials come from, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Usable configuration.
    Resolved(Box<CloudConfig>),
    /// Nothing usable.
    Missing {
        /// What is missing or wrong, for the operator (file, line and key for clouds.yaml).
        reason: String,
    },
}

impl CredentialSource {
    /// Resolves the credentials from an explicit cloud name and an environment lookup.
    pub fn detect(os_cloud: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let set = |k: &str| env(k).filter(|v| !v.is_empty());
        let result = match os_cloud.map(str::to_string).or_else(|| set("OS_CLOUD")) {
            Some(cloud) => from_clouds_yaml(&cloud, env),
            None => from_env(env),
        };
        match result {
            Ok(c) => CredentialSource::Resolved(Box::new(c)),
            Err(reason) => CredentialSource::Missing { reason },
        }
    }

    /// Credentials given by the program (the simulator, tests).
    pub fn given(config: CloudConfig) -> Self {
        CredentialSource::Resolved(Box::new(config))
    }

    /// True when something usable was found.
    pub fn is_present(&self) -> bool {
        matches!(self, CredentialSource::Resolved(_))
    }

    /// The configuration, when resolved.
    pub fn config(&self) -> Option<&CloudConfig> {
        match self {
            CredentialSource::Resolved(c) => Some(c),
            CredentialSource::Missing { .. } => None,
        }
    }

    /// A one-line description without secrets.
    pub fn describe(&self) -> String {
        match self {
            CredentialSource::Resolved(c) => c.describe(),
            CredentialSource::Missing { reason } => reason.clone(),
        }
    }
}

/// True when a clouds.yaml text has a key `cloud:` indented under `clouds:`.
pub(crate) fn names_cloud(text: &str, cloud: &str) -> bool {
    let key = format!("{cloud}:");
    text.lines().any(|l| {
        let t = l.trim_start();
        l.len() > t.len() && t.trim_matches(|c| c == '"' || c == '\'').starts_with(&key)
            || t.starts_with(&format!("\"{cloud}\":"))
            || t.starts_with(&format!("'{cloud}':"))
    })
}

fn from_clouds_yaml(
    cloud: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CloudConfig, String> {
    let candidates = clouds_yaml_candidates(env);
    for path in &candidates {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if names_cloud(&text, cloud) {
            return clouds_yaml::parse(path, &text, cloud).map_err(|e| e.to_string());
        }
    }
    let searched: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "cloud `{cloud}` is not in any clouds.yaml (searched {})",
        searched.join(", ")
    ))
}

/// clouds.yaml locations, in the order the OpenStack SDK searches them.
pub fn clouds_yaml_candidates(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(f) = env("OS_CLIENT_CONFIG_FILE") {
        out.push(PathBuf::from(f));
    }
    out.push(PathBuf::from("clouds.yaml"));
    if let Some(xdg) = env("XDG_CONFIG_HOME") {
        out.push(Path::new(&xdg).join("openstack/clouds.yaml"));
    }
    if let Some(home) = env("HOME") {
        out.push(Path::new(&home).join(".config/openstack/clouds.yaml"));
    }
    out.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::config::Origin;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn openrc_password_is_detected() {
        let env = env_of(&[
            ("OS_AUTH_URL", "https://keystone:5000/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p4ssw0rd"),
        ]);
        let c = CredentialSource::detect(None, &env);
        assert!(c.is_present());
        assert!(!c.describe().contains("p4ssw0rd"));
        assert!(!format!("{c:?}").contains("p4ssw0rd"));
        assert_eq!(
            c.describe(),
            "OS_* variables (password) for https://keystone:5000/v3"
        );
    }

    #[test]
    fn missing_password_is_named() {
        let env = env_of(&[("OS_AUTH_URL", "https://k/v3"), ("OS_USERNAME", "u")]);
        let c = CredentialSource::detect(None, &env);
        assert!(!c.is_present());
        assert!(c.describe().contains("OS_PASSWORD"));
    }

    #[test]
    fn os_cloud_flag_wins_and_reads_clouds_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("clouds.yaml");
        std::fs::write(
            &f,
            "clouds:\n  vitroai:\n    auth:\n      auth_url: http://k/v3\n      username: u\n      password: p\n      project_name: x\n",
        )
        .unwrap();
        let fs = f.display().to_string();
        let env = env_of(&[
            ("OS_CLIENT_CONFIG_FILE", fs.as_str()),
            ("OS_CLOUD", "other"),
        ]);
        let c = CredentialSource::detect(Some("vitroai"), &env);
        let cfg = c.config().expect("resolved");
        assert_eq!(
            cfg.origin,
            Origin::CloudsYaml {
                cloud: "vitroai".into(),
                file: f.clone()
            }
        );
        assert_eq!(cfg.auth_url, "http://k/v3");
        let c = CredentialSource::detect(None, &env);
        assert!(!c.is_present(), "OS_CLOUD=other is not in the file");
        assert!(
            c.describe()
                .contains("cloud `other` is not in any clouds.yaml"),
            "{}",
            c.describe()
        );
    }

    #[test]
    fn a_broken_clouds_yaml_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("clouds.yaml");
        std::fs::write(&f, "clouds:\n  c:\n    auth:\n      username: u\n").unwrap();
        let fs = f.display().to_string();
        let c = CredentialSource::detect(
            Some("c"),
            &env_of(&[("OS_CLIENT_CONFIG_FILE", fs.as_str())]),
        );
        let d = c.describe();
        assert!(
            d.starts_with(&format!("{fs}:3: clouds.c.auth.auth_url: missing")),
            "{d}"
        );
    }
}
