//! The simulated nodes' keys, derived rather than drawn: each node's ed25519 host key from the
//! simulator's seed and its server id (the same fingerprints on every run), and a client key
//! from a seed and a label (the demo's identity), written in OpenSSH's private-key format that
//! OpenSSH and `russh::keys::load_secret_key` read. Plus the known_hosts line for a node.

use std::net::SocketAddr;
use std::path::Path;

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PublicKey};
use sha2::{Digest, Sha256};

/// 32 bytes from the labelled parts (each length-prefixed, so parts cannot run together).
fn derive(label: &str, seed: u64, name: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [label.as_bytes(), &seed.to_be_bytes(), name.as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

fn ed25519(bytes: [u8; 32], comment: &str) -> PrivateKey {
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&bytes));
    key.set_comment(comment);
    key
}

/// The host key of the node of server `server_id` in the simulator seeded `seed`.
pub fn host_key(seed: u64, server_id: &str) -> PrivateKey {
    ed25519(
        derive("kiln-sim ssh host key", seed, server_id),
        &format!("kiln-sim-{server_id}"),
    )
}

/// A client key for `label` (the demo's, `kiln sim --ssh-nodes`'): the same for the same
/// (seed, label).
pub fn client_key(seed: u64, label: &str) -> PrivateKey {
    ed25519(derive("kiln-sim ssh client key", seed, label), label)
}

/// The public key as OpenSSH writes it (`ssh-ed25519 AAAA... comment`).
pub fn openssh_public(key: &PublicKey) -> String {
    key.to_openssh().unwrap_or_default()
}

/// The known_hosts line for a node at `addr` (`[127.0.0.1]:PORT ssh-ed25519 AAAA...`).
pub fn known_hosts_line(addr: SocketAddr, key: &PublicKey) -> String {
    let mut plain = key.clone();
    plain.set_comment("");
    let text = openssh_public(&plain);
    format!(
        "{} {}",
        crate::node::known_hosts::host_name(&addr.ip().to_string(), addr.port()),
        text.trim()
    )
}

/// Writes `key` to `path` in OpenSSH's format, mode 0600 (its folder made 0700 when missing).
pub fn write_private_key(path: &Path, key: &PrivateKey) -> std::io::Result<()> {
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
    }
    crate::sim::creds::write_private(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        let a = host_key(7, "server-a");
        assert_eq!(a.public_key(), host_key(7, "server-a").public_key());
        assert_ne!(a.public_key(), host_key(7, "server-b").public_key());
        assert_ne!(a.public_key(), host_key(8, "server-a").public_key());
        assert_ne!(
            client_key(7, "demo").public_key().key_data(),
            host_key(7, "demo").public_key().key_data()
        );
        let line = known_hosts_line("127.0.0.1:2222".parse().unwrap(), a.public_key());
        assert!(
            line.starts_with("[127.0.0.1]:2222 ssh-ed25519 AAAA"),
            "{line}"
        );
        assert_eq!(line.split_whitespace().count(), 3, "no comment: {line}");
    }

    #[test]
    fn a_written_client_key_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh/id_ed25519");
        let key = client_key(7, "kiln-demo");
        write_private_key(&path, &key).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let back = russh::keys::load_secret_key(&path, None).unwrap();
        assert_eq!(back.public_key().key_data(), key.public_key().key_data());
    }
}
