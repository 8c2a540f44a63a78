//! `kiln demo`: kiln on built-in data, no cloud and no packer. The Build view replays the demo's
//! own recorded builds (`transcripts/`: a success and a failure, real packer 1.6.6 openstack builds
//! recorded by tests/e2e_build.rs against kiln's simulator, re-timed to a ~12 minute build; see
//! tests/data/packer/README.md); the Images, Retention and History views talk to a simulated
//! cloud started in-process (`kiln sim`'s seeded fleet) and read a history made from the same
//! fleet (`history`), kept in a temporary state directory so the operator's own records are
//! never touched.

pub mod history;

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::bake::plan::{PIPELINE_SCRIPTS, StagePlan};
use crate::bake::record::FipsRecord;
use crate::bake::replay::{Speed, Transcript};
use crate::bake::request::{BuildChoices, prepare};
use crate::bake::session::{self, BuildRequest};
use crate::cli::DemoArgs;
use crate::cli::events::EventPrinter;
use crate::clock::{Clock, SystemClock};
use crate::settings::Settings;

const SUCCESS: &str = include_str!("transcripts/success.log");
const FAILED: &str = include_str!("transcripts/failed.log");

/// The seed of the demo's fleet (the same data on every run).
pub const SEED: u64 = 7;

/// What the demo runs on: the simulated cloud and a temporary state directory, both gone when
/// this is dropped (or stopped).
pub struct World {
    /// The simulated cloud.
    pub sim: crate::sim::Sim,
    /// Credentials for it (the admin of the fleet).
    pub cloud: crate::cloud::credentials::CredentialSource,
    /// The demo's state directory (builds/, audit.jsonl; ssh/ with the client key and
    /// known_hosts of the simulated nodes).
    pub state: tempfile::TempDir,
    /// Server id -> its simulated node's SSH endpoint (127.0.0.1:port): the target to inspect.
    pub ssh_endpoints: std::collections::BTreeMap<String, std::net::SocketAddr>,
    /// The simulated nodes, sorted by name (their kinds, host keys, images).
    pub ssh_nodes: Vec<crate::sim::SshNodeInfo>,
}

impl World {
    /// Starts the simulated cloud for `today` with its SSH nodes and seeds the history;
    /// `settings` now point at the demo's own state directory, and their `[ssh]` at the demo's
    /// client key, its known_hosts (every node but the one whose host key is meant to be
    /// unknown) and user `ubuntu`.
    pub async fn start(settings: &mut Settings, clock: &dyn Clock) -> Result<World> {
        let today = clock.now().date_naive();
        let state = tempfile::Builder::new()
            .prefix("kiln-demo-")
            .tempdir()
            .context("creating the demo's state directory")?;
        settings.paths.state_dir = state.path().join("state");
        let sim = crate::sim::start(crate::sim::SimConfig::new(SEED, today))
            .await
            .context("starting the simulated cloud")?;
        let seeded = history::seed(sim.fleet(), &settings.paths.builds_dir())
            .context("writing the demo's history")?;
        log::info!(target: "kiln::demo", "simulated cloud at {}, {seeded} builds in the history", sim.url());
        let key = crate::sim::ssh::keys::client_key(SEED, "kiln-demo");
        let ssh_nodes = sim
            .start_ssh_nodes(key.public_key())
            .await
            .context("starting the simulated nodes' SSH")?;
        let files =
            crate::sim::ssh::write_client_files(&state.path().join("ssh"), &key, &ssh_nodes)
                .context("writing the demo's SSH key and known_hosts")?;
        let ssh = &mut settings.config.ssh;
        ssh.identity = Some(files.identity);
        ssh.known_hosts = Some(files.known_hosts);
        ssh.user = Some(crate::sim::ssh::USER.to_string());
        let ssh_endpoints = ssh_nodes
            .iter()
            .map(|n| (n.server_id.clone(), n.addr))
            .collect();
        log::info!(target: "kiln::demo", "{} simulated nodes answer SSH on 127.0.0.1", ssh_nodes.len());
        let cloud =
            crate::cloud::credentials::CredentialSource::given(sim.cloud_config(sim.admin()));
        Ok(World {
            sim,
            cloud,
            state,
            ssh_endpoints,
            ssh_nodes,
        })
    }
}

/// The recorded builds, in the order the demo plays them.
pub fn transcripts() -> Vec<Transcript> {
    vec![
        Transcript::new("success", SUCCESS, 0),
        Transcript::new("failed", FAILED, 1),
    ]
}

/// A build that replays `transcript` at `speed`. Nothing is recorded on disk.
pub fn request(
    transcript: Transcript,
    speed: Speed,
    settings: &Settings,
    clock: &dyn Clock,
) -> BuildRequest {
    let mut request = prepare(settings, &BuildChoices::default(), clock.now()).into_request(
        settings,
        FipsRecord::default(),
        false,
    );
    request.plan = StagePlan::new(PIPELINE_SCRIPTS);
    let transcript = renamed(transcript, &request.expected_image);
    request.replay = Some((transcript, speed));
    request
}

/// The transcript with the image name it recorded replaced by the name today's build would
/// get, so the name on screen stays the same during and after the replay.
fn renamed(mut transcript: Transcript, name: &str) -> Transcript {
    let recorded = transcript.lines.iter().find_map(|l| {
        let (_, n) = l.split_once("Creating the image: ")?;
        Some(n.trim().to_string())
    });
    if let Some(old) = recorded.filter(|o| !o.is_empty() && o != name) {
        for l in &mut transcript.lines {
            if l.contains(&old) {
                *l = l.replace(&old, name);
            }
        }
    }
    transcript
}

/// `kiln demo --headless [--json]`: one recorded build's events, printed.
pub async fn run_headless(settings: &Settings, args: &DemoArgs) -> Result<i32> {
    let transcript = transcripts()
        .into_iter()
        .find(|t| t.name == args.replay)
        .with_context(|| {
            format!(
                "no recorded build `{}` (there are: success, failed)",
                args.replay
            )
        })?;
    let speed = Speed::new(args.speed.unwrap_or(settings.demo_speed));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let req = request(transcript, speed, settings, clock.as_ref());
    // A closed stdout (piped into `head`) just ends the output.
    let mut printer = EventPrinter::new(
        std::io::BufWriter::new(std::io::stdout()),
        args.json,
        &req.plan,
    );
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = session::run(req, clock, rx, |_| {}, &mut printer).await?;
    Ok(outcome.status.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replayed_image_gets_todays_name() {
        let t = renamed(transcripts().remove(0), "rke2-node-v1.28-20261125");
        let named: Vec<&String> = t
            .lines
            .iter()
            .filter(|l| l.contains("rke2-node-v1.28-"))
            .collect();
        assert!(!named.is_empty());
        assert!(
            named.iter().all(|l| l.contains("rke2-node-v1.28-20261125")),
            "{named:?}"
        );
    }
}
