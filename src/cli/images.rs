//! `kiln images [--json] [--all]`: the images with their age, use, retention verdict and flags.
//! Exit 0, or 2 when the cloud cannot be reached or refuses the credentials.

use std::io::Write;

use anyhow::Context;

use crate::clock::Clock;
use crate::cloud::{CloudClient, SessionOptions};
use crate::format::{age, plain, size};
use crate::inventory::{ImageReport, Inventory};
use crate::settings::Settings;

use super::args::ImagesArgs;
use super::env;

/// Connects with the settings' credentials; the error says what failed and where.
pub async fn connect(settings: &Settings) -> Result<CloudClient, crate::cloud::CloudError> {
    CloudClient::connect_source(&settings.credentials(&env), SessionOptions::default()).await
}

/// Runs `kiln images`.
pub async fn run(settings: &Settings, args: &ImagesArgs, clock: &dyn Clock) -> anyhow::Result<i32> {
    let client = match connect(settings).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiln: {e}");
            return Ok(2);
        }
    };
    let policy = settings.config.retention.policy();
    let inventory =
        match crate::inventory::fetch::fetch(&client, args.all, policy, clock.now()).await {
            Ok(i) => i,
            Err(e) => {
                eprintln!("kiln: listing the images failed: {e}");
                return Ok(2);
            }
        };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&inventory.images)?)?;
    } else {
        print_table(&mut out, &inventory, inventory.images.iter()).context("writing the table")?;
    }
    for p in &inventory.usage_problems {
        eprintln!("kiln: usage: {p}");
    }
    Ok(0)
}

/// The images as an aligned table, with how much of the cloud the usage saw.
pub fn print_table<'a>(
    out: &mut dyn Write,
    inventory: &Inventory,
    images: impl Iterator<Item = &'a ImageReport>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<30} {:<7} {:<10} {:>6} {:>10} {:<8} {:<5} {:<11} {:<8} REASONS / FLAGS",
        "NAME", "SERIES", "BUILT", "AGE", "SIZE", "STATUS", "FIPS", "USE", "VERDICT"
    )?;
    for i in images {
        let fips = match i.fips_enabled {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let mut notes: Vec<&str> = i.reasons.iter().map(|r| r.as_str()).collect();
        notes.extend(i.flags.iter().map(|f| f.as_str()));
        let line = format!(
            "{:<30} {:<7} {:<10} {:>6} {:>10} {:<8} {:<5} {:<11} {:<8} {}",
            i.name,
            i.series.as_deref().unwrap_or("-"),
            i.name_date.map_or_else(|| "-".into(), |d| d.to_string()),
            age((inventory.at - i.created_at).num_seconds()),
            i.size.map_or_else(|| "-".into(), size),
            i.status,
            fips,
            i.use_summary(),
            match i.verdict {
                crate::retention::Verdict::Keep => "keep",
                crate::retention::Verdict::Eligible => "ELIGIBLE",
            },
            notes.join(", ")
        );
        writeln!(out, "{}", plain(line.trim_end()))?;
    }
    writeln!(
        out,
        "usage seen: {}",
        match inventory.usage_scope {
            crate::cloud::UsageScope::AllProjects => "all projects",
            crate::cloud::UsageScope::Project =>
                "this project only (images others can see are kept)",
            crate::cloud::UsageScope::Unknown => "unknown (nothing is eligible)",
        }
    )
}
