//! How to inspect: user, keys, known_hosts, jump host, timeouts, bounds, parallelism. Plain data
//! resolved at the edge (flags over config over defaults); nothing here reads the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::target::JumpHost;

/// The default login on Ubuntu cloud images.
pub const DEFAULT_USER: &str = "ubuntu";
/// Where stage 06 writes the manifest.
pub const DEFAULT_MANIFEST_PATH: &str = "/etc/packer-build/image-manifest.json";
/// Nodes inspected at once.
pub const DEFAULT_PARALLEL: usize = 16;
/// The identity files tried after the explicit ones, in order (under `~/.ssh`).
pub const DEFAULT_IDENTITIES: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// Everything an inspection needs besides the targets.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Login name on the nodes.
    pub user: String,
    /// Identity files given explicitly (`--identity`, then config): a missing one is said.
    pub identities: Vec<PathBuf>,
    /// Identity files tried after those when they exist (`~/.ssh/id_ed25519`, ...).
    pub default_identities: Vec<PathBuf>,
    /// The ssh-agent socket (`SSH_AUTH_SOCK`), tried first.
    pub agent_socket: Option<PathBuf>,
    /// The known_hosts file.
    pub known_hosts: PathBuf,
    /// The jump host, if nodes are reached through one.
    pub jump: Option<JumpHost>,
    /// The manifest's path on the node; prepull-failures.txt is read beside it.
    pub manifest_path: String,
    /// TCP connect plus SSH handshake, per attempt.
    pub connect_timeout: Duration,
    /// One command on the node.
    pub command_timeout: Duration,
    /// Bytes kept of one command's output (stdout and stderr each); the rest is cut.
    pub max_output: usize,
    /// Nodes inspected at once (at least 1).
    pub parallel: usize,
    /// Wait before the one retry of a connection reset during key exchange (plus up to as much
    /// again, spread by host).
    pub retry_backoff: Duration,
}

impl InspectOptions {
    /// The defaults for a user whose home is `home`.
    pub fn new(home: &Path) -> InspectOptions {
        let ssh = home.join(".ssh");
        InspectOptions {
            user: DEFAULT_USER.to_string(),
            identities: Vec::new(),
            default_identities: DEFAULT_IDENTITIES.iter().map(|f| ssh.join(f)).collect(),
            agent_socket: None,
            known_hosts: ssh.join("known_hosts"),
            jump: None,
            manifest_path: DEFAULT_MANIFEST_PATH.to_string(),
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(20),
            max_output: 4 * 1024 * 1024,
            parallel: DEFAULT_PARALLEL,
            retry_backoff: Duration::from_millis(250),
        }
    }

    /// prepull-failures.txt beside the manifest.
    pub fn prepull_failures_path(&self) -> String {
        match self.manifest_path.rsplit_once('/') {
            Some(("", _)) => "/prepull-failures.txt".to_string(),
            Some((dir, _)) => format!("{dir}/prepull-failures.txt"),
            None => "prepull-failures.txt".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_file_sits_beside_the_manifest() {
        let mut o = InspectOptions::new(Path::new("/home/op"));
        assert_eq!(
            o.prepull_failures_path(),
            "/etc/packer-build/prepull-failures.txt"
        );
        assert_eq!(o.known_hosts, Path::new("/home/op/.ssh/known_hosts"));
        assert_eq!(
            o.default_identities[0],
            Path::new("/home/op/.ssh/id_ed25519")
        );
        o.manifest_path = "m.json".into();
        assert_eq!(o.prepull_failures_path(), "prepull-failures.txt");
    }
}
