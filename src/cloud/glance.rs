//! Glance lookups for builds: the source image by name, with its status and custom properties
//! (the typed `openstack` Image drops custom properties, so this reads the raw JSON).

use std::collections::BTreeMap;
use std::time::Duration;

use openstack::session::Session;
use serde::Deserialize;
use serde_json::Value;

use super::credentials::CredentialSource;

/// An image as kiln needs it for preflight and FIPS guidance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GlanceImage {
    /// Image id.
    pub id: String,
    /// Image name.
    #[serde(default)]
    pub name: Option<String>,
    /// `active`, `queued`, `deactivated`, ...
    pub status: String,
    /// Everything else Glance returned: custom properties, visibility, tags, ...
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
struct ImageList {
    images: Vec<GlanceImage>,
}

/// Why a lookup failed, sorted by what the operator should do.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// No credentials to try.
    #[error("no OpenStack credentials: {0}")]
    NoCredentials(String),
    /// The cloud did not answer in time or could not be reached.
    #[error("OpenStack is not reachable: {0}")]
    Unreachable(String),
    /// Keystone refused the credentials (wrong, or an expired token).
    #[error("OpenStack refused the credentials (expired token or wrong password?): {0}")]
    Rejected(String),
    /// Glance answered with an error.
    #[error("Glance error: {0}")]
    Api(String),
}

impl From<openstack::Error> for CloudError {
    fn from(e: openstack::Error) -> Self {
        use openstack::ErrorKind as K;
        let text = e.to_string();
        match e.kind() {
            K::AuthenticationFailed | K::AccessDenied => CloudError::Rejected(text),
            K::ProtocolError | K::OperationTimedOut | K::EndpointNotFound => {
                CloudError::Unreachable(text)
            }
            _ => CloudError::Api(text),
        }
    }
}

/// Connects with the detected credentials, bounded by `limit`.
pub async fn connect(source: &CredentialSource, limit: Duration) -> Result<Session, CloudError> {
    let fut = async {
        match source {
            CredentialSource::CloudsYaml { cloud, .. } => Session::from_config(cloud).await,
            CredentialSource::Environment { .. } => Session::from_env().await,
            CredentialSource::Missing { reason } => {
                return Err(CloudError::NoCredentials(reason.clone()));
            }
        }
        .map_err(CloudError::from)
    };
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| CloudError::Unreachable(format!("no answer within {}s", limit.as_secs())))?
}

/// Images with exactly this name (Glance names are not unique).
pub async fn images_named(
    session: &Session,
    name: &str,
    limit: Duration,
) -> Result<Vec<GlanceImage>, CloudError> {
    let fut = session
        .get(osauth::services::IMAGE, &["images"])
        .query(&[("name", name)])
        .fetch::<ImageList>();
    let list = tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| {
            CloudError::Unreachable(format!("Glance did not answer within {}s", limit.as_secs()))
        })?
        .map_err(CloudError::from)?;
    Ok(list.images)
}

impl GlanceImage {
    /// A string property, if set.
    pub fn property(&self, key: &str) -> Option<String> {
        match self.extra.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}
