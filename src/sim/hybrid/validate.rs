//! Validating a token the simulator did not issue against the external Keystone, the way
//! keystonemiddleware does for a real Nova: `GET /v3/auth/tokens` with the token as both
//! `X-Auth-Token` and `X-Subject-Token` (a user may validate their own token), the answer cached
//! briefly (valid and invalid alike), never past the token's expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::HybridError;
use crate::clock::{Clock, SystemClock};
use crate::sim::state::{ExternalIdentity, Token};

/// How long a valid token's answer is reused.
pub const CACHE_VALID_FOR: Duration = Duration::from_secs(60);
/// How long an invalid token's answer is reused.
pub const CACHE_INVALID_FOR: Duration = Duration::from_secs(5);
/// Every call to the external cloud gives up after this long.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Cached answers kept at most (the expired ones go first, then all).
const CACHE_MAX: usize = 4096;

/// What Keystone said about a token.
#[derive(Clone)]
struct Known {
    identity: Arc<ExternalIdentity>,
    methods: Vec<String>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

struct Cached {
    until: Instant,
    known: Option<Known>,
}

/// The external Keystone and the validations it gave lately. (No `Debug`: it holds tokens.)
pub struct ExternalKeystone {
    url: String,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
}

impl ExternalKeystone {
    /// A validator for the Keystone at `auth_url` (`http://host:port/v3`; `/v3` is added when
    /// missing).
    pub fn new(auth_url: &str) -> Result<Self, HybridError> {
        let u = auth_url.trim_end_matches('/');
        let url = if u.ends_with("/v3") {
            u.to_string()
        } else {
            format!("{u}/v3")
        };
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| HybridError::Client(e.to_string()))?;
        Ok(ExternalKeystone {
            url,
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The Keystone's v3 URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP client (also used to read the external Glance).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token `value` as the simulator's handlers use it, or None when Keystone does not
    /// know it (or it expired). An error when Keystone could not be asked.
    pub async fn validate(&self, value: &str) -> Result<Option<Token>, HybridError> {
        let now = SystemClock.now();
        let hit = self
            .cache()
            .get(value)
            .filter(|c| c.until > Instant::now())
            .map(|c| c.known.clone());
        let known = match hit {
            Some(k) => k,
            None => {
                let known = self.ask(value).await?;
                let mut cache = self.cache();
                if cache.len() >= CACHE_MAX {
                    let at = Instant::now();
                    cache.retain(|_, c| c.until > at);
                    if cache.len() >= CACHE_MAX {
                        cache.clear();
                    }
                }
                let until = Instant::now()
                    + if known.is_some() {
                        CACHE_VALID_FOR
                    } else {
                        CACHE_INVALID_FOR
                    };
                cache.insert(
                    value.to_string(),
                    Cached {
                        until,
                        known: known.clone(),
                    },
                );
                known
            }
        };
        Ok(known.filter(|k| k.expires_at > now).map(|k| Token {
            serial: u64::MAX,
            user: 0,
            project: None,
            domain_scoped: k.identity.project_id.is_empty(),
            issued_at: k.issued_at,
            expires_at: k.expires_at,
            methods: k.methods,
            admin: k.identity.roles.iter().any(|r| r == "admin"),
            external: Some(k.identity),
        }))
    }

    async fn ask(&self, value: &str) -> Result<Option<Known>, HybridError> {
        let url = format!("{}/auth/tokens", self.url);
        let resp = self
            .http
            .get(&url)
            .header("x-auth-token", value)
            .header("x-subject-token", value)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| HybridError::Unreachable {
                what: "Keystone",
                url: url.clone(),
                reason: e.to_string(),
            })?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 | 404 => return Ok(None),
            status => {
                return Err(HybridError::Status {
                    what: "Keystone",
                    url,
                    status,
                });
            }
        }
        let body = resp.bytes().await.map_err(|e| HybridError::Unreachable {
            what: "Keystone",
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| HybridError::Malformed(format!("token validation: {e}")))?;
        parse(&v["token"]).map(Some)
    }
}

fn time(v: &Value, field: &str) -> Result<DateTime<Utc>, HybridError> {
    v[field]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| HybridError::Malformed(format!("token without a valid {field}")))
}

/// The public `image` endpoint of a catalog (any region when none matches the first).
fn glance_of(catalog: &Value) -> Option<String> {
    catalog
        .as_array()?
        .iter()
        .filter(|s| s["type"] == "image")
        .flat_map(|s| s["endpoints"].as_array().into_iter().flatten())
        .find(|e| e["interface"] == "public")
        .and_then(|e| e["url"].as_str())
        .map(|u| u.trim_end_matches('/').to_string())
}

fn parse(t: &Value) -> Result<Known, HybridError> {
    let user_id = t["user"]["id"]
        .as_str()
        .ok_or_else(|| HybridError::Malformed("token without a user id".into()))?;
    let strings = |v: &Value, key: Option<&str>| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| match key {
                Some(k) => x[k].as_str(),
                None => x.as_str(),
            })
            .map(String::from)
            .collect()
    };
    Ok(Known {
        identity: Arc::new(ExternalIdentity {
            user_id: user_id.to_string(),
            project_id: t["project"]["id"].as_str().unwrap_or_default().to_string(),
            roles: strings(&t["roles"], Some("name")),
            glance: glance_of(&t["catalog"]),
        }),
        methods: strings(&t["methods"], None),
        issued_at: time(t, "issued_at")?,
        expires_at: time(t, "expires_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_keystone_answer_gives_the_identity_roles_and_glance() {
        let t = json!({
            "methods": ["password"], "user": {"id": "u1", "name": "admin"},
            "project": {"id": "p1", "name": "admin"},
            "roles": [{"id": "a", "name": "admin"}, {"id": "r", "name": "reader"}],
            "issued_at": "2026-11-25T10:00:00.000000Z", "expires_at": "2026-11-25T11:00:00.000000Z",
            "catalog": [
                {"type": "identity", "endpoints": [{"interface": "public", "url": "http://k/v3"}]},
                {"type": "image", "endpoints": [
                    {"interface": "admin", "url": "http://admin-g"},
                    {"interface": "public", "url": "http://g:9292/"}]},
            ],
        });
        let k = parse(&t).unwrap();
        assert_eq!(k.identity.user_id, "u1");
        assert_eq!(k.identity.project_id, "p1");
        assert_eq!(k.identity.roles, ["admin", "reader"]);
        assert_eq!(k.identity.glance.as_deref(), Some("http://g:9292"));
        assert_eq!(k.methods, ["password"]);
        assert!(parse(&json!({"user": {"id": "u"}})).is_err(), "no times");
        let e = parse(&json!({})).err().unwrap().to_string();
        assert!(e.contains("user id"), "{e}");
    }

    #[test]
    fn the_url_gets_its_version() {
        assert_eq!(
            ExternalKeystone::new("http://k:5000").unwrap().url(),
            "http://k:5000/v3"
        );
        assert_eq!(
            ExternalKeystone::new("http://k:5000/v3/").unwrap().url(),
            "http://k:5000/v3"
        );
    }
}
