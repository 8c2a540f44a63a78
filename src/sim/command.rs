//! `kiln sim`: its flags, and running the simulator in the foreground: print the `export` lines,
//! the clouds.yaml path and `ready` (in hybrid mode the `compute` and `volumev3` endpoints to
//! register in the external Keystone, and `ready`), then serve until SIGINT or SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use clap::Args;

use super::{DeleteInUse, FaultSettings, FleetSize, Service, SimConfig, SimError, start};
use crate::clock::{Clock, SystemClock};

/// `kiln sim`.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed of the fleet.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fleet size: small, demo, large (5,000 images) or a number of images.
    #[arg(long, default_value = "demo")]
    pub fleet: FleetSize,
    /// The fleet's "today" (YYYY-MM-DD; default: today).
    #[arg(long, value_name = "DATE")]
    pub today: Option<NaiveDate>,
    /// Latency added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability (0..1) that a request gets a 500/502/503/504.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    pub error_rate: f64,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_ttl: u64,
    /// Leave a service out of the catalog: image, compute, volume or network (repeatable).
    #[arg(long = "missing-service", value_name = "SERVICE", value_parser = parse_service)]
    pub missing_services: Vec<Service>,
    /// Glance's answer to deleting an image in use: `delete` (file/Swift store) or `conflict`
    /// (Ceph RBD: 409).
    #[arg(long, default_value = "delete", value_parser = parse_delete)]
    pub delete_in_use: DeleteInUse,
    /// Where to write the clouds.yaml (default: a new private directory under the temp dir).
    #[arg(long, value_name = "PATH")]
    pub clouds_yaml: Option<PathBuf>,
    /// Hybrid mode: serve Nova and Cinder for this real Keystone (its v3 URL, e.g. the openrc's
    /// OS_AUTH_URL), booting servers from the Glance in its catalog. Prints the endpoints to
    /// register there instead of credentials.
    #[arg(long, value_name = "URL")]
    pub external_keystone: Option<String>,
    /// Also start an SSH node (127.0.0.1, its own port) for every server booted from an
    /// rke2-node image, and write a client key and known_hosts for them: prints
    /// `ssh-identity PATH`, `ssh-known-hosts PATH` and one `ssh-node NAME 127.0.0.1:PORT KIND
    /// SERVER_ID` line per node (for `kiln inspect 127.0.0.1:PORT --identity PATH`).
    #[arg(long, conflicts_with = "external_keystone")]
    pub ssh_nodes: bool,
}

fn parse_service(s: &str) -> Result<Service, String> {
    Service::ALL
        .into_iter()
        .find(|x| x.path() == s || x.catalog_type() == s)
        .filter(|x| *x != Service::Identity)
        .ok_or_else(|| format!("`{s}`: expected image, compute, volume or network"))
}

fn parse_delete(s: &str) -> Result<DeleteInUse, String> {
    match s {
        "delete" => Ok(DeleteInUse::Delete),
        "conflict" => Ok(DeleteInUse::Conflict),
        _ => Err(format!("`{s}`: expected delete or conflict")),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a probability between 0 and 1")),
    }
}

/// Runs `kiln sim` until SIGINT or SIGTERM; returns the exit code.
pub async fn run_foreground(args: SimArgs) -> Result<i32, SimError> {
    let today = args.today.unwrap_or_else(|| SystemClock.now().date_naive());
    let config = SimConfig {
        fleet: args.fleet,
        port: args.port,
        faults: FaultSettings {
            latency: Duration::from_millis(args.latency_ms),
            error_rate: args.error_rate,
            token_ttl: Duration::from_secs(args.token_ttl.max(1)),
        },
        external_keystone: args.external_keystone.clone(),
        ..SimConfig::new(args.seed, today)
    };
    let signals = Signals::catch();
    let sim = start(config).await?;
    for s in &args.missing_services {
        sim.faults().set_missing(*s, true);
    }
    sim.faults().set_delete_in_use(args.delete_in_use);
    if sim.external_keystone().is_some() {
        let text = format!(
            "compute {}\nvolumev3 {}\nready\n",
            sim.compute_endpoint(),
            sim.volume_endpoint()
        );
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        drop(out);
        signals.wait().await;
        sim.stop().await;
        return Ok(0);
    }
    let (path, dir) = match args.clouds_yaml {
        Some(p) => (p, None),
        None => {
            let dir = std::env::temp_dir().join(format!("kiln-sim-{}", sim.addr().port()));
            std::fs::create_dir_all(&dir).map_err(|source| SimError::Write {
                path: dir.display().to_string(),
                source,
            })?;
            (dir.join("clouds.yaml"), Some(dir))
        }
    };
    let admin = sim.admin();
    sim.write_clouds_yaml(&path, &admin)?;
    let ssh = if args.ssh_nodes {
        Some(ssh_nodes(&sim, args.seed, dir.as_deref()).await?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    let mut text = String::new();
    for (k, v) in admin.openrc() {
        text.push_str(&format!("export {k}={v}\n"));
    }
    text.push_str(&format!("{}\n", path.display()));
    if let Some((files, nodes, _)) = &ssh {
        text.push_str(&format!("ssh-identity {}\n", files.identity.display()));
        text.push_str(&format!(
            "ssh-known-hosts {}\n",
            files.known_hosts.display()
        ));
        for n in nodes {
            text.push_str(&format!(
                "ssh-node {} {} {} {}\n",
                n.name, n.addr, n.kind, n.server_id
            ));
        }
    }
    text.push_str("ready\n");
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    drop(out);
    signals.wait().await;
    sim.stop().await;
    let _ = std::fs::remove_file(&path);
    if let Some((files, _, own_dir)) = ssh {
        for f in [&files.identity, &files.known_hosts] {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_file(files.identity.with_extension("pub"));
        if let Some(d) = own_dir {
            let _ = std::fs::remove_dir(d);
        }
    }
    if let Some(d) = dir {
        let _ = std::fs::remove_dir(d);
    }
    Ok(0)
}

/// Starts the SSH nodes with a client key derived from the seed and writes that key and the
/// known_hosts into `dir` (the throwaway clouds.yaml's), else into a new private directory
/// under the temp dir (returned, to be removed at the end).
async fn ssh_nodes(
    sim: &super::Sim,
    seed: u64,
    dir: Option<&std::path::Path>,
) -> Result<
    (
        super::ssh::ClientFiles,
        Vec<super::SshNodeInfo>,
        Option<PathBuf>,
    ),
    SimError,
> {
    let key = super::ssh::keys::client_key(seed, "kiln-sim");
    let nodes = sim.start_ssh_nodes(key.public_key()).await?;
    let (target, own) = match dir {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let d = tempfile::Builder::new()
                .prefix("kiln-sim-ssh-")
                .tempdir()
                .map_err(|source| SimError::Write {
                    path: std::env::temp_dir().display().to_string(),
                    source,
                })?
                .keep();
            (d.clone(), Some(d))
        }
    };
    let files = super::ssh::write_client_files(&target, &key, &nodes).map_err(|source| {
        SimError::Write {
            path: target.display().to_string(),
            source,
        }
    })?;
    Ok((files, nodes, own))
}

/// SIGINT and SIGTERM, caught from the moment this is made (before `ready` is printed, so a
/// signal right after it stops the simulator cleanly instead of killing it).
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn catch() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn wait(self) {
        match (self.int, self.term) {
            (Some(mut i), Some(mut t)) => {
                tokio::select! {
                    _ = i.recv() => {}
                    _ = t.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: SimArgs,
    }

    #[test]
    fn flags_parse_and_bad_values_are_named() {
        let w = Wrap::try_parse_from([
            "kiln",
            "--fleet",
            "large",
            "--error-rate",
            "0.2",
            "--latency-ms",
            "2000",
            "--missing-service",
            "volume",
            "--missing-service",
            "compute",
            "--delete-in-use",
            "conflict",
            "--external-keystone",
            "http://127.0.0.1:5000/v3",
        ])
        .unwrap();
        assert_eq!(
            w.args.external_keystone.as_deref(),
            Some("http://127.0.0.1:5000/v3")
        );
        assert_eq!(w.args.fleet, FleetSize::Large);
        assert_eq!(w.args.missing_services, [Service::Volume, Service::Compute]);
        assert_eq!(w.args.delete_in_use, DeleteInUse::Conflict);
        assert!(!w.args.ssh_nodes);
        assert!(
            Wrap::try_parse_from(["kiln", "--ssh-nodes"])
                .unwrap()
                .args
                .ssh_nodes
        );
        assert!(
            Wrap::try_parse_from(["kiln", "--ssh-nodes", "--external-keystone", "http://k/v3"])
                .is_err(),
            "a hybrid simulator has no fleet servers to give nodes"
        );
        let e = Wrap::try_parse_from(["kiln", "--error-rate", "1.5"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`1.5` is not a probability"), "{e}");
        let e = Wrap::try_parse_from(["kiln", "--missing-service", "identity"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("expected image, compute, volume or network"),
            "{e}"
        );
    }
}
