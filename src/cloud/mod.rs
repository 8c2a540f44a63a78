//! OpenStack access: credentials resolved into an explicit configuration (clouds.yaml or OS_*),
//! an authenticated session with timeouts, re-authentication and retries, Glance images, and Nova
//! and Cinder usage. Returns plain domain types; the views never see HTTP.
//!
//! Entry points: [`credentials::CredentialSource::detect`] (or a [`config::CloudConfig`] made
//! directly, as the simulator does), then [`client::CloudClient::connect`] and
//! [`client::CloudClient::listing`].

pub mod auth;
pub mod client;
pub mod clouds_yaml;
pub mod config;
pub mod credentials;
pub mod env;
pub mod error;
pub mod glance;
pub mod images;
pub mod names;
pub mod retry;
pub mod service;
pub mod session;
pub mod usage;

pub use client::{CloudClient, Listing};
pub use config::CloudConfig;
pub use error::CloudError;
pub use images::Image;
pub use session::SessionOptions;
pub use usage::{Usage, UsageScope};
