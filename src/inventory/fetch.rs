//! Fetching the inventory: one listing (Glance, Nova and Cinder at once), judged at `now`.

use chrono::{DateTime, Utc};

use super::{Inventory, build};
use crate::cloud::{CloudClient, CloudError};
use crate::retention::Policy;

/// Lists the `rke2-node-*` images (every image with `all`) with their usage and judges them.
pub async fn fetch(
    client: &CloudClient,
    all: bool,
    policy: Policy,
    now: DateTime<Utc>,
) -> Result<Inventory, CloudError> {
    let listing = if all {
        client.listing_all().await?
    } else {
        client.listing().await?
    };
    Ok(build(&listing, policy, now))
}
