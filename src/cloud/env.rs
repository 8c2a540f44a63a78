//! The `OS_*` variables of a sourced openrc, read through an injected lookup, into a
//! [`CloudConfig`]: password (user name or id), application credential (by id), or token;
//! project scope by id or name; region, interface, `OS_CACERT` and `OS_INSECURE`.

use std::path::PathBuf;

use super::config::{AuthMethod, CloudConfig, IdOrName, Origin, ProjectScope, Secret, Tls};

/// Reads the configuration from `env`. Err: what is missing, naming the variables.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<CloudConfig, String> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    let Some(auth_url) = get("OS_AUTH_URL") else {
        return Err("no --os-cloud, no OS_CLOUD and no OS_AUTH_URL".into());
    };
    let pick = |id: &str, name: &str| {
        get(id)
            .map(IdOrName::Id)
            .or_else(|| get(name).map(IdOrName::Name))
    };
    let user_domain = pick("OS_USER_DOMAIN_ID", "OS_USER_DOMAIN_NAME");
    let scope = pick("OS_PROJECT_ID", "OS_PROJECT_NAME")
        .or_else(|| pick("OS_TENANT_ID", "OS_TENANT_NAME"))
        .map(|project| ProjectScope {
            project,
            domain: pick("OS_PROJECT_DOMAIN_ID", "OS_PROJECT_DOMAIN_NAME")
                .or(user_domain.clone())
                .or(Some(IdOrName::Id("default".into()))),
        });
    let auth_type = get("OS_AUTH_TYPE").unwrap_or_default();
    let auth = if let Some(secret) = get("OS_APPLICATION_CREDENTIAL_SECRET") {
        let Some(id) = get("OS_APPLICATION_CREDENTIAL_ID") else {
            return Err(format!(
                "OS_AUTH_URL is {auth_url} and OS_APPLICATION_CREDENTIAL_SECRET is set, but not OS_APPLICATION_CREDENTIAL_ID (credentials by name are not supported)"
            ));
        };
        AuthMethod::ApplicationCredential {
            id,
            secret: Secret::new(secret),
        }
    } else if let Some(token) =
        get("OS_TOKEN").filter(|_| auth_type.is_empty() || auth_type.contains("token"))
    {
        AuthMethod::Token {
            token: Secret::new(token),
            scope,
        }
    } else {
        let user = pick("OS_USER_ID", "OS_USERNAME");
        match (user, get("OS_PASSWORD")) {
            (Some(user), Some(password)) => AuthMethod::Password {
                user,
                user_domain: user_domain.or(Some(IdOrName::Id("default".into()))),
                password: Secret::new(password),
                scope,
            },
            _ => {
                return Err(format!(
                    "OS_AUTH_URL is {auth_url} but no OS_USERNAME/OS_PASSWORD, application credential or OS_TOKEN is set"
                ));
            }
        }
    };
    let interface = get("OS_INTERFACE")
        .or_else(|| get("OS_ENDPOINT_TYPE"))
        .map(|i| i.trim_end_matches("URL").to_ascii_lowercase())
        .unwrap_or_else(|| "public".into());
    let insecure = get("OS_INSECURE")
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    Ok(CloudConfig {
        auth_url,
        auth,
        region: get("OS_REGION_NAME"),
        interface,
        tls: Tls {
            ca_file: get("OS_CACERT").map(PathBuf::from),
            verify: !insecure,
        },
        origin: Origin::Environment,
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
    fn openrc_with_project_and_domains() {
        let env = env_of(&[
            ("OS_AUTH_URL", "https://k:5000/v3"),
            ("OS_USERNAME", "ops"),
            ("OS_PASSWORD", "pw"),
            ("OS_PROJECT_NAME", "platform"),
            ("OS_USER_DOMAIN_NAME", "Default"),
            ("OS_REGION_NAME", "RegionOne"),
            ("OS_INSECURE", "true"),
        ]);
        let c = from_env(&env).unwrap();
        assert!(!c.tls.verify);
        assert_eq!(c.region.as_deref(), Some("RegionOne"));
        let AuthMethod::Password {
            scope: Some(scope), ..
        } = &c.auth
        else {
            panic!("{c:?}")
        };
        assert_eq!(
            scope.domain,
            Some(IdOrName::Name("Default".into())),
            "falls back to the user's domain"
        );
    }

    #[test]
    fn application_credential_and_missing_parts() {
        let c = from_env(&env_of(&[
            ("OS_AUTH_URL", "u"),
            ("OS_APPLICATION_CREDENTIAL_ID", "id"),
            ("OS_APPLICATION_CREDENTIAL_SECRET", "s"),
        ]))
        .unwrap();
        assert_eq!(c.auth.name(), "application credential");
        let e = from_env(&env_of(&[("OS_AUTH_URL", "u"), ("OS_USERNAME", "x")])).unwrap_err();
        assert!(e.contains("OS_PASSWORD"), "{e}");
        let e = from_env(&env_of(&[])).unwrap_err();
        assert!(e.contains("OS_AUTH_URL"), "{e}");
    }
}
