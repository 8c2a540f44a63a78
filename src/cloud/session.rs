//! A cloud session from an explicit [`CloudConfig`]: osauth's `Session` over a reqwest client with
//! the configured TLS, kiln's Keystone auth, endpoint lookup per service, and one `call` that
//! every request goes through: a timeout per attempt, one re-authentication on a 401, and for
//! reads (GET) retries with backoff on 5xx, timeouts and connection errors within a budget.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::{KeystoneAuth, TokenInfo};
use super::config::CloudConfig;
use super::error::{Attempt, CloudError};
use super::retry::{self, Failure, RetryPolicy, Stop};
pub use super::service::Svc;
use crate::clock::{Clock, SystemClock};

/// Options of a session.
#[derive(Clone)]
pub struct SessionOptions {
    /// Retries of reads, and the per-attempt timeout of every call.
    pub retry: RetryPolicy,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time (token expiry checks).
    pub clock: Arc<dyn Clock>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
        }
    }
}

/// An answer that is not an error.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status (2xx or 3xx).
    pub status: u16,
    /// Headers that matter (Location).
    pub location: Option<String>,
    /// The body.
    pub body: Bytes,
}

/// An authenticated session.
#[derive(Clone)]
pub struct CloudSession {
    session: osauth::Session,
    auth: KeystoneAuth,
    opts: SessionOptions,
}

impl std::fmt::Debug for CloudSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudSession")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

fn http_client(config: &CloudConfig, opts: &SessionOptions) -> Result<reqwest::Client, CloudError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(opts.connect_timeout)
        .pool_max_idle_per_host(16)
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &config.tls.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| CloudError::Config(format!("cacert {}: {e}", ca.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            CloudError::Config(format!(
                "cacert {}: not a PEM certificate bundle: {e}",
                ca.display()
            ))
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if !config.tls.verify {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| CloudError::Config(format!("HTTP client: {e}")))
}

/// The message of an error body (Keystone, Nova, Cinder or Glance shape), else the body's start.
pub(crate) fn message_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    // Keystone {"error": {"message"}}, Nova/Cinder {"itemNotFound": {"message"}}, Glance {"message"}.
    let m = v["error"]["message"]
        .as_str()
        .or_else(|| {
            v.as_object()
                .and_then(|o| o.values().find_map(|x| x["message"].as_str()))
        })
        .or_else(|| v["message"].as_str())
        .map(|m| m.split("<br").next().unwrap_or(m).trim().to_string());
    m.unwrap_or_else(|| {
        text.chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string()
    })
}

impl CloudSession {
    /// Authenticates with `config` (Keystone is asked at once, with the read retry policy).
    pub async fn connect(config: &CloudConfig, opts: SessionOptions) -> Result<Self, CloudError> {
        let client = http_client(config, &opts)?;
        let auth = KeystoneAuth::new(config, opts.clock.clone());
        // NoAuth first: osauth's constructors authenticate at once, outside the retry policy.
        let mut session =
            osauth::Session::new_with_client(client, osauth::NoAuth::new_without_endpoint())
                .await
                .map_err(|e| CloudError::Config(format!("HTTP client: {e}")))?;
        session.set_auth_type(auth.clone());
        let s = CloudSession {
            session,
            auth,
            opts,
        };
        let policy = s.opts.retry;
        s.retrying(
            Svc::Keystone,
            "POST /v3/auth/tokens".into(),
            policy,
            || async {
                let client = s.session.client().inner();
                s.auth
                    .refresh_token(client)
                    .await
                    .map_err(|e| s.auth_failure(Svc::Keystone, e))
            },
        )
        .await?;
        Ok(s)
    }

    /// osauth's session (for the typed `openstack` API: `openstack::Cloud::from(session)`).
    pub fn osauth(&self) -> &osauth::Session {
        &self.session
    }

    /// What the current token says (project, roles, catalog).
    pub async fn token_info(&self) -> Option<TokenInfo> {
        self.auth.info().await
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        self.auth.tokens_issued()
    }

    /// The versioned root URL of `svc`.
    pub async fn endpoint(&self, svc: Svc) -> Result<String, CloudError> {
        match self.base_url(svc).await {
            Ok(u) => Ok(u),
            Err(Failure::Fatal(e)) => Err(e),
            Err(Failure::Retry(a)) => Err(CloudError::Unreachable {
                service: "Keystone",
                call: "POST /v3/auth/tokens".into(),
                message: a.to_string(),
            }),
        }
    }

    async fn base_url(&self, svc: Svc) -> Result<String, Failure> {
        let client = self.session.client().inner();
        match self.auth.endpoint(client, svc.catalog_types()).await {
            Ok(url) => Ok(svc.versioned(url.as_str())),
            Err(e) => Err(self.auth_failure(svc, e)),
        }
    }

    fn auth_failure(&self, svc: Svc, e: osauth::Error) -> Failure {
        use osauth::ErrorKind as K;
        let call = "POST /v3/auth/tokens".to_string();
        // osauth shows "<kind description>: <message>"; the message is what matters.
        let full = e.to_string();
        let bare = full
            .strip_prefix(&format!("{}: ", e.kind()))
            .unwrap_or(&full)
            .to_string();
        match (e.kind(), status_of(&e)) {
            (K::EndpointNotFound, _) => Failure::Fatal(CloudError::NoEndpoint {
                service: svc.name(),
                message: e.to_string(),
            }),
            (_, Some(s)) if s == 401 || s == 403 || s == 404 || s == 400 => {
                Failure::Fatal(CloudError::Rejected {
                    call,
                    status: s,
                    message: e.to_string(),
                })
            }
            (_, Some(s)) if s >= 500 => Failure::Retry(Attempt::Status(s)),
            (_, Some(s)) => Failure::Fatal(CloudError::Api {
                service: "Keystone",
                call,
                status: s,
                message: e.to_string(),
            }),
            (K::ProtocolError, None) => Failure::Retry(Attempt::Connection(bare)),
            (K::InvalidConfig, None) => Failure::Fatal(CloudError::Tls {
                service: "Keystone",
                call,
                message: bare,
            }),
            _ => Failure::Fatal(CloudError::InvalidResponse {
                service: "Keystone",
                call,
                message: e.to_string(),
            }),
        }
    }

    async fn attempt(
        &self,
        svc: Svc,
        method: &Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&(Bytes, &'static str)>,
        call: &str,
    ) -> Result<Answer, Failure> {
        let base = self.base_url(svc).await?;
        let url = reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| {
            Failure::Fatal(CloudError::Config(format!(
                "{} URL {base}{path}: {e}",
                svc.name()
            )))
        })?;
        let mut rb = self
            .session
            .client()
            .request(method.clone(), url)
            .header("accept", "application/json");
        if !query.is_empty() {
            rb = rb.query(query);
        }
        if let Some((bytes, ctype)) = body {
            rb = rb.header("content-type", *ctype).body(bytes.clone());
        }
        let resp = rb.send_unchecked().await.map_err(|e| match status_of(&e) {
            Some(_) => self.auth_failure(svc, e),
            None => Failure::Retry(Attempt::Connection(e.to_string())),
        })?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|h| h.to_str().ok())
            .map(String::from);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Failure::Retry(Attempt::Connection(e.to_string())))?;
        match status {
            200..=399 => Ok(Answer {
                status,
                location,
                body: bytes,
            }),
            401 => Err(Failure::Fatal(CloudError::Rejected {
                call: call.to_string(),
                status,
                message: format!("{} answered 401: {}", svc.name(), message_of(&bytes)),
            })),
            500..=599 => Err(Failure::Retry(Attempt::Status(status))),
            _ => Err(Failure::Fatal(CloudError::Api {
                service: svc.name(),
                call: call.to_string(),
                status,
                message: message_of(&bytes),
            })),
        }
    }

    /// One call: a timeout per attempt, one re-authentication on a 401, and for GET retries.
    /// `body` is the bytes and their content type.
    pub async fn call(
        &self,
        svc: Svc,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<(Bytes, &'static str)>,
    ) -> Result<Answer, CloudError> {
        let read = method == Method::GET;
        let policy = if read {
            self.opts.retry
        } else {
            RetryPolicy::once(self.opts.retry.attempt_timeout)
        };
        let call = describe(&method, path, query);
        let reauthenticated = std::sync::atomic::AtomicBool::new(false);
        self.retrying(svc, call.clone(), policy, || async {
            loop {
                let sent = self.auth.current().await;
                match self
                    .attempt(svc, &method, path, query, body.as_ref(), &call)
                    .await
                {
                    Err(Failure::Fatal(CloudError::Rejected { status: 401, .. }))
                        if svc != Svc::Keystone
                            && !reauthenticated
                                .swap(true, std::sync::atomic::Ordering::Relaxed) =>
                    {
                        // The token died early (revoked, or the clocks disagree): one fresh
                        // token, unless a concurrent call has already renewed it.
                        self.auth.invalidate_if(sent.as_deref()).await;
                    }
                    other => return other,
                }
            }
        })
        .await
    }

    /// Runs `f` with a timeout per attempt, retrying what `f` calls retryable per `policy`.
    async fn retrying<T, F, Fut>(
        &self,
        svc: Svc,
        call: String,
        policy: RetryPolicy,
        f: F,
    ) -> Result<T, CloudError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let salt = call.bytes().fold(
            self.opts.clock.now().timestamp_subsec_nanos() as u64,
            |h, b| h.rotate_left(5) ^ b as u64,
        );
        match retry::run(&policy, salt, f).await {
            Ok(v) => Ok(v),
            Err(Stop::Fatal(e)) => Err(e),
            Err(Stop::Spent(mut attempts, elapsed)) => {
                let service = svc.name();
                if policy.max_attempts > 1 || attempts.len() != 1 {
                    return Err(CloudError::GaveUp {
                        service,
                        call,
                        attempts,
                        elapsed,
                    });
                }
                Err(match attempts.remove(0) {
                    Attempt::Status(status) => CloudError::Api {
                        service,
                        call,
                        status,
                        message: "server error".into(),
                    },
                    Attempt::Timeout => CloudError::Timeout {
                        service,
                        call,
                        after: policy.attempt_timeout,
                    },
                    Attempt::Connection(message) => CloudError::Unreachable {
                        service,
                        call,
                        message,
                    },
                })
            }
        }
    }

    /// GET `path` with `query` as JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        svc: Svc,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, CloudError> {
        let answer = self.call(svc, Method::GET, path, query, None).await?;
        serde_json::from_slice(&answer.body).map_err(|e| CloudError::InvalidResponse {
            service: svc.name(),
            call: describe(&Method::GET, path, query),
            message: e.to_string(),
        })
    }
}

fn status_of(e: &osauth::Error) -> Option<u16> {
    // osauth keeps the status privately; its message names the kind. Map kinds back.
    use osauth::ErrorKind as K;
    match e.kind() {
        K::AuthenticationFailed => Some(401),
        K::AccessDenied => Some(403),
        K::ResourceNotFound => Some(404),
        K::Conflict => Some(409),
        K::InvalidInput => Some(400),
        K::InternalServerError => Some(500),
        _ => None,
    }
}

/// `GET /v2/images?limit=1000` (the query as sent; never holds a secret).
pub fn describe(method: &Method, path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        format!("{method} {path}")
    } else {
        let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{method} {path}?{}", q.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_from_each_service_shape() {
        assert_eq!(
            message_of(br#"{"error": {"message": "bad", "code": 401}}"#),
            "bad"
        );
        assert_eq!(
            message_of(br#"{"itemNotFound": {"message": "gone", "code": 404}}"#),
            "gone"
        );
        assert_eq!(
            message_of(b"{\"code\": \"403 Forbidden\", \"message\": \"protected<br /><br />\\n\"}"),
            "protected"
        );
        assert_eq!(message_of(b"<html>oops</html>"), "<html>oops</html>");
    }
}
