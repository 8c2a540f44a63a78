//! Keystone v3 authentication for osauth's session, built from a [`CloudConfig`]: users and
//! projects by id or name, application credentials, tokens. It implements `osauth::AuthType`, so
//! requests go through osauth's `Session` (and the typed `openstack` API can share it), but unlike
//! osauth's stock `Password` it really renews on a forced refresh (a 401 means the cached token
//! is dead even if its expiry says otherwise) and keeps tokens that have less than ten minutes
//! left instead of re-authenticating before every request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use osauth::{EndpointFilters, Error as OsError, ErrorKind};
use reqwest::{Client, RequestBuilder, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::config::{AuthMethod, CloudConfig, IdOrName, ProjectScope};
use crate::clock::Clock;

/// What a token says about its holder and where the services are.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// The scoped project's id.
    pub project_id: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// The catalog.
    pub catalog: Vec<CatalogService>,
}

impl TokenInfo {
    /// True when the token carries the `admin` role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }

    /// The facts of Keystone's token body (`{"token": {...}}`); Err: why it is not one.
    pub fn from_body(body: &[u8]) -> Result<TokenInfo, String> {
        let root: TokenRoot = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(TokenInfo {
            expires_at: root.token.expires_at,
            project_id: root.token.project.map(|p| p.id),
            roles: root.token.roles.into_iter().map(|r| r.name).collect(),
            catalog: root.token.catalog,
        })
    }

    /// The catalog's endpoint of the first of `alternatives` (service types) that has one on
    /// `interface`, in `region` when one is given.
    pub fn endpoint(
        &self,
        interface: &str,
        region: Option<&str>,
        alternatives: &[&str],
    ) -> Option<&CatalogEndpoint> {
        alternatives.iter().find_map(|kind| {
            self.catalog
                .iter()
                .filter(|s| s.kind == *kind)
                .flat_map(|s| &s.endpoints)
                .find(|e| {
                    e.interface == interface
                        && region.is_none_or(|r| {
                            e.region_id.as_deref() == Some(r) || e.region.as_deref() == Some(r)
                        })
                })
        })
    }
}

/// True while a token obtained at `obtained_at` is still used at `now` rather than renewed:
/// renewal comes within the last 30 s, or the last tenth of a short-lived token.
pub fn still_fresh(info: &TokenInfo, obtained_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let lifetime = info.expires_at - obtained_at;
    let margin = chrono::Duration::seconds(30).min(lifetime / 10);
    info.expires_at - now > margin
}

/// What Keystone said when it refused a token: its `error.message`, else the body's first 200
/// characters.
pub fn refusal_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(String::from))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// One catalog entry.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogService {
    /// `image`, `compute`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its endpoints.
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint of a catalog entry.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEndpoint {
    /// `public`, `internal`, `admin`.
    pub interface: String,
    /// Region id.
    #[serde(default)]
    pub region_id: Option<String>,
    /// Region (older Keystones).
    #[serde(default)]
    pub region: Option<String>,
    /// URL.
    pub url: String,
}

struct Cached {
    value: String,
    info: TokenInfo,
    obtained_at: DateTime<Utc>,
}

struct Inner {
    token_url: String,
    body: Value,
    interface: String,
    region: Option<String>,
    cached: tokio::sync::Mutex<Option<Cached>>,
    issued: AtomicU64,
    clock: Arc<dyn Clock>,
}

/// Keystone authentication shared by a session and its clones.
#[derive(Clone)]
pub struct KeystoneAuth(Arc<Inner>);

impl fmt::Debug for KeystoneAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoneAuth")
            .field("token_url", &self.0.token_url)
            .finish_non_exhaustive()
    }
}

fn ion(v: &IdOrName) -> Value {
    match v {
        IdOrName::Id(id) => json!({"id": id}),
        IdOrName::Name(name) => json!({"name": name}),
    }
}

fn scope_json(scope: &ProjectScope) -> Value {
    let mut p = ion(&scope.project);
    if let (IdOrName::Name(_), Some(d)) = (&scope.project, &scope.domain) {
        p["domain"] = ion(d);
    }
    json!({"project": p})
}

/// The `POST /v3/auth/tokens` body for `auth`.
fn body_for(auth: &AuthMethod) -> Value {
    let (identity, scope) = match auth {
        AuthMethod::Password {
            user,
            user_domain,
            password,
            scope,
        } => {
            let mut u = ion(user);
            if let (IdOrName::Name(_), Some(d)) = (user, user_domain) {
                u["domain"] = ion(d);
            }
            u["password"] = json!(password.expose());
            (
                json!({"methods": ["password"], "password": {"user": u}}),
                scope.as_ref(),
            )
        }
        AuthMethod::ApplicationCredential { id, secret } => (
            json!({"methods": ["application_credential"],
                   "application_credential": {"id": id, "secret": secret.expose()}}),
            None,
        ),
        AuthMethod::Token { token, scope } => (
            json!({"methods": ["token"], "token": {"id": token.expose()}}),
            scope.as_ref(),
        ),
    };
    let mut auth = json!({"identity": identity});
    if let Some(s) = scope {
        auth["scope"] = scope_json(s);
    }
    json!({"auth": auth})
}

/// `.../v3/auth/tokens` for an auth URL with or without `/v3`.
pub fn token_url(auth_url: &str) -> String {
    let base = auth_url.trim_end_matches('/');
    if base.ends_with("/v3") {
        format!("{base}/auth/tokens")
    } else {
        format!("{base}/v3/auth/tokens")
    }
}

#[derive(Deserialize)]
struct TokenRoot {
    token: TokenBody,
}

#[derive(Deserialize)]
struct TokenBody {
    expires_at: DateTime<Utc>,
    #[serde(default)]
    project: Option<IdOnly>,
    #[serde(default)]
    roles: Vec<NameOnly>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Deserialize)]
struct NameOnly {
    name: String,
}

fn os_error(
    kind: ErrorKind,
    msg: impl Into<String>,
    status: Option<reqwest::StatusCode>,
) -> OsError {
    let e = OsError::new(kind, msg);
    match status {
        Some(s) => e.with_status(s),
        None => e,
    }
}

/// An error and its causes, `a: b: c`.
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}

impl KeystoneAuth {
    /// Authentication for `config` (nothing is sent until the first request).
    pub fn new(config: &CloudConfig, clock: Arc<dyn Clock>) -> Self {
        KeystoneAuth(Arc::new(Inner {
            token_url: token_url(&config.auth_url),
            body: body_for(&config.auth),
            interface: config.interface.clone(),
            region: config.region.clone(),
            cached: tokio::sync::Mutex::new(None),
            issued: AtomicU64::new(0),
            clock,
        }))
    }

    /// How many tokens were issued so far (a 401 that re-authenticates adds one).
    pub fn tokens_issued(&self) -> u64 {
        self.0.issued.load(Ordering::Relaxed)
    }

    /// The current token's facts, when one is held.
    pub async fn info(&self) -> Option<TokenInfo> {
        self.0.cached.lock().await.as_ref().map(|c| c.info.clone())
    }

    /// Drops the cached token: the next request authenticates again.
    pub async fn invalidate(&self) {
        *self.0.cached.lock().await = None;
    }

    /// The cached token's value, when one is held.
    pub async fn current(&self) -> Option<String> {
        self.0.cached.lock().await.as_ref().map(|c| c.value.clone())
    }

    /// Drops the cached token if it is still `value`: when several calls meet the same dead
    /// token at once, the first renews it and the others use the renewed one.
    pub async fn invalidate_if(&self, value: Option<&str>) {
        let mut cached = self.0.cached.lock().await;
        if cached.as_ref().map(|c| c.value.as_str()) == value {
            *cached = None;
        }
    }

    /// A token value valid now, authenticating when there is none or it is about to expire.
    async fn token(&self, client: &Client, force: bool) -> Result<String, OsError> {
        let mut cached = self.0.cached.lock().await;
        if !force
            && let Some(c) = cached.as_ref()
            && still_fresh(&c.info, c.obtained_at, self.0.clock.now())
        {
            return Ok(c.value.clone());
        }
        let resp = client
            .post(&self.0.token_url)
            .header("accept", "application/json")
            .json(&self.0.body)
            .send()
            .await
            .map_err(|e| {
                // osauth keeps only the top message ("error sending request"): keep the causes.
                let why = causes(&e);
                let kind = if why.contains("certificate") || why.contains("Certificate") {
                    ErrorKind::InvalidConfig
                } else {
                    ErrorKind::ProtocolError
                };
                os_error(kind, why, None)
            })?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(os_error(
                status.into(),
                refusal_message(&text),
                Some(status),
            ));
        }
        let value = resp
            .headers()
            .get("x-subject-token")
            .and_then(|h| h.to_str().ok())
            .map(String::from)
            .ok_or_else(|| {
                os_error(
                    ErrorKind::InvalidResponse,
                    "Keystone answered without X-Subject-Token",
                    None,
                )
            })?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| os_error(ErrorKind::InvalidResponse, format!("token body: {e}"), None))?;
        let info = TokenInfo::from_body(&body)
            .map_err(|e| os_error(ErrorKind::InvalidResponse, format!("token body: {e}"), None))?;
        self.0.issued.fetch_add(1, Ordering::Relaxed);
        *cached = Some(Cached {
            value: value.clone(),
            info,
            obtained_at: self.0.clock.now(),
        });
        Ok(value)
    }

    /// Gets a new token now.
    pub async fn refresh_token(&self, client: &Client) -> Result<(), OsError> {
        self.token(client, true).await.map(|_| ())
    }

    /// The endpoint URL of `service_type` (first of `alternatives` found) in the catalog.
    pub async fn endpoint(&self, client: &Client, alternatives: &[&str]) -> Result<Url, OsError> {
        self.token(client, false).await?;
        let cached = self.0.cached.lock().await;
        let Some(c) = cached.as_ref() else {
            return Err(os_error(ErrorKind::AuthenticationFailed, "no token", None));
        };
        if let Some(e) = c
            .info
            .endpoint(&self.0.interface, self.0.region.as_deref(), alternatives)
        {
            return Url::parse(&e.url).map_err(|err| {
                os_error(
                    ErrorKind::InvalidResponse,
                    format!("catalog URL {}: {err}", e.url),
                    None,
                )
            });
        }
        Err(os_error(
            ErrorKind::EndpointNotFound,
            format!(
                "no {} endpoint{} in the catalog ({})",
                self.0.interface,
                self.0
                    .region
                    .as_ref()
                    .map(|r| format!(" in region {r}"))
                    .unwrap_or_default(),
                alternatives.join(" or ")
            ),
            None,
        ))
    }
}

#[async_trait::async_trait]
impl osauth::AuthType for KeystoneAuth {
    async fn authenticate(
        &self,
        client: &Client,
        request: RequestBuilder,
    ) -> Result<RequestBuilder, OsError> {
        let token = self.token(client, false).await?;
        Ok(request.header("x-auth-token", token))
    }

    async fn get_endpoint(
        &self,
        client: &Client,
        service_type: &str,
        _filters: &EndpointFilters,
    ) -> Result<Url, OsError> {
        self.endpoint(client, &[service_type]).await
    }

    async fn refresh(&self, client: &Client) -> Result<(), OsError> {
        self.token(client, true).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::config::Secret;

    #[test]
    fn bodies_use_ids_or_names_with_domains() {
        let b = body_for(&AuthMethod::Password {
            user: IdOrName::Name("ops".into()),
            user_domain: Some(IdOrName::Id("default".into())),
            password: Secret::new("pw"),
            scope: Some(ProjectScope {
                project: IdOrName::Name("platform".into()),
                domain: Some(IdOrName::Name("Default".into())),
            }),
        });
        assert_eq!(
            b["auth"]["identity"]["password"]["user"]["domain"]["id"],
            "default"
        );
        assert_eq!(b["auth"]["scope"]["project"]["domain"]["name"], "Default");
        let b = body_for(&AuthMethod::Password {
            user: IdOrName::Id("u1".into()),
            user_domain: Some(IdOrName::Id("default".into())),
            password: Secret::new("pw"),
            scope: Some(ProjectScope {
                project: IdOrName::Id("p1".into()),
                domain: None,
            }),
        });
        assert!(
            b["auth"]["identity"]["password"]["user"]
                .get("domain")
                .is_none()
        );
        assert_eq!(b["auth"]["scope"]["project"]["id"], "p1");
        let b = body_for(&AuthMethod::ApplicationCredential {
            id: "a".into(),
            secret: Secret::new("s"),
        });
        assert!(b["auth"].get("scope").is_none());
        assert_eq!(
            token_url("http://k:5000/v3/"),
            "http://k:5000/v3/auth/tokens"
        );
        assert_eq!(token_url("http://k:5000"), "http://k:5000/v3/auth/tokens");
    }
}
