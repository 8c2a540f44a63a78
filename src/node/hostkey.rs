//! The host-key decision: a key known_hosts does not hold is put to a [`HostKeyPolicy`]. The CLI's
//! policy refuses unless `--accept-new`; the console's asks the operator (showing the SHA256
//! fingerprint). A trusted key is recorded in known_hosts. A changed or revoked key is never put
//! to the policy: it is always refused.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// A host key known_hosts does not hold, as shown to whoever decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHostKey {
    /// The host as connected to.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, ...
    pub algorithm: String,
    /// `SHA256:...`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// The file it would be recorded in.
    pub known_hosts: PathBuf,
    /// Lines of that file holding keys of other types for this host (line, algorithm).
    pub other_types: Vec<(usize, String)>,
}

/// What to do with an unknown host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyDecision {
    /// Trust it and record it in known_hosts.
    TrustAndRecord,
    /// Refuse the connection.
    Refuse,
}

/// A boxed future of a decision (so policies can be trait objects).
pub type DecisionFuture<'a> = Pin<Box<dyn Future<Output = HostKeyDecision> + Send + 'a>>;

/// Decides about unknown host keys. Called at most once per connection, during key exchange;
/// the connect timeout does not run while it waits (an operator may take their time).
pub trait HostKeyPolicy: Send + Sync {
    /// The decision for this key.
    fn decide<'a>(&'a self, key: &'a UnknownHostKey) -> DecisionFuture<'a>;
}

/// The CLI's policy: refuse unless `--accept-new`.
#[derive(Debug, Clone, Copy)]
pub struct AcceptNew(pub bool);

impl HostKeyPolicy for AcceptNew {
    fn decide<'a>(&'a self, _key: &'a UnknownHostKey) -> DecisionFuture<'a> {
        let d = if self.0 {
            HostKeyDecision::TrustAndRecord
        } else {
            HostKeyDecision::Refuse
        };
        Box::pin(async move { d })
    }
}
