//! The explicit configuration a cloud session is built from: where Keystone is, how to
//! authenticate, which region and interface, and how to verify TLS. Resolved once from
//! clouds.yaml or the `OS_*` variables (see `credentials.rs`), or made directly (the simulator,
//! tests); sessions never read the process environment. Secrets are redacted in `Debug`.

use std::fmt;
use std::path::PathBuf;

/// A secret string: compared and used, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for sending it to Keystone.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::secrets::REDACTED)
    }
}

/// A Keystone name or id (users, projects, domains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdOrName {
    /// By id.
    Id(String),
    /// By name.
    Name(String),
}

/// A project scope: the project and, for a project by name, its domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectScope {
    /// The project.
    pub project: IdOrName,
    /// Its domain (needed with a project name).
    pub domain: Option<IdOrName>,
}

/// How to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// User name (or id) and password, scoped to a project.
    Password {
        /// The user.
        user: IdOrName,
        /// The user's domain (with a user name).
        user_domain: Option<IdOrName>,
        /// The password.
        password: Secret,
        /// The project scope; None: unscoped (no catalog).
        scope: Option<ProjectScope>,
    },
    /// An application credential (carries its own project scope).
    ApplicationCredential {
        /// Its id.
        id: String,
        /// Its secret.
        secret: Secret,
    },
    /// An existing token, scoped to a project.
    Token {
        /// The token.
        token: Secret,
        /// The project scope.
        scope: Option<ProjectScope>,
    },
}

impl AuthMethod {
    /// A short name of the method, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            AuthMethod::Password { .. } => "password",
            AuthMethod::ApplicationCredential { .. } => "application credential",
            AuthMethod::Token { .. } => "token",
        }
    }
}

/// How to check the server's TLS certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    /// Trust this CA bundle (PEM) in addition to the system roots.
    pub ca_file: Option<PathBuf>,
    /// False: accept any certificate (`verify: false`).
    pub verify: bool,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            ca_file: None,
            verify: true,
        }
    }
}

/// Where a configuration came from (said in messages; never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A cloud in a clouds.yaml file.
    CloudsYaml {
        /// The cloud name.
        cloud: String,
        /// The file.
        file: PathBuf,
    },
    /// The `OS_*` variables of a sourced openrc.
    Environment,
    /// Given by the program (the simulator, tests).
    Given(String),
}

/// Everything a session needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudConfig {
    /// Keystone's URL (`.../v3` or the unversioned root).
    pub auth_url: String,
    /// How to authenticate.
    pub auth: AuthMethod,
    /// The region whose endpoints to use (None: the first in the catalog).
    pub region: Option<String>,
    /// `public`, `internal` or `admin`.
    pub interface: String,
    /// TLS verification.
    pub tls: Tls,
    /// Where it came from.
    pub origin: Origin,
}

impl CloudConfig {
    /// A one-line description without secrets.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::CloudsYaml { cloud, file } => format!("cloud `{cloud}` in {}", file.display()),
            Origin::Environment => {
                format!(
                    "OS_* variables ({}) for {}",
                    self.auth.name(),
                    self.auth_url
                )
            }
            Origin::Given(what) => format!("{what} ({}) for {}", self.auth.name(), self.auth_url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = CloudConfig {
            auth_url: "http://k/v3".into(),
            auth: AuthMethod::Password {
                user: IdOrName::Name("u".into()),
                user_domain: None,
                password: Secret::new("hunter2-very-secret"),
                scope: None,
            },
            region: None,
            interface: "public".into(),
            tls: Tls::default(),
            origin: Origin::Environment,
        };
        let text = format!("{c:?} {}", c.describe());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(crate::secrets::REDACTED));
    }
}
