//! Finding OpenStack credentials: `--os-cloud NAME`, else `OS_CLOUD`, else the `OS_*` variables of
//! a sourced openrc. Detection reads no network and never returns a secret value.

use std::path::{Path, PathBuf};

/// Where the credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// A named cloud in clouds.yaml.
    CloudsYaml {
        /// The cloud name.
        cloud: String,
        /// The clouds.yaml file holding it, when found.
        file: Option<PathBuf>,
    },
    /// `OS_*` variables (an openrc).
    Environment {
        /// `OS_AUTH_URL`.
        auth_url: String,
        /// Which method: password, application credential or token.
        method: &'static str,
    },
    /// Nothing usable.
    Missing {
        /// What is missing, for the operator.
        reason: String,
    },
}

impl CredentialSource {
    /// Detects the credentials from an explicit cloud name and an environment lookup.
    pub fn detect(os_cloud: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let set = |k: &str| env(k).filter(|v| !v.is_empty());
        if let Some(cloud) = os_cloud.map(str::to_string).or_else(|| set("OS_CLOUD")) {
            let file = clouds_yaml_candidates(env)
                .into_iter()
                .find(|p| file_names_cloud(p, &cloud));
            return CredentialSource::CloudsYaml { cloud, file };
        }
        let Some(auth_url) = set("OS_AUTH_URL") else {
            return CredentialSource::Missing {
                reason: "no --os-cloud, no OS_CLOUD and no OS_AUTH_URL".into(),
            };
        };
        let method = if set("OS_APPLICATION_CREDENTIAL_SECRET").is_some()
            && (set("OS_APPLICATION_CREDENTIAL_ID").is_some()
                || set("OS_APPLICATION_CREDENTIAL_NAME").is_some())
        {
            "application credential"
        } else if set("OS_TOKEN").is_some() {
            "token"
        } else if set("OS_USERNAME").is_some() && set("OS_PASSWORD").is_some() {
            "password"
        } else {
            return CredentialSource::Missing {
                reason: format!(
                    "OS_AUTH_URL is {auth_url} but no OS_USERNAME/OS_PASSWORD, application credential or OS_TOKEN is set"
                ),
            };
        };
        CredentialSource::Environment { auth_url, method }
    }

    /// True when something usable was found.
    pub fn is_present(&self) -> bool {
        match self {
            CredentialSource::CloudsYaml { file, .. } => file.is_some(),
            CredentialSource::Environment { .. } => true,
            CredentialSource::Missing { .. } => false,
        }
    }

    /// A one-line description without secrets.
    pub fn describe(&self) -> String {
        match self {
            CredentialSource::CloudsYaml {
                cloud,
                file: Some(f),
            } => {
                format!("cloud `{cloud}` in {}", f.display())
            }
            CredentialSource::CloudsYaml { cloud, file: None } => {
                format!("cloud `{cloud}` is not in any clouds.yaml")
            }
            CredentialSource::Environment { auth_url, method } => {
                format!("OS_* variables ({method}) for {auth_url}")
            }
            CredentialSource::Missing { reason } => reason.clone(),
        }
    }
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

/// True when a clouds.yaml has a `clouds:` entry named `cloud` (a key line indented under it).
fn file_names_cloud(path: &Path, cloud: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let key = format!("{cloud}:");
    text.lines().any(|l| {
        let t = l.trim_start();
        l.len() > t.len()
            && (t == key
                || t.trim_end() == key
                || t.starts_with(&format!("{key} "))
                || t.trim_matches(|c| c == '"' || c == '\'').starts_with(&key))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
            ("OS_PASSWORD", "p"),
        ]);
        let c = CredentialSource::detect(None, &env);
        assert!(c.is_present());
        assert!(!c.describe().contains('p') || !c.describe().contains("=p"));
        assert_eq!(
            c,
            CredentialSource::Environment {
                auth_url: "https://keystone:5000/v3".into(),
                method: "password"
            }
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
    fn os_cloud_flag_wins_and_finds_clouds_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("clouds.yaml");
        std::fs::write(&f, "clouds:\n  vitroai:\n    auth: {}\n").unwrap();
        let fs = f.display().to_string();
        let env = env_of(&[
            ("OS_CLIENT_CONFIG_FILE", fs.as_str()),
            ("OS_CLOUD", "other"),
        ]);
        let c = CredentialSource::detect(Some("vitroai"), &env);
        assert_eq!(
            c,
            CredentialSource::CloudsYaml {
                cloud: "vitroai".into(),
                file: Some(f)
            }
        );
        let c = CredentialSource::detect(None, &env);
        assert!(!c.is_present(), "OS_CLOUD=other is not in the file");
    }
}
