//! A simulated user's throwaway credentials: the openrc lines `kiln sim` prints, and writing the
//! clouds.yaml owner-only.

use std::path::Path;

/// A user's credentials on the simulator (throwaway; the password is only in memory, in the
/// `export` lines `kiln sim` prints, and in the 0600 clouds.yaml it writes).
#[derive(Clone, PartialEq, Eq)]
pub struct SimCredentials {
    /// Keystone URL (`.../identity/v3`).
    pub auth_url: String,
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// Project name.
    pub project_name: String,
    /// Project id.
    pub project_id: String,
    /// Application credential id (scoped to the project).
    pub app_cred_id: String,
    /// Application credential secret.
    pub app_cred_secret: String,
    /// Region.
    pub region: String,
}

impl std::fmt::Debug for SimCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCredentials")
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("project_name", &self.project_name)
            .finish_non_exhaustive()
    }
}

impl SimCredentials {
    /// The openrc lines (`OS_AUTH_URL`, ... `OS_IDENTITY_API_VERSION=3`).
    pub fn openrc(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OS_AUTH_URL", self.auth_url.clone()),
            ("OS_USERNAME", self.username.clone()),
            ("OS_PASSWORD", self.password.clone()),
            ("OS_PROJECT_NAME", self.project_name.clone()),
            ("OS_USER_DOMAIN_NAME", "Default".into()),
            ("OS_PROJECT_DOMAIN_NAME", "Default".into()),
            ("OS_REGION_NAME", self.region.clone()),
            ("OS_IDENTITY_API_VERSION", "3".into()),
        ]
    }
}

/// Writes `text` to `path` readable by the owner only.
pub(super) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}
