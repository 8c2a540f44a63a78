//! The seeded fleet: projects, users, flavors, networks, images, servers and volumes of the
//! simulated cloud, and the builds behind the images, as plain data. [`Fleet::generate`] is a pure function of (seed, today, size),
//! so the demo's build history, the Images view and the Nodes view can all be derived from the
//! same values and tell one story.

mod generate;
mod servers;
mod size;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

pub use size::{FleetSize, FleetSizeError};

/// A Keystone project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Project id (32 hex characters, as Keystone makes them).
    pub id: String,
    /// Project name.
    pub name: String,
}

/// A Keystone user; passwords are not part of the fleet (the running simulator makes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub id: String,
    /// User name.
    pub name: String,
    /// The project the user is scoped to by default.
    pub project_id: String,
    /// Holds the `admin` role (sees all projects in Nova and Cinder).
    pub admin: bool,
}

/// The fleet's flavors: (id, name, vCPUs, RAM MiB, disk GiB). The `m1.*` family has Nova's own
/// default ids (`2`, `3`, `4`), so a client that names a flavor must look its id up (packer asks
/// `GET /flavors/<name>`, gets a 404, then lists `/flavors/detail`); the `k8s.*` flavors have
/// their name as their id, as operators often create them (`--id k8s.worker`).
pub const FLAVORS: &[(&str, &str, u32, u32, u32)] = &[
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("k8s.control", "k8s.control", 4, 8192, 60),
    ("k8s.worker", "k8s.worker", 8, 16384, 100),
];

/// The id of the fleet's flavor named `name` (the name itself when there is none).
pub fn flavor_id(name: &str) -> &str {
    FLAVORS.iter().find(|f| f.1 == name).map_or(name, |f| f.0)
}

/// A Nova flavor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    /// Flavor id.
    pub id: String,
    /// Flavor name.
    pub name: String,
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in MiB.
    pub ram_mb: u32,
    /// Root disk in GiB.
    pub disk_gb: u32,
}

/// A Neutron network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Network id.
    pub id: String,
    /// Network name.
    pub name: String,
    /// `router:external` (a floating IP pool).
    pub external: bool,
    /// Owning project.
    pub project_id: String,
    /// The subnet's CIDR prefix, e.g. `10.20.0` (servers get `.10` upwards).
    pub prefix: String,
}

/// A Glance image.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetImage {
    /// Image id.
    pub id: String,
    /// Image name.
    pub name: String,
    /// `active`, `queued`, `killed`, ...
    pub status: String,
    /// `public`, `private`, `shared` or `community`.
    pub visibility: String,
    /// Glance refuses to delete it.
    pub protected: bool,
    /// Owning project id.
    pub owner: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// Bytes, when uploaded.
    pub size: Option<u64>,
    /// `qcow2`, `raw`, ...
    pub disk_format: String,
    /// `bare`.
    pub container_format: String,
    /// MD5 of the data, when uploaded.
    pub checksum: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom properties (the template's provenance map and friends).
    pub properties: BTreeMap<String, String>,
}

/// A Nova server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetServer {
    /// Server id.
    pub id: String,
    /// Server name.
    pub name: String,
    /// Owning project id.
    pub project_id: String,
    /// Creating user id.
    pub user_id: String,
    /// Image id; None when booted from a volume (Nova then shows `"image": ""`).
    pub image_id: Option<String>,
    /// Flavor id.
    pub flavor_id: String,
    /// `ACTIVE`, `SHUTOFF`, `ERROR`, ...
    pub status: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Network name and fixed IPv4 address.
    pub address: (String, String),
    /// The cluster it belongs to, when any (also in its metadata).
    pub cluster: Option<String>,
    /// Volumes attached (boot volume first).
    pub volumes: Vec<String>,
}

/// A Cinder volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetVolume {
    /// Volume id.
    pub id: String,
    /// Volume name.
    pub name: String,
    /// Owning project id.
    pub project_id: String,
    /// GiB.
    pub size_gb: u32,
    /// `in-use` or `available`.
    pub status: String,
    /// The image it was created from (`volume_image_metadata.image_id`), if any.
    pub image: Option<(String, String)>,
    /// The server it is attached to.
    pub attached_to: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A build the fleet's images came from (for the demo's History: the same story as Images).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetBuild {
    /// `packer_run_uuid`.
    pub run_uuid: String,
    /// The image it made (id, name).
    pub image: (String, String),
    /// When the image was created (the build's end).
    pub finished_at: DateTime<Utc>,
    /// `kubernetes_version`, e.g. `v1.28.9`.
    pub kubernetes_version: String,
    /// FIPS build.
    pub fips: bool,
    /// The source image.
    pub source_image: String,
    /// True when the image became active (a queued or killed image is a failed build).
    pub succeeded: bool,
}

/// Everything the simulator starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    /// The seed it was made from.
    pub seed: u64,
    /// The "today" it was made for (every creation time is before it).
    pub today: NaiveDate,
    /// The size asked for.
    pub size: FleetSize,
    /// Projects; the first is `admin`.
    pub projects: Vec<Project>,
    /// Users; the first is `admin` (admin role), the second `operator` (member of `platform`).
    pub users: Vec<User>,
    /// Flavors.
    pub flavors: Vec<Flavor>,
    /// Networks; the first is the tenant network, an external one follows.
    pub networks: Vec<Network>,
    /// Images, oldest first.
    pub images: Vec<FleetImage>,
    /// Servers.
    pub servers: Vec<FleetServer>,
    /// Volumes.
    pub volumes: Vec<FleetVolume>,
}

/// The provenance property names the template writes (`local.provenance` in
/// stages/rke2-node.pkr.hcl), plus the guest agent flag it merges in.
pub const PROVENANCE_PROPERTIES: &[&str] = &[
    "kubernetes_version",
    "rke2_version",
    "build_date",
    "fips_enabled",
    "source_image",
    "os_distro",
    "os_version",
    "packer_run_uuid",
    "manifest_schema_version",
];

impl Fleet {
    /// The fleet for (seed, today, size): the same arguments always give the same fleet.
    pub fn generate(seed: u64, today: NaiveDate, size: FleetSize) -> Fleet {
        generate::generate(seed, today, size)
    }

    /// A project by name.
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name == name)
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The images whose name starts with `rke2-node-`.
    pub fn rke2_images(&self) -> impl Iterator<Item = &FleetImage> {
        self.images
            .iter()
            .filter(|i| i.name.starts_with("rke2-node-"))
    }

    /// The builds behind the images that carry the template's provenance, oldest first.
    pub fn builds(&self) -> Vec<FleetBuild> {
        self.images
            .iter()
            .filter_map(|i| {
                let p = |k: &str| i.properties.get(k).cloned();
                Some(FleetBuild {
                    run_uuid: p("packer_run_uuid")?,
                    image: (i.id.clone(), i.name.clone()),
                    finished_at: i.created_at,
                    kubernetes_version: p("kubernetes_version")?,
                    fips: p("fips_enabled").is_some_and(|v| v == "true"),
                    source_image: p("source_image")?,
                    succeeded: i.status == "active",
                })
            })
            .collect()
    }

    /// Servers booted from `image_id` (directly, not through a volume).
    pub fn servers_using(&self, image_id: &str) -> impl Iterator<Item = &FleetServer> {
        self.servers
            .iter()
            .filter(move |s| s.image_id.as_deref() == Some(image_id))
    }

    /// Volumes whose `volume_image_metadata` names `image_id`.
    pub fn volumes_from(&self, image_id: &str) -> impl Iterator<Item = &FleetVolume> {
        self.volumes
            .iter()
            .filter(move |v| v.image.as_ref().is_some_and(|(id, _)| id == image_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    #[test]
    fn the_fleet_is_a_pure_function_of_its_arguments() {
        let a = Fleet::generate(42, today(), FleetSize::Demo);
        assert_eq!(a, Fleet::generate(42, today(), FleetSize::Demo));
        assert_ne!(
            a.images,
            Fleet::generate(43, today(), FleetSize::Demo).images
        );
        let moved = Fleet::generate(42, today().succ_opt().unwrap(), FleetSize::Demo);
        assert_ne!(a.images[0].created_at, moved.images[0].created_at);
        assert_eq!(
            Fleet::generate(1, today(), FleetSize::Large).images.len(),
            5_000
        );
        assert_eq!(
            Fleet::generate(1, today(), FleetSize::Images(300))
                .images
                .len(),
            300
        );
    }

    #[test]
    fn the_demo_fleet_has_every_case_the_console_must_handle() {
        let f = Fleet::generate(42, today(), FleetSize::Demo);
        let start_of_today = today().and_hms_opt(0, 0, 0).unwrap().and_utc();
        assert!(f.images.iter().all(|i| i.created_at < start_of_today));
        let oldest = f.rke2_images().map(|i| i.created_at).min().unwrap();
        assert!(
            (start_of_today - oldest).num_days() >= 290,
            "spread over 300 days"
        );
        for series in ["v1.27", "v1.28", "v1.29"] {
            assert!(
                f.rke2_images()
                    .any(|i| i.name.starts_with(&format!("rke2-node-{series}-"))),
                "{series}"
            );
        }
        let status = |s: &str| f.images.iter().filter(|i| i.status == s).count();
        assert_eq!((status("queued"), status("killed")), (1, 1));
        assert!(f.images.iter().any(|i| i.name == "rke2-node-manual-test"));
        assert!(
            f.images
                .iter()
                .any(|i| i.name == "ubuntu-22.04" && i.visibility == "public")
        );
        assert!(
            f.images
                .iter()
                .any(|i| i.properties.get("ubuntu_pro").is_some_and(|v| v == "true"))
        );
        assert!(
            f.images.iter().any(|i| i.name == "rke2-nodepool-legacy"),
            "prefix trap"
        );
        let mismatch = f.rke2_images().filter(|i| {
            i.properties
                .get("build_date")
                .is_some_and(|d| *d != i.created_at.date_naive().to_string())
        });
        assert_eq!(
            mismatch.count(),
            1,
            "one image whose name date disagrees with created_at"
        );
        let fips = f.rke2_images().filter(|i| {
            i.properties
                .get("fips_enabled")
                .is_some_and(|v| v == "true")
        });
        assert!(fips.count() >= 3);
        assert!(f.rke2_images().filter(|i| i.protected).count() >= 2);
        for img in f
            .rke2_images()
            .filter(|i| i.name != "rke2-node-manual-test")
        {
            for p in PROVENANCE_PROPERTIES {
                assert!(img.properties.contains_key(*p), "{} lacks {p}", img.name);
            }
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        for i in f.rke2_images() {
            *names.entry(&i.name).or_default() += 1;
        }
        assert_eq!(
            names.values().filter(|n| **n > 1).count(),
            1,
            "one duplicated name"
        );
        // In use: by servers in the admin's project and in others; one only through a volume.
        let admin = &f.projects[0].id;
        let used_by = |pred: &dyn Fn(&FleetServer) -> bool| {
            f.rke2_images()
                .filter(|i| f.servers_using(&i.id).any(pred))
                .count()
        };
        assert!(used_by(&|s| &s.project_id == admin) >= 1);
        assert!(used_by(&|s| &s.project_id != admin) >= 2);
        let volume_only: Vec<_> = f
            .rke2_images()
            .filter(|i| f.servers_using(&i.id).count() == 0 && f.volumes_from(&i.id).count() > 0)
            .collect();
        assert_eq!(volume_only.len(), 1);
        assert!(
            f.servers.iter().any(|s| s.image_id.is_none()),
            "a boot-from-volume server"
        );
        assert!(f.servers.iter().filter(|s| s.cluster.is_some()).count() >= 12);
        assert!(f.user("operator").is_some_and(|u| !u.admin));
        let builds = f.builds();
        assert_eq!(
            builds.len(),
            f.rke2_images().count() - 1,
            "all but the hand upload"
        );
        assert_eq!(
            builds.iter().filter(|b| !b.succeeded).count(),
            2,
            "the queued and the killed"
        );
        assert!(
            builds
                .windows(2)
                .all(|w| w[0].finished_at <= w[1].finished_at)
        );
        let runs: std::collections::HashSet<&str> =
            builds.iter().map(|b| b.run_uuid.as_str()).collect();
        assert_eq!(runs.len(), builds.len(), "one run per image");
    }
}
