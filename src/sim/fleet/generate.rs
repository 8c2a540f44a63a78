//! Making the fleet: the base images, the bulk of `rke2-node-*` builds over 300 days in three
//! series, the special cases the console must handle, and a few clusters of servers using them.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};

use super::{FLAVORS, Flavor, Fleet, FleetImage, FleetSize, Network, Project, User};
use crate::sim::rng::Rng;

/// (series, oldest build in days ago, newest build in days ago, first patch release).
const SERIES: &[(&str, u64, u64, u32)] = &[
    ("v1.27", 300, 120, 10),
    ("v1.28", 220, 1, 7),
    ("v1.29", 120, 1, 2),
];

/// (name, days ago, properties) of an image that is not a build.
type BaseImage = (&'static str, u64, &'static [(&'static str, &'static str)]);

const UBUNTU: &str = "ubuntu-22.04";
const UBUNTU_PRO: &str = "ubuntu-pro-22.04-fips";

struct Builder {
    rng: Rng,
    today: NaiveDate,
    admin_project: String,
    images: Vec<FleetImage>,
    names: HashSet<String>,
}

/// See [`Fleet::generate`].
pub(super) fn generate(seed: u64, today: NaiveDate, size: FleetSize) -> Fleet {
    let mut rng = Rng::new(seed, 1);
    let projects: Vec<Project> = ["admin", "platform", "team-blue", "team-green"]
        .iter()
        .map(|n| Project {
            id: rng.hex(32),
            name: n.to_string(),
        })
        .collect();
    let users = vec![
        user(&mut rng, "admin", &projects[0].id, true),
        user(&mut rng, "operator", &projects[1].id, false),
        user(&mut rng, "blue-dev", &projects[2].id, false),
    ];
    let flavors = FLAVORS
        .iter()
        .map(|&(id, n, vcpus, ram_mb, disk_gb)| Flavor {
            id: id.to_string(),
            name: n.to_string(),
            vcpus,
            ram_mb,
            disk_gb,
        })
        .collect();
    let networks = vec![
        network(&mut rng, "tenant-net", false, &projects[0].id, "10.20"),
        network(&mut rng, "public", true, &projects[0].id, "192.0.2"),
    ];
    let mut b = Builder {
        rng: Rng::new(seed, 2),
        today,
        admin_project: projects[0].id.clone(),
        images: Vec::new(),
        names: HashSet::new(),
    };
    b.base_images();
    let specials = 5;
    let bulk = size
        .image_target()
        .saturating_sub(b.images.len() + specials)
        .max(SERIES.len());
    b.bulk_builds(bulk, size != FleetSize::Large);
    b.special_images();
    b.images
        .sort_by(|x, y| x.created_at.cmp(&y.created_at).then(x.id.cmp(&y.id)));
    let (servers, volumes) =
        super::servers::servers(Rng::new(seed, 3), today, size, &projects, &users, &b.images);
    Fleet {
        seed,
        today,
        size,
        projects,
        users,
        flavors,
        networks,
        images: b.images,
        servers,
        volumes,
    }
}

fn user(rng: &mut Rng, name: &str, project_id: &str, admin: bool) -> User {
    User {
        id: rng.hex(32),
        name: name.to_string(),
        project_id: project_id.to_string(),
        admin,
    }
}

fn network(rng: &mut Rng, name: &str, external: bool, project_id: &str, prefix: &str) -> Network {
    Network {
        id: rng.uuid(),
        name: name.to_string(),
        external,
        project_id: project_id.to_string(),
        prefix: prefix.to_string(),
    }
}

/// A time on the day `days_ago` before `today`, between 06:00 and 18:59 UTC.
pub(super) fn at(rng: &mut Rng, today: NaiveDate, days_ago: u64) -> DateTime<Utc> {
    let day = today.checked_sub_days(Days::new(days_ago)).unwrap_or(today);
    let secs = 6 * 3600 + rng.below(13 * 3600) as u32;
    let naive = day
        .and_hms_opt(secs / 3600, (secs / 60) % 60, secs % 60)
        .unwrap_or_default();
    Utc.from_utc_datetime(&naive)
}

impl Builder {
    fn image(&mut self, name: &str, created_at: DateTime<Utc>) -> FleetImage {
        let size = 2_000_000_000 + self.rng.below(1_400_000_000);
        FleetImage {
            id: self.rng.uuid(),
            name: name.to_string(),
            status: "active".into(),
            visibility: "public".into(),
            protected: false,
            owner: self.admin_project.clone(),
            created_at,
            updated_at: created_at + chrono::Duration::seconds(240 + self.rng.below(600) as i64),
            size: Some(size),
            disk_format: "qcow2".into(),
            container_format: "bare".into(),
            checksum: Some(self.rng.hex(32)),
            tags: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    fn base_images(&mut self) {
        let base: [BaseImage; 4] = [
            (
                UBUNTU,
                330,
                &[("os_distro", "ubuntu"), ("os_version", "22.04")],
            ),
            (
                UBUNTU_PRO,
                325,
                &[
                    ("os_distro", "ubuntu"),
                    ("os_version", "22.04"),
                    ("ubuntu_pro", "true"),
                ],
            ),
            ("cirros-0.6.2", 340, &[("os_distro", "cirros")]),
            // Starts with `rke2-node` but not `rke2-node-`: the prefix filter must leave it out.
            ("rke2-nodepool-legacy", 280, &[]),
        ];
        for (name, days, props) in base {
            let t = at(&mut self.rng, self.today, days);
            let mut img = self.image(name, t);
            img.properties = props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if name.starts_with("rke2") {
                img.visibility = "private".into();
            }
            self.push(img);
        }
    }

    fn push(&mut self, img: FleetImage) {
        self.names.insert(img.name.clone());
        self.images.push(img);
    }

    /// One build of `series` on `days_ago`, with the template's name, tags and provenance.
    fn build(&mut self, series_idx: usize, days_ago: u64, fips: bool) -> FleetImage {
        let (series, oldest, _, first_patch) = SERIES[series_idx];
        let patch = first_patch + (oldest.saturating_sub(days_ago) / 30) as u32;
        let created = at(&mut self.rng, self.today, days_ago);
        let day = created.date_naive();
        let name = format!("rke2-node-{series}-{}", day.format("%Y%m%d"));
        let mut img = self.image(&name, created);
        let k8s = format!("{series}.{patch}");
        let source = if fips { UBUNTU_PRO } else { UBUNTU };
        let run_uuid = self.rng.uuid();
        let props: [(&str, String); 10] = [
            ("kubernetes_version", k8s.clone()),
            ("rke2_version", format!("{k8s}+rke2r1")),
            ("build_date", day.format("%Y-%m-%d").to_string()),
            ("fips_enabled", fips.to_string()),
            ("source_image", source.to_string()),
            ("os_distro", "ubuntu".into()),
            ("os_version", "22.04".into()),
            ("packer_run_uuid", run_uuid),
            ("manifest_schema_version", "1.0".into()),
            ("hw_qemu_guest_agent", "yes".into()),
        ];
        img.properties = props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        img.tags = vec!["rke2-node".into(), format!("rke2-node-{series}")];
        img
    }

    fn bulk_builds(&mut self, count: usize, unique_names: bool) {
        #[allow(clippy::needless_range_loop)]
        for i in 0..count {
            // Spread evenly over 300..1 days ago, with a little jitter.
            let span = 298 * i as u64 / (count.max(2) as u64 - 1);
            let mut days = (300 - span).clamp(2, 300);
            let active: Vec<usize> = (0..SERIES.len())
                .filter(|&s| SERIES[s].1 >= days && days >= SERIES[s].2)
                .collect();
            let series = if i < SERIES.len() {
                // Every series has at least one build.
                days = SERIES[i].2.max(days.min(SERIES[i].1));
                i
            } else if active.is_empty() {
                0
            } else {
                *self.rng.pick(&active)
            };
            let fips = self.rng.below(4) == 0;
            let mut img = self.build(series, days, fips);
            let mut tries = 0;
            while unique_names && self.names.contains(&img.name) && tries < 6 {
                days = if days > SERIES[series].2 {
                    days - 1
                } else {
                    days + 1
                };
                img = self.build(series, days, fips);
                tries += 1;
            }
            if i % 7 == 3 {
                img.visibility = "private".into();
            }
            if i % 15 == 5 {
                img.protected = true;
            }
            self.push(img);
        }
        // The newest v1.27 build is pinned by the operators.
        if let Some(pinned) = self
            .images
            .iter_mut()
            .filter(|i| i.name.starts_with("rke2-node-v1.27-"))
            .max_by_key(|i| i.created_at)
        {
            pinned.protected = true;
        }
    }

    fn special_images(&mut self) {
        // Packer's createImage that never finished uploading.
        let mut queued = self.build(2, 1, false);
        queued.status = "queued".into();
        queued.size = None;
        queued.checksum = None;
        // An upload that failed.
        let mut killed = self.build(1, 12, true);
        killed.status = "killed".into();
        killed.size = None;
        killed.checksum = None;
        // Uploaded by hand: no series, no date.
        let mut manual = self.build(1, 45, false);
        manual.name = "rke2-node-manual-test".into();
        manual.visibility = "private".into();
        manual.tags.clear();
        manual.properties.retain(|k, _| k.starts_with("os_"));
        // A copy re-uploaded 40 days after the build its name dates.
        let mut copied = self.build(1, 150, false);
        copied.created_at += chrono::Duration::days(40);
        copied.updated_at = copied.created_at + chrono::Duration::seconds(300);
        copied.visibility = "shared".into();
        // A rebuild on the same day: two images share a name (CAPO refuses such a name).
        let newest = self
            .images
            .iter()
            .filter(|i| i.name.starts_with("rke2-node-v1.29-") && i.status == "active")
            .max_by_key(|i| i.created_at)
            .cloned();
        for img in [queued, killed, manual, copied] {
            self.push(img);
        }
        if let Some(orig) = newest {
            let mut dup = orig.clone();
            dup.id = self.rng.uuid();
            dup.checksum = Some(self.rng.hex(32));
            dup.properties
                .insert("packer_run_uuid".into(), self.rng.uuid());
            dup.created_at = orig.created_at + chrono::Duration::minutes(47);
            dup.updated_at = dup.created_at + chrono::Duration::seconds(300);
            dup.visibility = "community".into();
            self.push(dup);
        }
    }
}
