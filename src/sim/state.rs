//! The simulated cloud's mutable state behind one lock: images (with pending status changes),
//! servers (with their build and stop timelines and SSH endpoints), volumes, keypairs, floating
//! IPs and issued tokens. Status transitions happen on read, against the injected clock.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::fleet::{Fleet, FleetImage, FleetServer, FleetVolume};
use super::rng::Rng;

/// How long the simulated cloud takes for things that take time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// A new server stays in BUILD this long.
    pub server_build: Duration,
    /// `os-stop` takes this long to reach SHUTOFF.
    pub server_stop: Duration,
    /// A `createImage` snapshot stays queued/saving this long before it is active.
    pub image_save: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            server_build: Duration::from_millis(1500),
            server_stop: Duration::from_millis(500),
            image_save: Duration::from_secs(2),
        }
    }
}

/// A server as the simulator keeps it.
#[derive(Debug, Clone)]
pub struct SimServer {
    /// The fleet's fields.
    pub base: FleetServer,
    /// BUILD until this time.
    pub ready_at: Option<DateTime<Utc>>,
    /// SHUTOFF from this time (after `os-stop`).
    pub stop_at: Option<DateTime<Utc>>,
    /// Where its SSH daemon listens, when one was attached.
    pub ssh: Option<SocketAddr>,
    /// The keypair it was created with.
    pub key_name: Option<String>,
    /// Server metadata.
    pub metadata: BTreeMap<String, String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl SimServer {
    /// The status now: BUILD, then the stored status, SHUTOFF once a stop completed.
    pub fn status(&self, now: DateTime<Utc>) -> &str {
        if self.ready_at.is_some_and(|t| now < t) {
            return "BUILD";
        }
        if self.stop_at.is_some_and(|t| now >= t) {
            return "SHUTOFF";
        }
        &self.base.status
    }

    /// Nova's task_state now.
    pub fn task_state(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if self.ready_at.is_some_and(|t| now < t) {
            Some("spawning")
        } else if self.stop_at.is_some_and(|t| now < t) {
            Some("powering-off")
        } else {
            None
        }
    }
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Token {
    /// Issue order (revocation cuts by it).
    pub serial: u64,
    /// User index into `Fleet::users`.
    pub user: usize,
    /// Project index, when project-scoped.
    pub project: Option<usize>,
    /// Domain-scoped (no project).
    pub domain_scoped: bool,
    /// Issue time.
    pub issued_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// `password`, `application_credential`, `token`.
    pub methods: Vec<String>,
    /// The admin role (user is admin).
    pub admin: bool,
    /// Who the token is, when an external Keystone issued it (hybrid mode): then `user` and
    /// `project` mean nothing and the ids come from here.
    pub external: Option<std::sync::Arc<ExternalIdentity>>,
}

/// A token's identity as an external Keystone told it (hybrid mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// User id.
    pub user_id: String,
    /// Project id ("" when the token is not project-scoped).
    pub project_id: String,
    /// Role names (implied roles included, as Keystone lists them).
    pub roles: Vec<String>,
    /// The public `image` endpoint of the token's catalog, when it has one.
    pub glance: Option<String>,
}

/// A Nova keypair.
#[derive(Debug, Clone)]
pub struct Keypair {
    /// Name.
    pub name: String,
    /// The public key (OpenSSH format).
    pub public_key: String,
    /// Fingerprint shown by Nova.
    pub fingerprint: String,
    /// Owner.
    pub user_id: String,
}

/// A Neutron floating IP.
#[derive(Debug, Clone)]
pub struct FloatingIp {
    /// Id.
    pub id: String,
    /// Address.
    pub address: String,
    /// The external network.
    pub network_id: String,
    /// Owner project.
    pub project_id: String,
    /// The port (server) it is associated with.
    pub port_id: Option<String>,
}

/// Images by id, with each image's Glance JSON rendered once and kept until it changes (a page of
/// 1000 images is then a concatenation, not 1000 renderings).
#[derive(Debug, Default)]
pub struct ImageStore {
    map: HashMap<String, FleetImage>,
    json: HashMap<String, Bytes>,
}

impl ImageStore {
    /// An image.
    pub fn get(&self, id: &str) -> Option<&FleetImage> {
        self.map.get(id)
    }

    /// An image to change (its cached JSON is dropped).
    pub fn get_mut(&mut self, id: &str) -> Option<&mut FleetImage> {
        self.json.remove(id);
        self.map.get_mut(id)
    }

    /// Adds or replaces an image.
    pub fn insert(&mut self, id: String, img: FleetImage) {
        self.json.remove(&id);
        self.map.insert(id, img);
    }

    /// Removes an image.
    pub fn remove(&mut self, id: &str) -> Option<FleetImage> {
        self.json.remove(id);
        self.map.remove(id)
    }

    /// True when the id exists.
    pub fn contains_key(&self, id: &str) -> bool {
        self.map.contains_key(id)
    }

    /// Every image.
    pub fn values(&self) -> impl Iterator<Item = &FleetImage> {
        self.map.values()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The Glance JSON of an image, rendered on first use.
    pub fn json(&mut self, id: &str) -> Option<Bytes> {
        if let Some(b) = self.json.get(id) {
            return Some(b.clone());
        }
        let img = self.map.get(id)?;
        let b = Bytes::from(serde_json::to_vec(&super::glance::image_json(img)).ok()?);
        self.json.insert(id.to_string(), b.clone());
        Some(b)
    }
}

impl FromIterator<(String, FleetImage)> for ImageStore {
    fn from_iter<T: IntoIterator<Item = (String, FleetImage)>>(iter: T) -> Self {
        ImageStore {
            map: iter.into_iter().collect(),
            json: HashMap::new(),
        }
    }
}

/// Everything that changes. (No `Debug`: it holds the issued tokens.)
pub struct CloudState {
    /// Images by id.
    pub images: ImageStore,
    /// Image id -> (time, status it takes then), for snapshots being saved.
    pub image_timeline: HashMap<String, Vec<(DateTime<Utc>, &'static str)>>,
    /// Servers by id.
    pub servers: BTreeMap<String, SimServer>,
    /// Volumes by id.
    pub volumes: BTreeMap<String, FleetVolume>,
    /// Keypairs by name.
    pub keypairs: BTreeMap<String, Keypair>,
    /// Floating IPs by id.
    pub floating_ips: BTreeMap<String, FloatingIp>,
    /// Tokens by value.
    pub tokens: HashMap<String, Token>,
    /// The next token serial.
    pub token_serial: u64,
    /// Ids for things created at run time.
    pub rng: Rng,
    /// SSH endpoint given to servers created from now on.
    pub ssh_for_new: Option<SocketAddr>,
    /// The next fixed IP's last octet for new servers.
    pub next_ip: u32,
}

impl CloudState {
    /// The state a fleet starts in.
    pub fn new(fleet: &Fleet) -> Self {
        let images = fleet
            .images
            .iter()
            .map(|i| (i.id.clone(), i.clone()))
            .collect();
        let servers = fleet
            .servers
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    SimServer {
                        base: s.clone(),
                        ready_at: None,
                        stop_at: None,
                        ssh: None,
                        key_name: None,
                        metadata: s
                            .cluster
                            .iter()
                            .map(|c| ("cluster".to_string(), c.clone()))
                            .collect(),
                        updated_at: s.created_at,
                    },
                )
            })
            .collect();
        let volumes = fleet
            .volumes
            .iter()
            .map(|v| (v.id.clone(), v.clone()))
            .collect();
        CloudState {
            images,
            image_timeline: HashMap::new(),
            servers,
            volumes,
            keypairs: BTreeMap::new(),
            floating_ips: BTreeMap::new(),
            tokens: HashMap::new(),
            token_serial: 1,
            rng: Rng::new(fleet.seed, 99),
            ssh_for_new: None,
            next_ip: 100,
        }
    }

    /// Applies the status changes due by `now` (snapshots becoming active).
    pub fn settle(&mut self, now: DateTime<Utc>) {
        if self.image_timeline.is_empty() {
            return;
        }
        let mut done = Vec::new();
        for (id, steps) in &mut self.image_timeline {
            while steps.first().is_some_and(|(t, _)| *t <= now) {
                let (t, status) = steps.remove(0);
                if let Some(img) = self.images.get_mut(id) {
                    img.status = status.to_string();
                    img.updated_at = t;
                    if status == "active" && img.size.is_none() {
                        img.size = Some(2_147_483_648);
                        img.checksum = Some(self.rng.hex(32));
                    }
                }
            }
            if steps.is_empty() {
                done.push(id.clone());
            }
        }
        for id in done {
            self.image_timeline.remove(&id);
        }
    }

    /// Servers (not deleted) and volumes whose image is `image_id`: (servers, volumes).
    pub fn usage_of(&self, image_id: &str) -> (usize, usize) {
        let servers = self
            .servers
            .values()
            .filter(|s| s.base.image_id.as_deref() == Some(image_id))
            .count();
        let volumes = self
            .volumes
            .values()
            .filter(|v| v.image.as_ref().is_some_and(|(id, _)| id == image_id))
            .count();
        (servers, volumes)
    }
}
