//! From a listing to the inventory: each image with its series, age, usage, verdict, reasons and
//! flags, in the shape of the `kiln images --json` contract.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::cloud::usage::{ServerRef, VolumeRef};
use crate::cloud::{Image, Listing, UsageScope};
use crate::retention::{self, Candidate, Flag, Policy, Reason, UsageSeen, Verdict, Visibility};

/// `{"servers": N, "volumes": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InUse {
    /// Servers booted from the image (in the scope seen).
    pub servers: usize,
    /// Volumes created from it (boot from volume).
    pub volumes: usize,
}

/// One image as `kiln images --json` prints it (the first fields are the contract); the rest is
/// for the console's detail and is not serialized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageReport {
    /// Glance id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `v1.28`, null when the name does not follow the template.
    pub series: Option<String>,
    /// Glance's `created_at`.
    pub created_at: DateTime<Utc>,
    /// Whole days since `created_at`.
    pub age_days: i64,
    /// `active`, `queued`, ...
    pub status: String,
    /// Bytes, when known.
    pub size: Option<u64>,
    /// Glance refuses to delete it.
    pub protected: bool,
    /// The `fips_enabled` property (null when absent).
    pub fips_enabled: Option<bool>,
    /// Servers and volumes using it.
    pub in_use: InUse,
    /// `keep` or `eligible`.
    pub verdict: Verdict,
    /// Why it stays.
    pub reasons: Vec<Reason>,
    /// How much of the cloud the usage lookup saw.
    pub usage_scope: UsageScope,
    /// `duplicate_name`, `name_date_mismatch`.
    pub flags: Vec<Flag>,
    /// The build date in the name.
    #[serde(skip)]
    pub name_date: Option<NaiveDate>,
    /// Who can see it.
    #[serde(skip)]
    pub visibility: String,
    /// Custom properties (provenance).
    #[serde(skip)]
    pub properties: std::collections::BTreeMap<String, String>,
    /// The servers using it.
    #[serde(skip)]
    pub servers: Vec<ServerRef>,
    /// The volumes created from it.
    #[serde(skip)]
    pub volumes: Vec<VolumeRef>,
}

impl ImageReport {
    /// USE as the tables show it: `2 srv`, `1 vol`, `2 srv 1 vol`, `-` when proven unused, `?`
    /// when nothing uses it in the scope seen but that scope cannot prove it unused.
    pub fn use_summary(&self) -> String {
        let InUse { servers, volumes } = self.in_use;
        match (servers, volumes) {
            (0, 0) if self.reasons.contains(&Reason::UsageUnknown) => "?".into(),
            (0, 0) => "-".into(),
            (s, 0) => format!("{s} srv"),
            (0, v) => format!("{v} vol"),
            (s, v) => format!("{s} srv {v} vol"),
        }
    }

    /// True when servers or volumes use it.
    pub fn is_used(&self) -> bool {
        self.in_use.servers + self.in_use.volumes > 0
    }
}

/// Every image of a listing, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Newest first.
    pub images: Vec<ImageReport>,
    /// How much of the cloud the usage lookup saw.
    pub usage_scope: UsageScope,
    /// Why usage is not fully known (the calls that failed), for the status line.
    pub usage_problems: Vec<String>,
    /// When the listing was made.
    pub at: DateTime<Utc>,
    /// Servers booted from a volume, by id (their volumes are in the images' `volumes`).
    pub volume_booted: std::collections::BTreeMap<String, ServerRef>,
}

impl Inventory {
    /// The images that may go.
    pub fn eligible(&self) -> impl Iterator<Item = &ImageReport> {
        self.images
            .iter()
            .filter(|i| i.verdict == Verdict::Eligible)
    }

    /// An image by id.
    pub fn image(&self, id: &str) -> Option<&ImageReport> {
        self.images.iter().find(|i| i.id == id)
    }
}

fn seen(scope: UsageScope) -> UsageSeen {
    match scope {
        UsageScope::AllProjects => UsageSeen::AllProjects,
        UsageScope::Project => UsageSeen::Project,
        UsageScope::Unknown => UsageSeen::Unknown,
    }
}

/// The inventory of a listing under `policy` at `now`. Images whose name does not start with
/// `rke2-node-` (listed with `--all`) are reported, never eligible.
pub fn build(listing: &Listing, policy: Policy, now: DateTime<Utc>) -> Inventory {
    let usage = &listing.usage;
    let candidates: Vec<Candidate> = listing
        .images
        .iter()
        .map(|i| {
            let (servers, volumes) = usage.count(&i.id);
            Candidate {
                id: i.id.clone(),
                created_at: i.created_at,
                series: i.series().map(str::to_string),
                protected: i.protected,
                visibility: Visibility::parse(&i.visibility),
                servers,
                volumes,
                active: i.status == "active",
            }
        })
        .collect();
    let decisions = retention::decide(&candidates, seen(usage.scope), policy, now);
    let named: Vec<(&str, Option<NaiveDate>, DateTime<Utc>)> = listing
        .images
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.parsed_name.as_ref().map(|n| n.build_date),
                i.created_at,
            )
        })
        .collect();
    let flags = retention::flags(&named);
    let images = listing
        .images
        .iter()
        .zip(decisions)
        .zip(flags)
        .map(|((i, d), flags)| report(i, d, flags, listing, now))
        .collect();
    Inventory {
        images,
        usage_scope: usage.scope,
        usage_problems: usage.errors.iter().map(ToString::to_string).collect(),
        at: now,
        volume_booted: usage.volume_booted.clone(),
    }
}

fn report(
    i: &Image,
    d: retention::Decision,
    flags: Vec<Flag>,
    listing: &Listing,
    now: DateTime<Utc>,
) -> ImageReport {
    let (servers, volumes) = listing.usage.count(&i.id);
    ImageReport {
        id: i.id.clone(),
        name: i.name.clone(),
        series: i.series().map(str::to_string),
        created_at: i.created_at,
        age_days: (now - i.created_at).num_days(),
        status: i.status.clone(),
        size: i.size,
        protected: i.protected,
        fips_enabled: i.fips_enabled(),
        in_use: InUse { servers, volumes },
        verdict: d.verdict,
        reasons: d.reasons,
        usage_scope: listing.usage.scope,
        flags,
        name_date: i.parsed_name.as_ref().map(|n| n.build_date),
        visibility: i.visibility.clone(),
        properties: i.properties.clone(),
        servers: listing
            .usage
            .servers
            .get(&i.id)
            .cloned()
            .unwrap_or_default(),
        volumes: listing
            .usage
            .volumes
            .get(&i.id)
            .cloned()
            .unwrap_or_default(),
    }
}
