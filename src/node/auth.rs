//! Public-key authentication: the ssh-agent's keys first, then identity files (explicit ones,
//! then `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa` when they exist). Password and
//! keyboard-interactive authentication are never attempted. Encrypted key files are not
//! decrypted (no passphrase is ever asked for or logged): they are said to belong in the agent.

use std::path::Path;
use std::sync::Arc;

use russh::MethodKind;
use russh::client::AuthResult;
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg};

use super::connect::Connection;
use super::error::NodeError;
use super::options::InspectOptions;
use super::target::Target;

/// What was tried and why it failed, for the error message.
#[derive(Default)]
struct Tried {
    offered: Vec<String>,
    notes: Vec<String>,
    /// The server no longer accepts public keys (or never did).
    no_publickey: bool,
}

impl Tried {
    fn failed(&mut self, r: &AuthResult) -> bool {
        if let AuthResult::Failure {
            remaining_methods, ..
        } = r
            && !remaining_methods.contains(&MethodKind::PublicKey)
        {
            self.no_publickey = true;
        }
        self.no_publickey
    }
}

/// Authenticates `user` on an open connection.
pub async fn authenticate(
    handle: &mut Connection,
    target: &Target,
    user: &str,
    options: &InspectOptions,
) -> Result<(), NodeError> {
    let mut tried = Tried::default();
    let rsa_hash = match handle.best_supported_rsa_hash().await {
        Ok(Some(h)) => h,
        _ => Some(HashAlg::Sha256),
    };
    if let Some(sock) = &options.agent_socket {
        if with_agent(handle, user, sock, rsa_hash, &mut tried).await {
            return Ok(());
        }
        if tried.no_publickey {
            return Err(error(target, user, tried));
        }
    }
    let explicit = options.identities.iter().map(|p| (p, true));
    let defaults = options.default_identities.iter().map(|p| (p, false));
    for (path, explicit) in explicit.chain(defaults) {
        if !path.exists() {
            if explicit {
                tried
                    .notes
                    .push(format!("identity file {} does not exist", path.display()));
            }
            continue;
        }
        let key = match russh::keys::load_secret_key(path, None) {
            Ok(k) => k,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                tried.notes.push(format!(
                    "{} is encrypted: add it to ssh-agent (kiln never asks for passphrases)",
                    path.display()
                ));
                continue;
            }
            Err(e) => {
                tried.notes.push(format!(
                    "{} cannot be read as a private key: {e}",
                    path.display()
                ));
                continue;
            }
        };
        tried.offered.push(path.display().to_string());
        let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
        match handle.authenticate_publickey(user, key).await {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(r) => {
                if tried.failed(&r) {
                    break;
                }
            }
            Err(e) => {
                return Err(NodeError::Session {
                    host: target.address(),
                    cause: format!("the connection broke during authentication: {e}"),
                });
            }
        }
    }
    Err(error(target, user, tried))
}

/// Tries every key the agent holds; true when one was accepted.
async fn with_agent(
    handle: &mut Connection,
    user: &str,
    sock: &Path,
    rsa_hash: Option<HashAlg>,
    tried: &mut Tried,
) -> bool {
    let mut agent = match AgentClient::connect_uds(sock).await {
        Ok(a) => a,
        Err(e) => {
            tried.notes.push(format!(
                "ssh-agent at {} not reachable: {e}",
                sock.display()
            ));
            return false;
        }
    };
    let identities = match agent.request_identities().await {
        Ok(ids) => ids,
        Err(e) => {
            tried
                .notes
                .push(format!("ssh-agent did not list its keys: {e}"));
            return false;
        }
    };
    let keys: Vec<_> = identities
        .into_iter()
        .filter_map(|id| match id {
            AgentIdentity::PublicKey { key, .. } => Some(key),
            AgentIdentity::Certificate { .. } => None,
        })
        .collect();
    tried
        .offered
        .push(format!("ssh-agent ({} key(s))", keys.len()));
    for key in keys {
        let hash = key.algorithm().is_rsa().then_some(rsa_hash).flatten();
        match handle
            .authenticate_publickey_with(user, key, hash, &mut agent)
            .await
        {
            Ok(AuthResult::Success) => return true,
            Ok(r) => {
                if tried.failed(&r) {
                    return false;
                }
            }
            Err(e) => tried.notes.push(format!("ssh-agent could not sign: {e}")),
        }
    }
    false
}

fn error(target: &Target, user: &str, mut tried: Tried) -> NodeError {
    let offered = if tried.offered.is_empty() {
        "no key to offer (no ssh-agent, no identity file found)".to_string()
    } else {
        format!("the server accepted none of: {}", tried.offered.join(", "))
    };
    if tried.no_publickey {
        tried
            .notes
            .push("the server does not accept public keys (kiln never tries passwords)".into());
    }
    NodeError::Auth {
        host: target.address(),
        user: user.to_string(),
        tried: offered,
        notes: tried.notes,
    }
}
