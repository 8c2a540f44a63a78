//! The rules, applied to every candidate at once (latest-in-series and newest compare images).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The policy's knobs (config `[retention]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Images younger than this many days stay (the document: 90).
    pub min_age_days: u32,
    /// The newest N images of each series stay.
    pub keep_latest_per_series: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_age_days: 90,
            keep_latest_per_series: 1,
        }
    }
}

/// Who can see an image (Glance's `visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Only the owning project.
    Private,
    /// Every project.
    Public,
    /// Projects it is shared with.
    Shared,
    /// Any project that asks for it.
    Community,
}

impl Visibility {
    /// From Glance's string (unknown values count as visible to others: the safe side).
    pub fn parse(s: &str) -> Visibility {
        match s {
            "private" => Visibility::Private,
            "public" => Visibility::Public,
            "community" => Visibility::Community,
            _ => Visibility::Shared,
        }
    }
}

/// How much of the cloud the usage lookup saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageSeen {
    /// Every project.
    AllProjects,
    /// Only the token's project.
    Project,
    /// Nova or Cinder could not be asked.
    Unknown,
}

/// One image, as the policy needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Glance id.
    pub id: String,
    /// Created (Glance's `created_at`: the age).
    pub created_at: DateTime<Utc>,
    /// The series from the name (`v1.28`), None when the name does not follow the template.
    pub series: Option<String>,
    /// Glance refuses to delete it.
    pub protected: bool,
    /// Who can see it.
    pub visibility: Visibility,
    /// Servers booted from it (in the scope seen).
    pub servers: usize,
    /// Volumes created from it (boot from volume).
    pub volumes: usize,
    /// Glance says `active`: only a usable image counts as the latest or the newest (a queued
    /// or killed upload must not take that protection from the image clusters actually use).
    pub active: bool,
}

/// Why an image stays. The strings are the JSON contract of `kiln images` and `kiln retention`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A server or volume uses it.
    InUse,
    /// Glance protects it.
    Protected,
    /// Younger than the minimum age.
    YoungerThanMinAge,
    /// Among the newest of its series.
    LatestInSeries,
    /// The newest image of all.
    Newest,
    /// Its name does not follow the template.
    UnparseableName,
    /// Nothing proves it unused.
    UsageUnknown,
}

impl Reason {
    /// The contract string.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InUse => "in_use",
            Reason::Protected => "protected",
            Reason::YoungerThanMinAge => "younger_than_min_age",
            Reason::LatestInSeries => "latest_in_series",
            Reason::Newest => "newest",
            Reason::UnparseableName => "unparseable_name",
            Reason::UsageUnknown => "usage_unknown",
        }
    }
}

/// Keep or eligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At least one reason keeps it.
    Keep,
    /// Nothing keeps it: it may be deleted.
    Eligible,
}

/// The verdict on one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The image id.
    pub id: String,
    /// Keep or eligible.
    pub verdict: Verdict,
    /// Why it stays (empty when eligible), in a fixed order.
    pub reasons: Vec<Reason>,
}

/// Decides every image. `usage` says how much of the cloud the usage lookup saw.
pub fn decide(
    images: &[Candidate],
    usage: UsageSeen,
    policy: Policy,
    now: DateTime<Utc>,
) -> Vec<Decision> {
    // The newest N of each series, and the newest of all (ties: the larger id, so the choice
    // does not depend on the order Glance listed them in).
    let newest_first = |a: &&Candidate, b: &&Candidate| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    };
    let mut by_series: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    for c in images {
        if let Some(s) = &c.series {
            by_series.entry(s.as_str()).or_default().push(c);
        }
    }
    // Active images first, newest first: the latest of a series are its newest usable images
    // (a series with no active image keeps its newest ones all the same).
    let usable_first =
        |a: &&Candidate, b: &&Candidate| b.active.cmp(&a.active).then(newest_first(a, b));
    let mut latest: Vec<&str> = Vec::new();
    for list in by_series.values_mut() {
        list.sort_by(usable_first);
        latest.extend(
            list.iter()
                .take(policy.keep_latest_per_series)
                .map(|c| c.id.as_str()),
        );
    }
    let newest = images.iter().min_by(usable_first).map(|c| c.id.as_str());
    let min_age = chrono::Duration::days(i64::from(policy.min_age_days));
    images
        .iter()
        .map(|c| {
            let mut reasons = Vec::new();
            let usage_known = match usage {
                UsageSeen::AllProjects => true,
                UsageSeen::Project => c.visibility == Visibility::Private,
                UsageSeen::Unknown => false,
            };
            if c.servers + c.volumes > 0 {
                reasons.push(Reason::InUse);
            }
            if c.protected {
                reasons.push(Reason::Protected);
            }
            if now - c.created_at < min_age {
                reasons.push(Reason::YoungerThanMinAge);
            }
            if latest.contains(&c.id.as_str()) {
                reasons.push(Reason::LatestInSeries);
            }
            if newest == Some(c.id.as_str()) {
                reasons.push(Reason::Newest);
            }
            if c.series.is_none() {
                reasons.push(Reason::UnparseableName);
            }
            if !usage_known {
                reasons.push(Reason::UsageUnknown);
            }
            Decision {
                id: c.id.clone(),
                verdict: if reasons.is_empty() {
                    Verdict::Eligible
                } else {
                    Verdict::Keep
                },
                reasons,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(super) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    pub(super) fn image(id: &str, days: i64, series: Option<&str>) -> Candidate {
        Candidate {
            id: id.into(),
            created_at: now() - chrono::Duration::days(days),
            series: series.map(str::to_string),
            protected: false,
            visibility: Visibility::Private,
            servers: 0,
            volumes: 0,
            active: true,
        }
    }

    fn reasons(d: &[Decision], id: &str) -> Vec<Reason> {
        d.iter().find(|d| d.id == id).unwrap().reasons.clone()
    }

    #[test]
    fn old_unused_images_behind_the_latest_are_eligible() {
        let imgs = vec![
            image("a", 200, Some("v1.28")),
            image("b", 150, Some("v1.28")),
            image("c", 100, Some("v1.28")),
            image("d", 95, Some("v1.29")),
        ];
        let d = decide(&imgs, UsageSeen::AllProjects, Policy::default(), now());
        assert_eq!(reasons(&d, "a"), []);
        assert_eq!(reasons(&d, "b"), []);
        assert_eq!(reasons(&d, "c"), [Reason::LatestInSeries]);
        assert_eq!(reasons(&d, "d"), [Reason::LatestInSeries, Reason::Newest]);
        assert_eq!(d[0].verdict, Verdict::Eligible);
    }

    #[test]
    fn each_reason_keeps_an_old_image() {
        let mut imgs = vec![image("new", 1, Some("v1.30"))];
        let mut in_use = image("used", 300, Some("v1.28"));
        in_use.servers = 1;
        let mut bfv = image("bfv", 300, Some("v1.28"));
        bfv.volumes = 1;
        let mut protected = image("prot", 300, Some("v1.28"));
        protected.protected = true;
        imgs.extend([in_use, bfv, protected, image("young", 10, Some("v1.28"))]);
        imgs.push(image("odd", 300, None));
        imgs.push(image("latest", 200, Some("v1.27")));
        let d = decide(&imgs, UsageSeen::AllProjects, Policy::default(), now());
        assert!(reasons(&d, "used").contains(&Reason::InUse));
        assert!(reasons(&d, "bfv").contains(&Reason::InUse));
        assert!(reasons(&d, "prot").contains(&Reason::Protected));
        assert!(reasons(&d, "young").contains(&Reason::YoungerThanMinAge));
        assert_eq!(reasons(&d, "odd"), [Reason::UnparseableName]);
        assert_eq!(reasons(&d, "latest"), [Reason::LatestInSeries]);
        assert!(reasons(&d, "new").contains(&Reason::Newest));
    }

    #[test]
    fn unknown_usage_keeps_everything_and_project_scope_keeps_what_others_see() {
        let mut shared = image("shared", 300, Some("v1.28"));
        shared.visibility = Visibility::Public;
        let imgs = vec![
            image("private", 300, Some("v1.28")),
            shared,
            image("top", 100, Some("v1.28")),
        ];
        let d = decide(&imgs, UsageSeen::Unknown, Policy::default(), now());
        assert!(d.iter().all(|d| d.reasons.contains(&Reason::UsageUnknown)));
        let d = decide(&imgs, UsageSeen::Project, Policy::default(), now());
        assert_eq!(reasons(&d, "private"), []);
        assert_eq!(reasons(&d, "shared"), [Reason::UsageUnknown]);
    }

    #[test]
    fn a_queued_or_killed_newer_image_does_not_take_the_latest_protection() {
        let mut queued = image("queued", 1, Some("v1.28"));
        queued.active = false;
        let imgs = vec![
            queued,
            image("active", 100, Some("v1.28")),
            image("old", 200, Some("v1.28")),
        ];
        let d = decide(&imgs, UsageSeen::AllProjects, Policy::default(), now());
        assert_eq!(
            reasons(&d, "active"),
            [Reason::LatestInSeries, Reason::Newest]
        );
        assert_eq!(reasons(&d, "queued"), [Reason::YoungerThanMinAge]);
        assert_eq!(reasons(&d, "old"), []);
    }

    #[test]
    fn keep_latest_n_and_the_age_threshold_follow_the_policy() {
        let imgs: Vec<Candidate> = (0..5)
            .map(|i| image(&format!("i{i}"), 100 + i * 10, Some("v1.28")))
            .collect();
        let p = Policy {
            min_age_days: 120,
            keep_latest_per_series: 2,
        };
        let d = decide(&imgs, UsageSeen::AllProjects, p, now());
        let eligible: Vec<&str> = d
            .iter()
            .filter(|d| d.verdict == Verdict::Eligible)
            .map(|d| d.id.as_str())
            .collect();
        // i0 (100 d) and i1 (110 d) are the latest two; i2 (120 d) is exactly at the threshold.
        assert_eq!(eligible, ["i2", "i3", "i4"]);
    }
}

#[cfg(test)]
mod properties {
    use super::tests::{image, now};
    use super::*;
    use proptest::prelude::*;

    fn candidate() -> impl Strategy<Value = Candidate> {
        (
            0i64..400,
            prop::option::of(prop::sample::select(vec!["v1.27", "v1.28", "v1.29"])),
            any::<bool>(),
            prop::sample::select(vec![
                Visibility::Private,
                Visibility::Public,
                Visibility::Shared,
                Visibility::Community,
            ]),
            0usize..3,
            0usize..2,
            0u32..1000,
        )
            .prop_map(
                |(days, series, protected, visibility, servers, volumes, n)| {
                    let mut c = image(&format!("img-{n}"), days, series);
                    c.protected = protected;
                    c.visibility = visibility;
                    c.servers = servers;
                    c.volumes = volumes;
                    c.active = n % 7 != 0;
                    c
                },
            )
    }

    fn scope() -> impl Strategy<Value = UsageSeen> {
        prop::sample::select(vec![
            UsageSeen::AllProjects,
            UsageSeen::Project,
            UsageSeen::Unknown,
        ])
    }

    proptest! {
        #[test]
        fn an_image_with_any_keep_reason_is_never_eligible(
            images in prop::collection::vec(candidate(), 0..40),
            usage in scope(),
            min_age in 0u32..200,
            keep in 0usize..3,
        ) {
            let policy = Policy { min_age_days: min_age, keep_latest_per_series: keep };
            let decisions = decide(&images, usage, policy, now());
            prop_assert_eq!(decisions.len(), images.len());
            for (c, d) in images.iter().zip(&decisions) {
                prop_assert_eq!(d.verdict == Verdict::Eligible, d.reasons.is_empty());
                let must_keep = c.servers + c.volumes > 0
                    || c.protected
                    || now() - c.created_at < chrono::Duration::days(i64::from(min_age))
                    || c.series.is_none()
                    || usage == UsageSeen::Unknown
                    || (usage == UsageSeen::Project && c.visibility != Visibility::Private);
                if must_keep {
                    prop_assert_eq!(d.verdict, Verdict::Keep, "{:?} {:?}", c, d);
                }
            }
            // Something always stays: the newest image of all.
            if !images.is_empty() {
                prop_assert!(decisions.iter().any(|d| d.reasons.contains(&Reason::Newest)));
            }
        }
    }
}
