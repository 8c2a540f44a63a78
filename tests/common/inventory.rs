//! The demo fleet's listing, served by the simulator over real HTTP (seed 11, today
//! 2026-11-25) and judged at a fixed time, for the Images and Retention views' tests.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kiln::cloud::{CloudClient, SessionOptions};
use kiln::inventory::Inventory;
use kiln::retention::Policy;
use kiln::sim::{FleetSize, SimConfig};

/// When the listing is judged: 2026-11-25 12:00 UTC.
pub fn listed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

/// The listing as the admin (all projects) or a project member.
pub fn demo_inventory(admin: bool) -> Arc<Inventory> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sim = kiln::sim::start(SimConfig {
            fleet: FleetSize::Demo,
            ..SimConfig::new(11, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
        })
        .await
        .unwrap();
        let creds = if admin { sim.admin() } else { sim.member() };
        let client = CloudClient::connect(&sim.cloud_config(creds), SessionOptions::default())
            .await
            .unwrap();
        let inv = kiln::inventory::fetch::fetch(&client, false, Policy::default(), listed_at())
            .await
            .unwrap();
        sim.stop().await;
        Arc::new(inv)
    })
}
