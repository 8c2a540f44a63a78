//! Real clients written by others against the simulator: python-openstackclient (installed into
//! a cached venv by tests/cloud/osc-venv.sh) gets the seeded data and a member's 403 for
//! `--all-projects`; Debian's Packer 1.6.6 openstack builder creates a keypair and a server,
//! reaches "Waiting for SSH" and connects to the SSH endpoint the simulator gave the server, then
//! cleans up.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chrono::NaiveDate;
use kiln::sim::{FleetSize, Sim, SimConfig, SimCredentials, SimEvent};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

/// A command with the host's OS_*, PKR_VAR_* and KILN_* removed and `creds` set.
fn clean(program: &Path, creds: &SimCredentials, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("OS_") || k.starts_with("PKR_VAR_") || k.starts_with("KILN_") {
            cmd.env_remove(&k);
        }
    }
    cmd.envs(creds.openrc())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

fn osc_bin() -> std::path::PathBuf {
    let out = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud/osc-venv.sh"))
        .stdin(Stdio::null())
        .output()
        .expect("run osc-venv.sh");
    assert!(
        out.status.success(),
        "osc-venv.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("openstack")
}

/// Runs `openstack ARGS -f json` (120 s at most); (exit ok, parsed stdout, stderr).
async fn osc(
    bin: &Path,
    creds: &SimCredentials,
    home: &Path,
    args: &[&str],
) -> (bool, Value, String) {
    let mut cmd = clean(bin, creds, home);
    cmd.args(args).args(["-f", "json"]);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("openstack {args:?} took over 120 s"))
        .expect("run openstack");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (
        out.status.success(),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr,
    )
}

async fn sim() -> Sim {
    kiln::sim::start(SimConfig {
        fleet: FleetSize::Small,
        ..SimConfig::new(11, today())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_openstackclient_gets_the_seeded_data() {
    let bin = osc_bin();
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let admin = sim.admin();
    let fleet = sim.fleet().clone();

    let (ok, v, err) = osc(&bin, &admin, home.path(), &["token", "issue"]).await;
    assert!(ok, "{err}");
    assert_eq!(v["project_id"], admin.project_id.as_str(), "{v}");
    assert!(v["id"].as_str().is_some_and(|t| t.len() > 20));

    let (ok, v, err) = osc(&bin, &admin, home.path(), &["image", "list", "--long"]).await;
    assert!(ok, "{err}");
    let listed: BTreeSet<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["ID"].as_str())
        .collect();
    let seeded: BTreeSet<&str> = fleet.images.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(listed, seeded, "every image, across Glance pages of 25");
    let protected = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["Protected"] == true)
        .count();
    assert_eq!(
        protected,
        fleet.images.iter().filter(|i| i.protected).count()
    );

    let img = fleet.rke2_images().find(|i| i.status == "active").unwrap();
    let (ok, v, err) = osc(&bin, &admin, home.path(), &["image", "show", &img.id]).await;
    assert!(ok, "{err}");
    assert_eq!(v["name"], img.name.as_str());
    let props = v["properties"].to_string();
    assert!(
        props.contains(img.properties["packer_run_uuid"].as_str()),
        "{props}"
    );

    let (ok, v, err) = osc(
        &bin,
        &admin,
        home.path(),
        &["server", "list", "--all-projects", "--long"],
    )
    .await;
    assert!(ok, "{err}");
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), fleet.servers.len(), "servers of every project");
    let projects: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r["Project ID"].as_str())
        .collect();
    assert!(projects.len() >= 3, "{projects:?}");
    let cp = fleet
        .servers
        .iter()
        .find(|s| s.name.ends_with("-cp-0"))
        .unwrap();
    let row = rows
        .iter()
        .find(|r| r["ID"] == cp.id.as_str())
        .expect("a control plane node");
    assert_eq!(row["Image ID"], cp.image_id.as_deref().unwrap());
    assert_eq!(row["Flavor Name"], "k8s.control");

    let (ok, v, err) = osc(
        &bin,
        &admin,
        home.path(),
        &["volume", "list", "--all-projects"],
    )
    .await;
    assert!(ok, "{err}");
    let vols: BTreeSet<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["ID"].as_str())
        .collect();
    assert_eq!(vols, fleet.volumes.iter().map(|v| v.id.as_str()).collect());

    let (ok, v, err) = osc(&bin, &admin, home.path(), &["network", "list"]).await;
    assert!(ok, "{err}");
    let nets: BTreeSet<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["Name"].as_str())
        .collect();
    assert_eq!(
        nets,
        fleet.networks.iter().map(|n| n.name.as_str()).collect()
    );

    // A member: Nova refuses all projects; Cinder silently answers for the member's project.
    let member = sim.member();
    let (ok, _, err) = osc(
        &bin,
        &member,
        home.path(),
        &["server", "list", "--all-projects"],
    )
    .await;
    assert!(!ok, "a member must not list all projects");
    assert!(err.contains("403"), "{err}");
    let (ok, v, err) = osc(&bin, &member, home.path(), &["server", "list"]).await;
    assert!(ok, "{err}");
    let own = fleet
        .servers
        .iter()
        .filter(|s| s.project_id == member.project_id)
        .count();
    assert_eq!(v.as_array().unwrap().len(), own);
    let (ok, v, err) = osc(
        &bin,
        &member,
        home.path(),
        &["volume", "list", "--all-projects"],
    )
    .await;
    assert!(ok, "{err}");
    let own = fleet
        .volumes
        .iter()
        .filter(|x| x.project_id == member.project_id)
        .count();
    assert_eq!(
        v.as_array().unwrap().len(),
        own,
        "Cinder ignores all_tenants for a member"
    );
    sim.stop().await;
}

/// Kills the process group packer leads (packer and its plugin processes) when dropped, after a
/// failed assertion too; a group that is gone already is left alone.
struct KillGroupOnDrop(Option<i32>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packer_1_6_6_reaches_waiting_for_ssh_on_the_endpoint_the_server_was_given() {
    let sim = sim().await;
    let mut events = sim.subscribe();
    // The build VM's SSH endpoint: a listener that counts connections (a real sshd comes later).
    let ssh = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ssh_addr = ssh.local_addr().unwrap();
    sim.set_ssh_endpoint_for_new_servers(Some(ssh_addr));
    let (conn_tx, mut conn_rx) = tokio::sync::mpsc::unbounded_channel();
    let acceptor = tokio::spawn(async move {
        while let Ok((stream, _)) = ssh.accept().await {
            let _ = conn_tx.send(());
            drop(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let net = &sim.fleet().networks[0].id;
    let template = format!(
        r#"source "openstack" "sim" {{
  source_image_name = "ubuntu-22.04"
  flavor            = "m1.small"
  networks          = ["{net}"]
  ssh_username      = "ubuntu"
  ssh_port          = {port}
  ssh_timeout       = "5s"
  image_name        = "rke2-node-v1.29-20261125"
}}
build {{
  sources = ["source.openstack.sim"]
}}
"#,
        port = ssh_addr.port()
    );
    std::fs::write(dir.path().join("sim.pkr.hcl"), template).unwrap();
    let mut cmd = clean(Path::new("packer"), &sim.admin(), dir.path());
    cmd.args(["build", "-machine-readable", "sim.pkr.hcl"])
        .current_dir(dir.path())
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("packer (apt-get install packer)");
    let _group = KillGroupOnDrop(child.id().map(|p| p as i32));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let reached = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let hit = line.contains("Waiting for SSH to become available");
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(reached, Ok(true), "packer output:\n{}", seen.join("\n"));
    let created = match tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        Ok(Ok(SimEvent::ServerCreated { id, .. })) => id,
        other => panic!("expected a created server, got {other:?}"),
    };
    assert_eq!(sim.ssh_endpoint(&created), Some(ssh_addr));
    tokio::time::timeout(Duration::from_secs(30), conn_rx.recv())
        .await
        .expect("packer connected to the server's SSH endpoint within 30 s");
    // ssh_timeout (5 s) passes; packer terminates the server and deletes its keypair.
    let rest = tokio::time::timeout(Duration::from_secs(90), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        child.wait().await
    })
    .await
    .expect("packer exits within 90 s")
    .unwrap();
    assert_eq!(rest.code(), Some(1), "{}", seen.join("\n"));
    let text = seen.join("\n");
    for step in [
        "Creating temporary keypair",
        "Launching server",
        "Waiting for server to become ready",
        "Timeout waiting for SSH",
        "Terminating the source server",
        "Deleting temporary keypair",
    ] {
        assert!(text.contains(step), "no `{step}` in:\n{text}");
    }
    let deleted = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(SimEvent::ServerDeleted { id }) = events.recv().await {
                return id;
            }
        }
    })
    .await
    .expect("the server was deleted");
    assert_eq!(deleted, created);
    let calls: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let mut distinct = calls.clone();
    distinct.dedup();
    eprintln!(
        "packer's calls, in order (repeats folded):\n{}",
        distinct.join("\n")
    );
    for call in [
        "POST /v3/auth/tokens",
        "POST /v2.1/os-keypairs",
        "GET /v2/images",
        "POST /v2.1/servers",
        &format!("GET /v2.1/servers/{created}"),
        &format!("DELETE /v2.1/servers/{created}"),
    ] {
        assert!(
            calls.iter().any(|c| c == call),
            "packer did not call {call}: {calls:#?}"
        );
    }
    assert!(
        sim.requests().iter().all(|r| r.status < 500),
        "no server errors"
    );
    acceptor.abort();
    sim.stop().await;
}
