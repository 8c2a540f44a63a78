//! Why a cloud call failed, naming the service, the call and the status; and, when retries were
//! spent, every attempt's outcome.

use std::time::Duration;

/// One failed attempt of a call (for "gave up" reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// An HTTP error status.
    Status(u16),
    /// No answer within the per-call timeout.
    Timeout,
    /// The connection failed.
    Connection(String),
}

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attempt::Status(s) => write!(f, "{s}"),
            Attempt::Timeout => f.write_str("timeout"),
            Attempt::Connection(_) => f.write_str("connection failed"),
        }
    }
}

/// `503, timeout, connection failed` and, when the last attempt could not connect, why.
fn attempts_text(a: &[Attempt]) -> String {
    let list = a
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match a.last() {
        Some(Attempt::Connection(why)) => format!("{list}; last: {why}"),
        _ => list,
    }
}

/// A failed cloud call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// No credentials to try.
    #[error("no OpenStack credentials: {0}")]
    NoCredentials(String),
    /// The configuration cannot be used (a CA file that does not load, a bad URL).
    #[error("cloud configuration: {0}")]
    Config(String),
    /// Keystone refused the credentials.
    #[error(
        "OpenStack refused the credentials (expired token or wrong password?): Keystone {call}: {status}: {message}"
    )]
    Rejected {
        /// The call, e.g. `POST /v3/auth/tokens`.
        call: String,
        /// HTTP status.
        status: u16,
        /// Keystone's message.
        message: String,
    },
    /// The server's TLS certificate was refused (not retried: it will not change by itself).
    #[error(
        "{service} {call}: TLS: {message} (set `cacert` in clouds.yaml or OS_CACERT to the CA that signed it; `verify: false` or OS_INSECURE=true skips the check)"
    )]
    Tls {
        /// Service.
        service: &'static str,
        /// Call.
        call: String,
        /// What the TLS library said.
        message: String,
    },
    /// The catalog has no endpoint for the service.
    #[error("{service}: {message}")]
    NoEndpoint {
        /// Glance, Nova, Cinder.
        service: &'static str,
        /// Which types and interface were looked for.
        message: String,
    },
    /// The service answered with an error status.
    #[error("{service} {call}: {status}: {message}")]
    Api {
        /// Glance, Nova, Cinder, Keystone.
        service: &'static str,
        /// e.g. `GET /v2/images?limit=1000`.
        call: String,
        /// HTTP status.
        status: u16,
        /// The service's message.
        message: String,
    },
    /// The service could not be reached.
    #[error("{service} {call}: not reachable: {message}")]
    Unreachable {
        /// Service.
        service: &'static str,
        /// Call.
        call: String,
        /// The connection error.
        message: String,
    },
    /// No answer in time.
    #[error("{service} {call}: no answer within {}s", after.as_secs_f32())]
    Timeout {
        /// Service.
        service: &'static str,
        /// Call.
        call: String,
        /// The per-call timeout.
        after: Duration,
    },
    /// Retries were spent.
    #[error("{service} {call}: gave up after {} attempts in {:.1}s ({})", attempts.len(), elapsed.as_secs_f32(), attempts_text(attempts))]
    GaveUp {
        /// Service.
        service: &'static str,
        /// Call.
        call: String,
        /// Every attempt's outcome, in order.
        attempts: Vec<Attempt>,
        /// Time spent.
        elapsed: Duration,
    },
    /// Several calls of one operation failed (each named).
    #[error("{} calls failed: {}", failed.len(), failed.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several {
        /// The failures, in the order the calls were made.
        failed: Vec<CloudError>,
    },
    /// The answer could not be read.
    #[error("{service} {call}: unexpected answer: {message}")]
    InvalidResponse {
        /// Service.
        service: &'static str,
        /// Call.
        call: String,
        /// What was wrong.
        message: String,
    },
}

impl CloudError {
    /// One error for `failed` (None when empty): itself when alone, else [`CloudError::Several`].
    pub fn from_many(mut failed: Vec<CloudError>) -> Option<CloudError> {
        match failed.len() {
            0 => None,
            1 => failed.pop(),
            _ => Some(CloudError::Several { failed }),
        }
    }

    /// The failed calls inside (itself when it is one call).
    pub fn into_calls(self) -> Vec<CloudError> {
        match self {
            CloudError::Several { failed } => failed,
            other => vec![other],
        }
    }

    /// True when the cloud could not be reached or did not answer (the operator should check
    /// the network rather than the credentials).
    pub fn is_unreachable(&self) -> bool {
        match self {
            CloudError::Unreachable { .. } | CloudError::Timeout { .. } => true,
            CloudError::GaveUp { attempts, .. } => attempts
                .last()
                .is_some_and(|a| !matches!(a, Attempt::Status(_))),
            CloudError::Several { failed } => failed.iter().all(CloudError::is_unreachable),
            _ => false,
        }
    }

    /// The HTTP status, when the service answered one.
    pub fn status(&self) -> Option<u16> {
        match self {
            CloudError::Rejected { status, .. } | CloudError::Api { status, .. } => Some(*status),
            CloudError::GaveUp { attempts, .. } => match attempts.last() {
                Some(Attempt::Status(s)) => Some(*s),
                _ => None,
            },
            _ => None,
        }
    }

    /// The call that failed, e.g. `GET /v2/images`, when the error is about one call.
    pub fn call(&self) -> Option<&str> {
        match self {
            CloudError::Rejected { call, .. }
            | CloudError::Api { call, .. }
            | CloudError::Unreachable { call, .. }
            | CloudError::Timeout { call, .. }
            | CloudError::GaveUp { call, .. }
            | CloudError::Tls { call, .. }
            | CloudError::InvalidResponse { call, .. } => Some(call),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gave_up_lists_every_attempt() {
        let e = CloudError::GaveUp {
            service: "Glance",
            call: "GET /v2/images?limit=1000".into(),
            attempts: vec![Attempt::Status(503), Attempt::Timeout, Attempt::Status(502)],
            elapsed: Duration::from_millis(4200),
        };
        assert_eq!(
            e.to_string(),
            "Glance GET /v2/images?limit=1000: gave up after 3 attempts in 4.2s (503, timeout, 502)"
        );
        assert_eq!(e.status(), Some(502));
        assert!(!e.is_unreachable());
    }
}
