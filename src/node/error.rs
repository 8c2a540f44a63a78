//! Why a node could not be read: connection, host key, authentication. Each message names the
//! host (and the jump host when it was the one at fault) and says what to do. Never a secret.

use std::path::PathBuf;
use std::time::Duration;

/// A node that could not be read (`ok: false`, exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// TCP connect failed (refused, no route, name not resolved).
    #[error("{host}: cannot connect: {cause}")]
    Connect {
        /// `host:port`.
        host: String,
        /// Why.
        cause: String,
    },
    /// TCP connect plus key exchange took longer than the connect timeout.
    #[error("{host}: no SSH handshake within {}s", timeout.as_secs_f64())]
    ConnectTimeout {
        /// `host:port`.
        host: String,
        /// The limit.
        timeout: Duration,
    },
    /// The SSH handshake failed (not SSH, reset, no common algorithm).
    #[error("{host}: SSH handshake failed: {cause}")]
    Handshake {
        /// `host:port`.
        host: String,
        /// Why.
        cause: String,
    },
    /// known_hosts does not hold the key and the policy refused it.
    #[error(
        "{host}: host key not known ({algorithm} {fingerprint}); not in {}{}; check the fingerprint, then rerun with --accept-new to record it",
        known_hosts.display(),
        other_types_note(other_types)
    )]
    HostKeyUnknown {
        /// `host:port`.
        host: String,
        /// Key type.
        algorithm: String,
        /// `SHA256:...`.
        fingerprint: String,
        /// The file checked.
        known_hosts: PathBuf,
        /// Lines holding other types of keys for the host.
        other_types: Vec<(usize, String)>,
    },
    /// known_hosts holds another key of the same type for this host.
    #[error(
        "{host}: HOST KEY CHANGED: the {algorithm} key offered ({fingerprint}) is not the one recorded at {}:{line}; refused (someone may be intercepting the connection; if the node was rebuilt, remove that line)",
        known_hosts.display()
    )]
    HostKeyChanged {
        /// `host:port`.
        host: String,
        /// Key type.
        algorithm: String,
        /// The offered key's fingerprint.
        fingerprint: String,
        /// The file.
        known_hosts: PathBuf,
        /// 1-based line of the recorded key.
        line: usize,
    },
    /// The key is marked `@revoked`.
    #[error("{host}: host key {fingerprint} is revoked at {}:{line}; refused", known_hosts.display())]
    HostKeyRevoked {
        /// `host:port`.
        host: String,
        /// The offered key's fingerprint.
        fingerprint: String,
        /// The file.
        known_hosts: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// known_hosts could not be read or written.
    #[error("{host}: {cause}")]
    KnownHosts {
        /// `host:port`.
        host: String,
        /// Why (names the file).
        cause: String,
    },
    /// No key was accepted (password authentication is never attempted).
    #[error(
        "{host}: authentication as `{user}` failed: {tried}{}",
        notes_text(notes)
    )]
    Auth {
        /// `host:port`.
        host: String,
        /// The login name.
        user: String,
        /// What was offered, e.g. `tried ssh-agent (2 keys), ~/.ssh/id_ed25519`.
        tried: String,
        /// Why some keys were not offered (encrypted, unreadable), and what the server allows.
        notes: Vec<String>,
    },
    /// The connection broke after authentication, before anything could be read.
    #[error("{host}: {cause}")]
    Session {
        /// `host:port`.
        host: String,
        /// Why.
        cause: String,
    },
    /// The jump host could not be used (wraps its own error).
    #[error("through jump host {jump}: {cause}")]
    Jump {
        /// The jump host as given.
        jump: String,
        /// Its error, or the channel it refused.
        cause: String,
    },
}

fn other_types_note(other: &[(usize, String)]) -> String {
    if other.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = other
        .iter()
        .map(|(l, a)| format!("{a} at line {l}"))
        .collect();
    format!(
        " (it holds other key types for this host: {})",
        lines.join(", ")
    )
}

fn notes_text(notes: &[String]) -> String {
    if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    }
}
