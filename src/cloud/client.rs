//! The client the console, `kiln images` and the demo use: connect from explicit credentials,
//! then list `rke2-node-*` images with their usage in one go (Glance, Nova and Cinder asked
//! concurrently, usage once per listing), get, protect and delete images.

use std::time::Duration;

use serde::Serialize;

use super::config::CloudConfig;
use super::credentials::CredentialSource;
use super::error::CloudError;
use super::images::{self, Image};
use super::session::{CloudSession, SessionOptions};
use super::usage::{self, Usage};

/// Images and their usage, from one listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listing {
    /// Every image whose name starts with `rke2-node-`, newest first (Glance's order).
    pub images: Vec<Image>,
    /// Their usage.
    pub usage: Usage,
}

/// A connected cloud.
#[derive(Debug, Clone)]
pub struct CloudClient {
    session: CloudSession,
}

impl CloudClient {
    /// Authenticates with `config`.
    pub async fn connect(config: &CloudConfig, opts: SessionOptions) -> Result<Self, CloudError> {
        Ok(CloudClient {
            session: CloudSession::connect(config, opts).await?,
        })
    }

    /// Authenticates with resolved credentials (the error says what is missing otherwise).
    pub async fn connect_source(
        source: &CredentialSource,
        opts: SessionOptions,
    ) -> Result<Self, CloudError> {
        match source {
            CredentialSource::Resolved(c) => Self::connect(c, opts).await,
            CredentialSource::Missing { reason } => Err(CloudError::NoCredentials(reason.clone())),
        }
    }

    /// The session (raw calls, token facts, osauth's session for the typed API).
    pub fn session(&self) -> &CloudSession {
        &self.session
    }

    /// Every `rke2-node-*` image.
    pub async fn rke2_images(&self) -> Result<Vec<Image>, CloudError> {
        images::rke2_images(&self.session).await
    }

    /// Usage of every image (never fails: an unreachable service makes the scope unknown).
    pub async fn usage(&self) -> Usage {
        usage::usage(&self.session).await
    }

    /// Images and usage, fetched concurrently. Fails only when the images cannot be listed; the
    /// error then names every call that failed (the usage calls too).
    pub async fn listing(&self) -> Result<Listing, CloudError> {
        self.listing_of(self.rke2_images()).await
    }

    /// Every image the project can see (not only `rke2-node-*`), with usage.
    pub async fn listing_all(&self) -> Result<Listing, CloudError> {
        self.listing_of(images::list_concurrently(&self.session, &[]))
            .await
    }

    async fn listing_of(
        &self,
        images: impl std::future::Future<Output = Result<Vec<Image>, CloudError>>,
    ) -> Result<Listing, CloudError> {
        let (images, usage) = tokio::join!(images, self.usage());
        match images {
            Ok(images) => Ok(Listing { images, usage }),
            Err(e) => {
                let mut failed = e.into_calls();
                failed.extend(usage.errors);
                Err(CloudError::from_many(failed)
                    .unwrap_or(CloudError::Several { failed: Vec::new() }))
            }
        }
    }

    /// Images with exactly this name.
    pub async fn images_named(&self, name: &str) -> Result<Vec<Image>, CloudError> {
        images::named(&self.session, name).await
    }

    /// One image, None when it does not exist.
    pub async fn image(&self, id: &str) -> Result<Option<Image>, CloudError> {
        images::get(&self.session, id).await
    }

    /// Protects or unprotects an image.
    pub async fn set_protected(&self, id: &str, protected: bool) -> Result<Image, CloudError> {
        images::set_protected(&self.session, id, protected).await
    }

    /// Deletes an image (403 when protected, 409 when in use on Ceph RBD).
    pub async fn delete_image(&self, id: &str) -> Result<(), CloudError> {
        images::delete(&self.session, id).await
    }
}

/// Session options with every attempt bounded by `timeout` (preflight's quick checks).
pub fn quick_options(timeout: Duration) -> SessionOptions {
    let mut o = SessionOptions::default();
    o.retry.attempt_timeout = timeout;
    o.retry.budget = timeout * 2;
    o.retry.max_attempts = 2;
    o
}
