//! One SSH connection to a node: TCP (or a direct-tcpip channel through the jump host's
//! connection), key exchange with the host key checked against known_hosts, authentication.
//! Bounded by the connect timeout (paused while a host-key decision is pending); a connection
//! reset during key exchange (sshd's MaxStartups drop) is retried once after a backoff.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::PublicKeyOrCertificate;

use super::auth;
use super::error::NodeError;
use super::hostkey::{HostKeyDecision, HostKeyPolicy, UnknownHostKey};
use super::known_hosts::{self, HostKeyCheck};
use super::options::InspectOptions;
use super::target::Target;

/// An authenticated connection.
pub type Connection = Handle<Client>;

/// russh's client handler: checks the host key, nothing else.
pub struct Client {
    target: Target,
    known_hosts: PathBuf,
    policy: Arc<dyn HostKeyPolicy>,
    /// Why the host key was refused, for the error after russh's `UnknownKey`.
    refusal: Arc<Mutex<Option<NodeError>>>,
    /// A decision is pending: the connect timeout waits.
    deciding: Arc<AtomicBool>,
}

impl Client {
    fn refuse(&self, e: NodeError) -> Result<bool, russh::Error> {
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(e);
        }
        Ok(false)
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let host = self.target.address();
        let key = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return self.refuse(NodeError::Handshake {
                    host,
                    cause: "the server offered a host certificate; kiln checks plain host keys against known_hosts only".into(),
                });
            }
        };
        let fingerprint = known_hosts::fingerprint(key);
        let algorithm = key.algorithm().to_string();
        let check = known_hosts::check(&self.known_hosts, &self.target.host, self.target.port, key);
        match check {
            Err(e) => self.refuse(NodeError::KnownHosts {
                host,
                cause: e.to_string(),
            }),
            Ok(HostKeyCheck::Known { .. }) => Ok(true),
            Ok(HostKeyCheck::Changed { line }) => self.refuse(NodeError::HostKeyChanged {
                host,
                algorithm,
                fingerprint,
                known_hosts: self.known_hosts.clone(),
                line,
            }),
            Ok(HostKeyCheck::Revoked { line }) => self.refuse(NodeError::HostKeyRevoked {
                host,
                fingerprint,
                known_hosts: self.known_hosts.clone(),
                line,
            }),
            Ok(HostKeyCheck::Unknown { other_types }) => {
                let question = UnknownHostKey {
                    host: self.target.host.clone(),
                    port: self.target.port,
                    algorithm: algorithm.clone(),
                    fingerprint: fingerprint.clone(),
                    known_hosts: self.known_hosts.clone(),
                    other_types: other_types.clone(),
                };
                self.deciding.store(true, Ordering::SeqCst);
                let decision = self.policy.decide(&question).await;
                self.deciding.store(false, Ordering::SeqCst);
                match decision {
                    HostKeyDecision::TrustAndRecord => match known_hosts::record(
                        &self.known_hosts,
                        &self.target.host,
                        self.target.port,
                        key,
                    ) {
                        Ok(line) => {
                            log::info!(
                                target: "kiln::node",
                                "{host}: recorded {algorithm} {fingerprint} at {}:{line}",
                                self.known_hosts.display()
                            );
                            Ok(true)
                        }
                        Err(e) => self.refuse(NodeError::KnownHosts {
                            host,
                            cause: e.to_string(),
                        }),
                    },
                    HostKeyDecision::Refuse => self.refuse(NodeError::HostKeyUnknown {
                        host,
                        algorithm,
                        fingerprint,
                        known_hosts: self.known_hosts.clone(),
                        other_types,
                    }),
                }
            }
        }
    }
}

/// How a connection is carried: TCP, or a channel through the jump host.
pub enum Route<'a> {
    /// A TCP connection from here.
    Direct,
    /// A direct-tcpip channel through this (authenticated) connection to the jump host.
    Through(&'a Connection),
}

/// Connects and authenticates as `user`, retrying once a reset during key exchange.
pub async fn connect(
    target: &Target,
    user: &str,
    route: Route<'_>,
    options: &InspectOptions,
    policy: Arc<dyn HostKeyPolicy>,
) -> Result<Connection, NodeError> {
    let mut attempt = 0;
    let mut handle = loop {
        attempt += 1;
        match handshake(target, &route, options, policy.clone()).await {
            Err(Failure::Reset(cause)) if attempt == 1 => {
                let wait = backoff(target, options.retry_backoff);
                log::debug!(
                    target: "kiln::node",
                    "{target}: connection reset during key exchange ({cause}); retrying in {wait:?}"
                );
                tokio::time::sleep(wait).await;
            }
            Err(Failure::Reset(cause)) => {
                return Err(NodeError::Handshake {
                    host: target.address(),
                    cause: format!(
                        "{cause} (twice: sshd may be dropping connections, MaxStartups)"
                    ),
                });
            }
            Err(Failure::Other(e)) => return Err(e),
            Ok(h) => break h,
        }
    };
    let deadline = options.connect_timeout;
    match tokio::time::timeout(
        deadline,
        auth::authenticate(&mut handle, target, user, options),
    )
    .await
    {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(NodeError::ConnectTimeout {
            host: target.address(),
            timeout: deadline,
        }),
    }
}

/// The wait before the retry: `base` plus up to `base` more, spread by target so nodes dropped
/// together (MaxStartups) do not come back together.
fn backoff(target: &Target, base: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    target.hash(&mut h);
    let spread = base.as_millis().max(1) as u64;
    base + Duration::from_millis(h.finish() % spread)
}

enum Failure {
    /// Reset or closed before the handshake finished: worth one retry.
    Reset(String),
    Other(NodeError),
}

/// TCP (or channel) plus key exchange, within the connect timeout (which waits while a host-key
/// decision is pending).
async fn handshake(
    target: &Target,
    route: &Route<'_>,
    options: &InspectOptions,
    policy: Arc<dyn HostKeyPolicy>,
) -> Result<Connection, Failure> {
    let refusal = Arc::new(Mutex::new(None));
    let deciding = Arc::new(AtomicBool::new(false));
    let handler = Client {
        target: target.clone(),
        known_hosts: options.known_hosts.clone(),
        policy,
        refusal: refusal.clone(),
        deciding: deciding.clone(),
    };
    let config = Arc::new(client::Config {
        nodelay: true,
        inactivity_timeout: None,
        ..Default::default()
    });
    let host = target.address();
    let attempt = async {
        match route {
            Route::Direct => {
                let tcp = tokio::net::TcpStream::connect(host.as_str())
                    .await
                    .map_err(|e| {
                        // sshd dropping an unauthenticated connection (MaxStartups) can reset
                        // it before the connect is seen complete
                        if e.kind() == std::io::ErrorKind::ConnectionReset {
                            Failure::Reset(e.to_string())
                        } else {
                            Failure::Other(NodeError::Connect {
                                host: host.clone(),
                                cause: e.to_string(),
                            })
                        }
                    })?;
                let _ = tcp.set_nodelay(true);
                client::connect_stream(config, tcp, handler)
                    .await
                    .map_err(|e| classify(&host, e, &refusal))
            }
            Route::Through(jump) => {
                let port = u32::from(target.port);
                let channel = jump
                    .channel_open_direct_tcpip(target.host.clone(), port, "127.0.0.1", 0)
                    .await
                    .map_err(|e| {
                        Failure::Other(NodeError::Connect {
                            host: host.clone(),
                            cause: format!("the jump host refused a channel to it: {e}"),
                        })
                    })?;
                client::connect_stream(config, channel.into_stream(), handler)
                    .await
                    .map_err(|e| classify(&host, e, &refusal))
            }
        }
    };
    match bounded(attempt, options.connect_timeout, &deciding).await {
        Some(r) => r,
        None => Err(Failure::Other(NodeError::ConnectTimeout {
            host,
            timeout: options.connect_timeout,
        })),
    }
}

/// Runs `fut` within `limit`, re-armed while `paused` is set (None: it ran out).
async fn bounded<F: std::future::Future>(
    fut: F,
    limit: Duration,
    paused: &AtomicBool,
) -> Option<F::Output> {
    tokio::pin!(fut);
    let mut deadline = tokio::time::Instant::now() + limit;
    loop {
        tokio::select! {
            out = &mut fut => return Some(out),
            () = tokio::time::sleep_until(deadline) => {
                if !paused.load(Ordering::SeqCst) {
                    return None;
                }
                deadline = tokio::time::Instant::now() + limit;
            }
        }
    }
}

/// A handshake error: the host-key refusal when there is one, a reset, or the rest.
fn classify(host: &str, e: russh::Error, refusal: &Mutex<Option<NodeError>>) -> Failure {
    if let Some(r) = refusal.lock().ok().and_then(|mut s| s.take()) {
        return Failure::Other(r);
    }
    let reset = match &e {
        russh::Error::IO(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionAborted
        ),
        russh::Error::Disconnect | russh::Error::HUP => true,
        _ => false,
    };
    let cause = match &e {
        russh::Error::Disconnect | russh::Error::HUP => {
            "the server closed the connection during key exchange".to_string()
        }
        russh::Error::IO(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the server closed the connection during key exchange".to_string()
        }
        other => other.to_string(),
    };
    if reset {
        Failure::Reset(cause)
    } else {
        Failure::Other(NodeError::Handshake {
            host: host.to_string(),
            cause,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_waits_between_one_and_two_backoffs_spread_by_host() {
        let base = Duration::from_millis(250);
        let waits: Vec<Duration> = (1..=20u16)
            .map(|p| backoff(&Target::new("10.0.0.5", 2200 + p), base))
            .collect();
        assert!(
            waits.iter().all(|w| *w >= base && *w < base * 2),
            "{waits:?}"
        );
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 10, "spread: {waits:?}");
        assert_eq!(
            backoff(&Target::new("n", 22), base),
            backoff(&Target::new("n", 22), base),
            "the same host waits the same"
        );
    }
}
