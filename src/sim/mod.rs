//! `kiln sim`: an in-process simulated OpenStack that real clients accept (python-openstackclient,
//! Packer's openstack builder, kiln's own client). One loopback port serves Keystone v3
//! (`/identity`), Glance v2 (`/image`), Nova 2.1 (`/compute`), Cinder v3 (`/volume`) and Neutron
//! (`/network`) over a deterministic seeded [`fleet::Fleet`], with fault knobs that can be turned
//! while it runs, and gates that hold chosen requests until a test lets them through.
//!
//! In hybrid mode ([`SimConfig::external_keystone`], `kiln sim --external-keystone URL`) its Nova
//! and Cinder also serve the tokens of a REAL Keystone and boot servers from the images of the
//! Glance in that Keystone's catalog (see [`hybrid`]); register [`Sim::compute_endpoint`] and
//! [`Sim::volume_endpoint`] in that catalog. The simulated cloud then starts without servers
//! and volumes (the fleet's ones name the simulator's own images); its own Keystone, Glance and
//! Neutron keep working.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kiln::sim::SimError> {
//! use kiln::sim::{SimConfig, start};
//! let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
//! let sim = start(SimConfig::new(42, today)).await?;
//! let config = sim.cloud_config(sim.admin()); // for kiln::cloud::CloudClient::connect
//! sim.faults().set_error_rate(0.2);
//! sim.stop().await;
//! # Ok(()) }
//! ```

mod cinder;
mod command;
pub mod core;
mod creds;
pub mod faults;
pub mod fleet;
pub mod gate;
pub mod glance;
pub mod http;
pub mod hybrid;
mod keygen;
mod keystone;
mod neutron;
mod nova;
mod page;
mod peek;
pub mod rng;
mod secret;
mod server;
pub mod ssh;
pub mod state;
mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

pub use command::{SimArgs, run_foreground};
pub use core::{RequestRecord, SimEvent};
pub use creds::SimCredentials;
pub use faults::{DeleteInUse, FaultSettings, Faults, Service};
pub use fleet::{Fleet, FleetSize};
pub use gate::{Gate, Held};
pub use ssh::{NodeKind, SshNodeError, SshNodeInfo};
pub use state::Timings;
pub use tls::SimTls;

use crate::clock::{Clock, SystemClock};
use crate::cloud::config::{AuthMethod, CloudConfig, IdOrName, Origin, ProjectScope, Secret, Tls};
use core::{Core, UserSecret};

/// The simulator's region.
pub const REGION: &str = "RegionOne";
/// The cloud name in the clouds.yaml it writes.
pub const CLOUD_NAME: &str = "kiln-sim";

/// How to start a simulator.
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of the fleet and of the 5xx draws.
    pub seed: u64,
    /// The fleet's "today".
    pub today: NaiveDate,
    /// Fleet size.
    pub fleet: FleetSize,
    /// Port on 127.0.0.1 (0: a free one).
    pub port: u16,
    /// Initial faults.
    pub faults: FaultSettings,
    /// Status change timings.
    pub timings: Timings,
    /// Time (token expiry, status transitions).
    pub clock: Arc<dyn Clock>,
    /// Serve HTTPS with this certificate (None: plain HTTP).
    pub tls: Option<SimTls>,
    /// Hybrid mode: the v3 URL of a real Keystone whose tokens Nova and Cinder accept.
    pub external_keystone: Option<String>,
}

impl SimConfig {
    /// A demo-sized fleet for `seed` and `today`, on a free port, without faults.
    pub fn new(seed: u64, today: NaiveDate) -> Self {
        SimConfig {
            seed,
            today,
            fleet: FleetSize::Demo,
            port: 0,
            faults: FaultSettings::default(),
            timings: Timings::default(),
            clock: Arc::new(SystemClock),
            tls: None,
            external_keystone: None,
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// Hybrid mode cannot be set up.
    #[error("hybrid mode: {0}")]
    Hybrid(#[from] hybrid::HybridError),
    /// The SSH nodes could not start.
    #[error("SSH nodes: {0}")]
    Ssh(#[from] SshNodeError),
    /// The clouds.yaml could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A running simulator. Dropping it stops the server too; [`Sim::stop`] waits for that.
pub struct Sim {
    core: Arc<Core>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    /// The SSH nodes' accept loops, once started.
    ssh: Mutex<Option<Vec<JoinHandle<()>>>>,
}

/// Starts a simulator on 127.0.0.1 and returns once it accepts connections.
pub async fn start(config: SimConfig) -> Result<Sim, SimError> {
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .map_err(|source| SimError::Bind {
            port: config.port,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        port: config.port,
        source,
    })?;
    let acceptor = config
        .tls
        .as_ref()
        .map(tls::acceptor)
        .transpose()
        .map_err(SimError::Tls)?;
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    let fleet = Arc::new(Fleet::generate(config.seed, config.today, config.fleet));
    let secrets = fleet
        .users
        .iter()
        .map(|_| UserSecret {
            password: secret::random_hex(24),
            app_cred: (secret::random_hex(32), secret::random_hex(40)),
        })
        .collect();
    let (events, _) = broadcast::channel(1024);
    let external = config
        .external_keystone
        .as_deref()
        .map(hybrid::ExternalKeystone::new)
        .transpose()?;
    let mut cloud = state::CloudState::new(&fleet);
    if external.is_some() {
        cloud.servers.clear();
        cloud.volumes.clear();
    }
    let core = Arc::new(Core {
        base: format!("{scheme}://{addr}"),
        state: Mutex::new(cloud),
        fleet,
        faults: Arc::new(Faults::new(&config.faults)),
        clock: config.clock.clone(),
        timings: config.timings,
        secrets,
        region: REGION.to_string(),
        events,
        requests: Mutex::new(Vec::new()),
        draws: std::sync::atomic::AtomicU64::new(0),
        gates: gate::Gates::default(),
        hybrid: external,
    });
    let (stop, stop_rx) = watch::channel(false);
    let task = tokio::spawn(server::serve(listener, core.clone(), stop_rx, acceptor));
    Ok(Sim {
        core,
        addr,
        stop,
        task: Some(task),
        ssh: Mutex::new(None),
    })
}

impl Sim {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.core.base
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Keystone's URL, `http://127.0.0.1:PORT/identity/v3`.
    pub fn auth_url(&self) -> String {
        self.core.auth_url()
    }

    /// Nova's endpoint for a catalog, `http://127.0.0.1:PORT/compute/v2.1`.
    pub fn compute_endpoint(&self) -> String {
        format!("{}/compute/v2.1", self.core.base)
    }

    /// Cinder's endpoint for a Keystone catalog, with Keystone's project substitution:
    /// `http://127.0.0.1:PORT/volume/v3/%(project_id)s`.
    pub fn volume_endpoint(&self) -> String {
        format!("{}/volume/v3/%(project_id)s", self.core.base)
    }

    /// In hybrid mode, the external Keystone's v3 URL.
    pub fn external_keystone(&self) -> Option<&str> {
        self.core.hybrid.as_ref().map(|h| h.url())
    }

    /// Holds every `method` `path` request to `service` (the path below the service prefix,
    /// e.g. `/v2.1/servers/detail`) until the test releases it; see [`gate`].
    pub fn hold(&self, service: Service, method: &str, path: &str) -> Gate {
        self.core.gates.add(service, method, path)
    }

    /// The seeded fleet (as it started; see [`Sim::snapshot`] for now).
    pub fn fleet(&self) -> &Fleet {
        &self.core.fleet
    }

    /// The fault knobs.
    pub fn faults(&self) -> &Faults {
        &self.core.faults
    }

    /// Revokes every token issued so far: their next use gets 401.
    pub fn expire_tokens(&self) {
        let next = self
            .core
            .state
            .lock()
            .map(|s| s.token_serial)
            .unwrap_or(u64::MAX);
        self.core.faults.expire_tokens(next);
    }

    /// Credentials of user `name` (`admin`, `operator`, `blue-dev`).
    pub fn credentials(&self, name: &str) -> Option<SimCredentials> {
        let i = self.core.fleet.users.iter().position(|u| u.name == name)?;
        let user = &self.core.fleet.users[i];
        let project = self
            .core
            .fleet
            .projects
            .iter()
            .find(|p| p.id == user.project_id)?;
        let s = &self.core.secrets[i];
        Some(SimCredentials {
            auth_url: self.auth_url(),
            username: user.name.clone(),
            password: s.password.clone(),
            project_name: project.name.clone(),
            project_id: project.id.clone(),
            app_cred_id: s.app_cred.0.clone(),
            app_cred_secret: s.app_cred.1.clone(),
            region: REGION.to_string(),
        })
    }

    fn must(&self, name: &str) -> SimCredentials {
        // The fleet always has these users (Fleet::generate).
        self.credentials(name).unwrap_or_else(|| SimCredentials {
            auth_url: self.auth_url(),
            username: name.to_string(),
            password: String::new(),
            project_name: String::new(),
            project_id: String::new(),
            app_cred_id: String::new(),
            app_cred_secret: String::new(),
            region: REGION.to_string(),
        })
    }

    /// The admin (admin role, `admin` project: sees all projects).
    pub fn admin(&self) -> SimCredentials {
        self.must("admin")
    }

    /// A non-admin member of the `platform` project.
    pub fn member(&self) -> SimCredentials {
        self.must("operator")
    }

    /// The explicit client configuration for `creds` (password auth, project scope).
    pub fn cloud_config(&self, creds: SimCredentials) -> CloudConfig {
        CloudConfig {
            auth_url: creds.auth_url.clone(),
            auth: AuthMethod::Password {
                user: IdOrName::Name(creds.username.clone()),
                user_domain: Some(IdOrName::Name("Default".into())),
                password: Secret::new(creds.password.clone()),
                scope: Some(ProjectScope {
                    project: IdOrName::Name(creds.project_name.clone()),
                    domain: Some(IdOrName::Name("Default".into())),
                }),
            },
            region: Some(creds.region.clone()),
            interface: "public".into(),
            tls: Tls::default(),
            origin: Origin::Given(format!("kiln sim at {} as {}", self.url(), creds.username)),
        }
    }

    /// The same with the user's application credential.
    pub fn app_cred_config(&self, creds: SimCredentials) -> CloudConfig {
        let mut c = self.cloud_config(creds.clone());
        c.auth = AuthMethod::ApplicationCredential {
            id: creds.app_cred_id,
            secret: Secret::new(creds.app_cred_secret),
        };
        c
    }

    /// Writes a clouds.yaml (mode 0600) with cloud `kiln-sim` for `creds`.
    pub fn write_clouds_yaml(&self, path: &Path, creds: &SimCredentials) -> Result<(), SimError> {
        let text = format!(
            "# Written by kiln sim: throwaway credentials of a simulated cloud.\nclouds:\n  {CLOUD_NAME}:\n    auth:\n      auth_url: {}\n      username: {}\n      password: {}\n      project_name: {}\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: {}\n    interface: public\n    identity_api_version: 3\n",
            creds.auth_url, creds.username, creds.password, creds.project_name, creds.region
        );
        creds::write_private(path, &text).map_err(|source| SimError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.core.events.subscribe()
    }

    /// Requests answered so far (up to 200,000).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.core
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Forgets the requests answered so far.
    pub fn clear_requests(&self) {
        if let Ok(mut r) = self.core.requests.lock() {
            r.clear();
        }
    }

    /// Servers created from now on get this SSH endpoint (their address becomes its host; the
    /// client connects to its port, e.g. Packer's `ssh_port`). None: no endpoint.
    pub fn set_ssh_endpoint_for_new_servers(&self, endpoint: Option<SocketAddr>) {
        if let Ok(mut st) = self.core.state.lock() {
            st.ssh_for_new = endpoint;
        }
    }

    /// Attaches an SSH endpoint to an existing server (false: no such server).
    pub fn attach_ssh(&self, server_id: &str, endpoint: SocketAddr) -> bool {
        let Ok(mut st) = self.core.state.lock() else {
            return false;
        };
        match st.servers.get_mut(server_id) {
            Some(s) => {
                s.ssh = Some(endpoint);
                true
            }
            None => false,
        }
    }

    /// The SSH endpoint of a server, when one is attached.
    pub fn ssh_endpoint(&self, server_id: &str) -> Option<SocketAddr> {
        self.core.state.lock().ok()?.servers.get(server_id)?.ssh
    }

    /// The servers now (ids and names), e.g. to attach SSH endpoints.
    pub fn server_ids(&self) -> Vec<(String, String)> {
        self.core
            .state
            .lock()
            .map(|st| {
                st.servers
                    .values()
                    .map(|s| (s.base.id.clone(), s.base.name.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Starts an SSH node for every server booted from an `rke2-node-*` image (see [`ssh`]):
    /// each listens on its own 127.0.0.1 port, accepts `authorized` for user `ubuntu`, and
    /// becomes its server's SSH endpoint (Nova shows its address). Returns the nodes sorted by
    /// name. They stop with the simulator. Only once per simulator.
    pub async fn start_ssh_nodes(
        &self,
        authorized: &russh::keys::PublicKey,
    ) -> Result<Vec<SshNodeInfo>, SimError> {
        {
            let mut slot = self.ssh.lock().map_err(|_| SshNodeError::AlreadyStarted)?;
            if slot.is_some() {
                return Err(SshNodeError::AlreadyStarted.into());
            }
            *slot = Some(Vec::new());
        }
        let started = ssh::start(&self.core, authorized, self.stop.subscribe()).await;
        let mut slot = self.ssh.lock().map_err(|_| SshNodeError::AlreadyStarted)?;
        match started {
            Ok(started) => {
                *slot = Some(started.tasks);
                Ok(started.nodes)
            }
            Err(e) => {
                *slot = None;
                Err(e.into())
            }
        }
    }

    /// An image as Glance has it now.
    pub fn image(&self, id: &str) -> Option<fleet::FleetImage> {
        self.core.state.lock().ok()?.images.get(id).cloned()
    }

    /// Number of images now.
    pub fn image_count(&self) -> usize {
        self.core.state.lock().map(|s| s.images.len()).unwrap_or(0)
    }

    /// Stops the server and the SSH nodes and waits (at most 5 s each) for them to finish.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        let nodes = self.ssh.lock().ok().and_then(|mut s| s.take());
        if let Some(tasks) = nodes {
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                for t in tasks {
                    let _ = t.await;
                }
            })
            .await;
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
