//! The fleet's servers and volumes: a few clusters (control plane and workers, some mid-upgrade
//! on a newer image) in the admin's and in other projects, a boot-from-volume bastion whose image
//! is used only through its volume, a jump host, and plain data volumes.

use chrono::{DateTime, NaiveDate, Utc};

use super::generate::at;
use super::{FleetImage, FleetServer, FleetSize, FleetVolume, Project, User};
use crate::sim::rng::Rng;

/// (name, project index, series, days ago of its image, control planes, workers).
const CLUSTERS: &[(&str, usize, &str, u64, usize, usize)] = &[
    ("prod-east", 1, "v1.28", 75, 3, 5),
    ("blue-dev", 2, "v1.29", 20, 1, 2),
    ("mgmt", 0, "v1.27", 200, 3, 0),
    ("green-stage", 3, "v1.28", 30, 1, 3),
];

struct Out<'a> {
    rng: Rng,
    today: NaiveDate,
    projects: &'a [Project],
    users: &'a [User],
    servers: Vec<FleetServer>,
    volumes: Vec<FleetVolume>,
}

/// The active `rke2-node-<series>-*` image created closest to `days_ago`, skipping `avoid`.
fn pick<'a>(
    images: &'a [FleetImage],
    today: NaiveDate,
    series: &str,
    days_ago: u64,
    avoid: &[&str],
) -> Option<&'a FleetImage> {
    let prefix = format!("rke2-node-{series}-");
    let target = today
        .checked_sub_days(chrono::Days::new(days_ago))
        .unwrap_or(today);
    images
        .iter()
        .filter(|i| i.name.starts_with(&prefix) && i.status == "active")
        .filter(|i| !avoid.contains(&i.id.as_str()))
        .min_by_key(|i| (i.created_at.date_naive() - target).num_days().abs())
}

impl Out<'_> {
    fn user_of(&self, project: usize) -> String {
        let pid = &self.projects[project].id;
        self.users
            .iter()
            .find(|u| &u.project_id == pid)
            .unwrap_or(&self.users[0])
            .id
            .clone()
    }

    #[allow(clippy::too_many_arguments)]
    fn server(
        &mut self,
        name: String,
        project: usize,
        image: Option<&FleetImage>,
        flavor: &str,
        cluster: Option<&str>,
        not_before: DateTime<Utc>,
        net: (usize, usize),
    ) -> usize {
        let days_since = (self.today - not_before.date_naive()).num_days().max(1) as u64;
        let ago = 1 + self.rng.below(days_since);
        let created = at(&mut self.rng, self.today, ago);
        self.servers.push(FleetServer {
            id: self.rng.uuid(),
            name,
            project_id: self.projects[project].id.clone(),
            user_id: self.user_of(project),
            image_id: image.map(|i| i.id.clone()),
            flavor_id: super::flavor_id(flavor).to_string(),
            status: "ACTIVE".into(),
            created_at: created.max(not_before),
            address: (
                "tenant-net".into(),
                format!("10.20.{}.{}", net.0 % 250, 10 + net.1 % 240),
            ),
            cluster: cluster.map(str::to_string),
            volumes: Vec::new(),
        });
        self.servers.len() - 1
    }

    fn volume(
        &mut self,
        name: String,
        project: usize,
        size_gb: u32,
        image: Option<&FleetImage>,
        server: Option<usize>,
    ) {
        let id = self.rng.uuid();
        let created = match server {
            Some(s) => self.servers[s].created_at,
            None => {
                let ago = 5 + self.rng.below(60);
                at(&mut self.rng, self.today, ago)
            }
        };
        let attached_to = server.map(|s| self.servers[s].id.clone());
        if let Some(s) = server {
            self.servers[s].volumes.push(id.clone());
        }
        self.volumes.push(FleetVolume {
            id,
            name,
            project_id: self.projects[project].id.clone(),
            size_gb,
            status: if server.is_some() {
                "in-use"
            } else {
                "available"
            }
            .into(),
            image: image.map(|i| (i.id.clone(), i.name.clone())),
            attached_to,
            created_at: created,
        });
    }
}

/// Servers and volumes for the fleet's images.
pub(super) fn servers(
    rng: Rng,
    today: NaiveDate,
    size: FleetSize,
    projects: &[Project],
    users: &[User],
    images: &[FleetImage],
) -> (Vec<FleetServer>, Vec<FleetVolume>) {
    let mut o = Out {
        rng,
        today,
        projects,
        users,
        servers: Vec::new(),
        volumes: Vec::new(),
    };
    let mut used: Vec<&str> = Vec::new();
    for c in 0..size.clusters() {
        let (name, project, series, days, cps, workers) = match CLUSTERS.get(c) {
            Some(&(n, p, s, d, cp, w)) => (n.to_string(), p, s, d, cp, w),
            None => {
                let s = ["v1.27", "v1.28", "v1.29"][c % 3];
                let d = 5 + o.rng.below(110);
                (format!("cluster-{c:02}"), c % projects.len(), s, d, 3, 4)
            }
        };
        let Some(image) = pick(images, today, series, days, &[]) else {
            continue;
        };
        // Half the workers already run a newer build of the same series (a rolling upgrade).
        let newer = pick(images, today, series, days / 3, &[]).filter(|i| i.id != image.id);
        used.push(&image.id);
        for i in 0..cps {
            let s = o.server(
                format!("{name}-cp-{i}"),
                project,
                Some(image),
                "k8s.control",
                Some(&name),
                image.created_at,
                (c, i),
            );
            o.volume(format!("{name}-cp-{i}-etcd"), project, 20, None, Some(s));
        }
        for w in 0..workers {
            let img = match newer {
                Some(n) if w % 2 == 1 => n,
                _ => image,
            };
            used.push(&img.id);
            let suffix = o.rng.hex(5);
            o.server(
                format!("{name}-md-0-{suffix}"),
                project,
                Some(img),
                "k8s.worker",
                Some(&name),
                img.created_at,
                (c, cps + w),
            );
        }
    }
    if let Some(s) = o.servers.iter_mut().find(|s| s.name.contains("-md-0-")) {
        s.status = "SHUTOFF".into();
    }
    if let Some(s) = o
        .servers
        .iter_mut()
        .rev()
        .find(|s| s.name.contains("-md-0-"))
    {
        s.status = "ERROR".into();
    }
    // Boot from volume: the image is in use only through the volume's volume_image_metadata.
    if let Some(img) = pick(images, today, "v1.28", 100, &used) {
        let s = o.server(
            "blue-bastion".into(),
            2,
            None,
            "m1.medium",
            None,
            img.created_at,
            (251, 5),
        );
        o.volume("blue-bastion-boot".into(), 2, 40, Some(img), Some(s));
    }
    if let Some(base) = images.iter().find(|i| i.name == "ubuntu-22.04") {
        let s = o.server(
            "jumphost".into(),
            0,
            Some(base),
            "m1.small",
            None,
            base.created_at,
            (252, 1),
        );
        o.volume("jumphost-home".into(), 0, 10, None, Some(s));
        o.volume("scratch-ubuntu".into(), 1, 20, Some(base), None);
    }
    (o.servers, o.volumes)
}
