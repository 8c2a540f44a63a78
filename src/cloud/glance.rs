//! Glance lookups for builds (preflight): connect with the resolved credentials and find the
//! source image by name, with its status and custom properties.

use std::time::Duration;

pub use super::error::CloudError;
pub use super::images::Image as GlanceImage;

use super::client::{CloudClient, quick_options};
use super::credentials::CredentialSource;

/// Connects with the resolved credentials, each attempt bounded by `limit`.
pub async fn connect(
    source: &CredentialSource,
    limit: Duration,
) -> Result<CloudClient, CloudError> {
    CloudClient::connect_source(source, quick_options(limit)).await
}

/// Images with exactly this name (Glance names are not unique).
pub async fn images_named(
    client: &CloudClient,
    name: &str,
) -> Result<Vec<GlanceImage>, CloudError> {
    client.images_named(name).await
}
