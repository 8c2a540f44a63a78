//! The simulator's SSH nodes (`kiln demo`, `kiln sim --ssh-nodes`): every server booted from an
//! `rke2-node-*` image gets its own russh daemon on 127.0.0.1 (an ephemeral port; Nova then
//! shows that address for the server) that answers kiln's reads as the real node would, from
//! contents derived from the server's Glance image. The nodes are healthy, except one drifted
//! node, the FIPS nodes and one node whose host key the written known_hosts leaves out (see
//! [`plan`]). Host keys are derived from the seed and the server id: the same on every run.
//!
//! `keys`: the derived keys and known_hosts lines; `plan`: which node is which; `content`: a
//! node's files and command outputs; `commands`: answering a command; `server`: the daemon.

pub mod commands;
pub mod content;
pub mod keys;
pub mod plan;
pub mod server;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::keys::PublicKey;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::core::Core;
use super::fleet::FleetImage;
use crate::manifest::{DEFAULT_HARBOR_REGISTRY, PinnedList, PinnedListError};

pub use content::VirtualNode;
pub use plan::NodeKind;
pub use server::USER;

/// The pinned list the nodes were built from: the repository's own stage 03.
const PINNED_SCRIPT: &str = include_str!("../../../stages/03-prepull-images.sh");
/// The template whose defaults the nodes were built with.
const TEMPLATE: &str = include_str!("../../../stages/rke2-node.pkr.hcl");

/// One simulated node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshNodeInfo {
    /// The Nova server's id.
    pub server_id: String,
    /// The server's name.
    pub name: String,
    /// Where its daemon listens (127.0.0.1:port).
    pub addr: SocketAddr,
    /// Its host key, as OpenSSH writes a public key (`ssh-ed25519 AAAA... comment`).
    pub host_key: String,
    /// The host key's fingerprint (`SHA256:...`).
    pub fingerprint: String,
    /// What the node is.
    pub kind: NodeKind,
    /// The image the server was booted from.
    pub image_name: String,
    /// The known_hosts line for it (`[127.0.0.1]:PORT ssh-ed25519 AAAA...`).
    pub known_hosts_line: String,
}

/// Why the nodes could not start.
#[derive(Debug, thiserror::Error)]
pub enum SshNodeError {
    /// They were started already.
    #[error("the SSH nodes are already started")]
    AlreadyStarted,
    /// The pinned list compiled in is malformed.
    #[error("the pinned list: {0}")]
    Pinned(#[from] PinnedListError),
    /// A node's port could not be bound.
    #[error("cannot listen for node {server} on 127.0.0.1: {source}")]
    Bind {
        /// The server's name.
        server: String,
        /// Why.
        source: std::io::Error,
    },
}

/// known_hosts text holding every node's host key except the one meant to be unknown.
pub fn known_hosts(nodes: &[SshNodeInfo]) -> String {
    nodes
        .iter()
        .filter(|n| n.kind != NodeKind::UnknownHostKey)
        .map(|n| format!("{}\n", n.known_hosts_line))
        .collect()
}

/// The files a client of the nodes needs, as [`write_client_files`] wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFiles {
    /// The private key (`id_ed25519`, mode 0600, OpenSSH format), `.pub` beside it.
    pub identity: PathBuf,
    /// known_hosts with every node but the one whose host key is meant to be unknown.
    pub known_hosts: PathBuf,
}

/// Writes `<dir>/id_ed25519` (+ `.pub`) for `key` and `<dir>/known_hosts` for `nodes`
/// (both 0600; `dir` made 0700 when missing).
pub fn write_client_files(
    dir: &Path,
    key: &russh::keys::PrivateKey,
    nodes: &[SshNodeInfo],
) -> std::io::Result<ClientFiles> {
    let files = ClientFiles {
        identity: dir.join("id_ed25519"),
        known_hosts: dir.join("known_hosts"),
    };
    keys::write_private_key(&files.identity, key)?;
    std::fs::write(
        dir.join("id_ed25519.pub"),
        format!("{}\n", keys::openssh_public(key.public_key())),
    )?;
    crate::sim::creds::write_private(&files.known_hosts, &known_hosts(nodes))?;
    Ok(files)
}

/// The started nodes and their accept loops.
pub(crate) struct Started {
    /// The nodes, sorted by name.
    pub nodes: Vec<SshNodeInfo>,
    /// Their accept loops (they end on the stop signal).
    pub tasks: Vec<JoinHandle<()>>,
}

/// A server that gets a node, with its image.
struct Chosen {
    id: String,
    name: String,
    image: FleetImage,
    active: bool,
}

/// Starts a node for every server booted from an `rke2-node-*` image, attaches its endpoint to
/// the server, and serves until `stop` turns true.
pub(crate) async fn start(
    core: &Core,
    authorized: &PublicKey,
    stop: watch::Receiver<bool>,
) -> Result<Started, SshNodeError> {
    let pinned = PinnedList::parse(PINNED_SCRIPT, Path::new("stages/03-prepull-images.sh"))?;
    let default = |name| crate::bake::template::variable_default(TEMPLATE, name);
    let registry = default("harbor_registry")
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| DEFAULT_HARBOR_REGISTRY.to_string());
    let version = default("k8s_version").unwrap_or_else(|| "v1.28.15+rke2r1".to_string());
    let (mut chosen, pro_sources) = servers(core);
    let plan = plan::choose(
        &chosen
            .iter()
            .map(|c| plan::Candidate {
                name: c.name.clone(),
                id: c.id.clone(),
                image_id: c.image.id.clone(),
                active: c.active,
                fips_image: c.image.properties.get("fips_enabled").map(String::as_str)
                    == Some("true"),
            })
            .collect::<Vec<_>>(),
    );
    if let Some(image_id) = &plan.make_fips {
        make_fips(core, image_id);
        for c in chosen.iter_mut().filter(|c| &c.image.id == image_id) {
            c.image
                .properties
                .insert("fips_enabled".into(), "true".into());
        }
    }
    let seed = core.fleet.seed;
    let authorized = Arc::new(authorized.clone());
    let mut started = Started {
        nodes: Vec::new(),
        tasks: Vec::new(),
    };
    for (c, kind) in chosen.iter().zip(plan.kinds) {
        let source_attached = c
            .image
            .properties
            .get("source_image")
            .is_some_and(|s| pro_sources.contains(s));
        let node = VirtualNode::build(&content::Inputs {
            name: &c.name,
            kind,
            image: &c.image,
            source_attached,
            pinned: &pinned,
            registry: &registry,
            default_version: &version,
        });
        let host_key = keys::host_key(seed, &c.id);
        let public = host_key.public_key().clone();
        let daemon = match server::listen(
            Arc::new(node),
            host_key,
            authorized.clone(),
            stop.clone(),
        )
        .await
        {
            Ok(d) => d,
            Err(source) => {
                for t in &started.tasks {
                    t.abort();
                }
                return Err(SshNodeError::Bind {
                    server: c.name.clone(),
                    source,
                });
            }
        };
        started.tasks.push(daemon.task);
        started.nodes.push(SshNodeInfo {
            server_id: c.id.clone(),
            name: c.name.clone(),
            addr: daemon.addr,
            host_key: keys::openssh_public(&public),
            fingerprint: crate::node::known_hosts::fingerprint(&public),
            kind,
            image_name: c.image.name.clone(),
            known_hosts_line: keys::known_hosts_line(daemon.addr, &public),
        });
    }
    if let Ok(mut st) = core.state.lock() {
        for n in &started.nodes {
            if let Some(s) = st.servers.get_mut(&n.server_id) {
                s.ssh = Some(n.addr);
            }
        }
    }
    started
        .nodes
        .sort_by(|a, b| (&a.name, &a.server_id).cmp(&(&b.name, &b.server_id)));
    Ok(started)
}

/// The servers booted from `rke2-node-*` images (with their images as Glance has them now,
/// else as the fleet had them), and the names of the source images attached to Ubuntu Pro.
fn servers(core: &Core) -> (Vec<Chosen>, Vec<String>) {
    let now = core.clock.now();
    let Ok(st) = core.state.lock() else {
        return (Vec::new(), Vec::new());
    };
    let image = |id: &str| {
        st.images
            .get(id)
            .or_else(|| core.fleet.images.iter().find(|i| i.id == id))
            .cloned()
    };
    let chosen = st
        .servers
        .values()
        .filter_map(|s| {
            let image = image(s.base.image_id.as_deref()?)?;
            image.name.starts_with("rke2-node-").then(|| Chosen {
                id: s.base.id.clone(),
                name: s.base.name.clone(),
                active: s.status(now) == "ACTIVE",
                image,
            })
        })
        .collect();
    let pro = st
        .images
        .values()
        .chain(core.fleet.images.iter())
        .filter(|i| i.properties.get("ubuntu_pro").map(String::as_str) == Some("true"))
        .map(|i| i.name.clone())
        .collect();
    (chosen, pro)
}

/// Makes `image_id` a FIPS build in Glance (no other node was on one).
fn make_fips(core: &Core, image_id: &str) {
    if let Ok(mut st) = core.state.lock()
        && let Some(img) = st.images.get_mut(image_id)
    {
        img.properties.insert("fips_enabled".into(), "true".into());
    }
}
