//! The simulator's SSH nodes, read by real clients: the `kiln inspect` binary (against the
//! in-process simulator and against `kiln sim --ssh-nodes`), kiln's own library client, and
//! OpenSSH's `ssh`. Every process gets an isolated HOME and is waited on with a deadline (then
//! killed by PID); the simulator binds 127.0.0.1 only.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use kiln::manifest::{Expectations, Severity};
use kiln::node::{AcceptNew, InspectOptions, Target};
use kiln::sim::ssh::{self, ClientFiles, NodeKind, SshNodeInfo};
use kiln::sim::{Sim, SimConfig};
use serde_json::Value;

const SEED: u64 = 7;

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pinned list as (upstream, harbor ref).
fn pinned() -> Vec<(String, String)> {
    kiln::manifest::PinnedList::load(&repo().join("stages/03-prepull-images.sh"))
        .unwrap()
        .images
        .iter()
        .map(|p| (p.upstream.clone(), p.harbor_ref("harbor.vitro.lan")))
        .collect()
}

/// A simulator with its SSH nodes, the client's files and an isolated home.
struct Lab {
    sim: Sim,
    nodes: Vec<SshNodeInfo>,
    files: ClientFiles,
    home: PathBuf,
    tmp: tempfile::TempDir,
}

impl Lab {
    async fn start() -> Lab {
        let sim = kiln::sim::start(SimConfig::new(SEED, today()))
            .await
            .unwrap();
        let key = ssh::keys::client_key(SEED, "sim-ssh-test");
        let nodes = sim.start_ssh_nodes(key.public_key()).await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let files = ssh::write_client_files(&tmp.path().join("ssh"), &key, &nodes).unwrap();
        Lab {
            sim,
            nodes,
            files,
            home,
            tmp,
        }
    }

    fn of(&self, kind: NodeKind) -> Vec<&SshNodeInfo> {
        self.nodes.iter().filter(|n| n.kind == kind).collect()
    }

    fn one(&self, kind: NodeKind) -> &SshNodeInfo {
        self.of(kind)[0]
    }

    /// `kiln inspect <targets> --json --identity <key> --known-hosts <file> <extra>`.
    async fn inspect(&self, targets: &[&SshNodeInfo], extra: &[&str]) -> Outcome {
        let mut args: Vec<String> = targets.iter().map(|n| n.addr.to_string()).collect();
        args.extend(["--json", "--identity"].map(String::from));
        args.push(self.files.identity.display().to_string());
        args.push("--known-hosts".into());
        args.push(self.files.known_hosts.display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        inspect_bin(&self.home, self.tmp.path(), args).await
    }

    /// The Glance properties of a node's image, with its name (as the Nodes view knows them).
    fn glance(&self, node: &SshNodeInfo) -> BTreeMap<String, String> {
        let fleet = self.sim.fleet();
        let server = fleet
            .servers
            .iter()
            .find(|s| s.id == node.server_id)
            .unwrap();
        let image = fleet
            .images
            .iter()
            .find(|i| Some(&i.id) == server.image_id.as_ref())
            .unwrap();
        let mut props = image.properties.clone();
        props.insert("name".into(), image.name.clone());
        props
    }
}

/// `kiln inspect` run to its end (at most 60 s), off the runtime's threads.
async fn inspect_bin(home: &Path, dir: &Path, args: Vec<String>) -> Outcome {
    let (home, dir) = (home.to_path_buf(), dir.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let (out, err) = (dir.join(format!("{n}.out")), dir.join(format!("{n}.err")));
        let mut child = common::kiln(&home)
            .arg("inspect")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let status = common::wait_bounded(&mut child, Duration::from_secs(60));
        let stdout = std::fs::read_to_string(&out).unwrap();
        Outcome {
            code: status.code().unwrap_or(-1),
            json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stdout,
            stderr: std::fs::read_to_string(&err).unwrap(),
        }
    })
    .await
    .unwrap()
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    json: Value,
}

impl Outcome {
    fn hosts(&self) -> &Vec<Value> {
        self.json
            .as_array()
            .unwrap_or_else(|| panic!("not a JSON array:\n{}\n{}", self.stdout, self.stderr))
    }

    fn host(&self) -> &Value {
        assert_eq!(self.hosts().len(), 1, "{}", self.stdout);
        &self.hosts()[0]
    }
}

/// (severity, kind) of a host object's findings.
fn findings(host: &Value) -> Vec<(String, String)> {
    host["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn errors(host: &Value) -> Vec<String> {
    findings(host)
        .into_iter()
        .filter(|(s, _)| s == "error")
        .map(|(_, k)| k)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rke2_server_gets_a_node_with_one_drifted_and_one_unknown_host_key() {
    let lab = Lab::start().await;
    let fleet = lab.sim.fleet();
    let rke2: Vec<&str> = fleet
        .servers
        .iter()
        .filter(|s| {
            s.image_id.as_ref().is_some_and(|id| {
                fleet
                    .images
                    .iter()
                    .any(|i| &i.id == id && i.name.starts_with("rke2-node-"))
            })
        })
        .map(|s| s.id.as_str())
        .collect();
    assert!(rke2.len() >= 12, "{}", rke2.len());
    assert_eq!(lab.nodes.len(), rke2.len());
    for n in &lab.nodes {
        assert!(rke2.contains(&n.server_id.as_str()));
        assert_eq!(n.addr.ip().to_string(), "127.0.0.1");
        assert_eq!(
            lab.sim.ssh_endpoint(&n.server_id),
            Some(n.addr),
            "Nova shows it"
        );
    }
    assert!(
        lab.nodes.windows(2).all(|w| w[0].name <= w[1].name),
        "sorted by name"
    );
    assert_eq!(lab.of(NodeKind::Drifted).len(), 1);
    assert_eq!(lab.of(NodeKind::UnknownHostKey).len(), 1);
    assert!(!lab.of(NodeKind::Fips).is_empty());
    assert!(!lab.of(NodeKind::Healthy).is_empty());
    let known = std::fs::read_to_string(&lab.files.known_hosts).unwrap();
    assert_eq!(known.lines().count(), lab.nodes.len() - 1);
    let unknown = lab.one(NodeKind::UnknownHostKey);
    assert!(!known.contains(&format!("[127.0.0.1]:{} ", unknown.addr.port())));
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&lab.files.identity), 0o600);
    assert_eq!(mode(&lab.files.known_hosts), 0o600);

    // the same seed gives the same host keys (stable fingerprints across runs)
    let again = kiln::sim::start(SimConfig::new(SEED, today()))
        .await
        .unwrap();
    let other = ssh::keys::client_key(SEED, "other");
    let nodes = again.start_ssh_nodes(other.public_key()).await.unwrap();
    let keys = |ns: &[SshNodeInfo]| -> Vec<(String, String, NodeKind)> {
        ns.iter()
            .map(|n| (n.server_id.clone(), n.fingerprint.clone(), n.kind))
            .collect()
    };
    assert_eq!(keys(&nodes), keys(&lab.nodes));
    assert!(matches!(
        again.start_ssh_nodes(other.public_key()).await,
        Err(kiln::sim::SimError::Ssh(
            kiln::sim::SshNodeError::AlreadyStarted
        ))
    ));

    // the nodes stop with the simulator
    let addr = nodes[0].addr;
    again.stop().await;
    let refused =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
            .await
            .unwrap();
    assert!(refused.is_err(), "a stopped node refuses connections");
    lab.sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_node_reads_ok_with_the_pinned_images_present() {
    let lab = Lab::start().await;
    let node = lab.one(NodeKind::Healthy);
    let o = lab.inspect(&[node], &[]).await;
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let h = o.host();
    assert_eq!(h["ok"], true);
    assert_eq!(h["error"], Value::Null);
    assert_eq!(errors(h), Vec::<String>::new(), "{}", o.stdout);
    let glance = lab.glance(node);
    assert_eq!(h["rke2_version"], glance["rke2_version"].as_str());
    assert_eq!(
        h["manifest"]["kubernetes"]["version"],
        glance["rke2_version"].as_str()
    );
    assert_eq!(h["manifest"]["image_name"], node.image_name.as_str());
    assert_eq!(h["manifest"]["image_name"], glance["name"].as_str());
    assert_eq!(
        h["manifest"]["packer_run_uuid"],
        glance["packer_run_uuid"].as_str()
    );
    assert_eq!(h["manifest"]["harbor_registry"], "harbor.vitro.lan");
    assert_eq!(
        h["manifest"]["rke2_airgapped_checksum"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    assert_eq!(h["fips_enabled_kernel"], false);
    let present: Vec<&str> = h["images_present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(present.len(), 28, "14 pinned images under both names");
    for (up, harbor) in pinned() {
        assert!(present.contains(&up.as_str()), "{up}");
        assert!(present.contains(&harbor.as_str()), "{harbor}");
    }
    let manifest: Vec<&str> = h["manifest"]["prepulled_images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let harbor: Vec<String> = pinned().into_iter().map(|(_, h)| h).collect();
    assert_eq!(manifest, harbor);
    lab.sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drifted_node_exits_1_with_its_three_findings() {
    let lab = Lab::start().await;
    let o = lab.inspect(&[lab.one(NodeKind::Drifted)], &[]).await;
    assert_eq!(o.code, 1, "{}\n{}", o.stdout, o.stderr);
    let h = o.host();
    assert_eq!(h["ok"], true);
    let mut errs = errors(h);
    errs.sort();
    assert_eq!(errs, ["image-missing", "rke2-version-mismatch"]);
    let f = findings(h);
    assert!(
        f.contains(&("warning".into(), "prepull-failed".into())),
        "{f:?}"
    );
    let manifest_version = h["manifest"]["kubernetes"]["version"].as_str().unwrap();
    assert_ne!(h["rke2_version"].as_str(), Some(manifest_version));
    assert_eq!(
        h["manifest"]["prepull_failures"].as_array().map(Vec::len),
        Some(1)
    );
    lab.sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fips_node_reports_fips_in_the_kernel() {
    let lab = Lab::start().await;
    let o = lab.inspect(&[lab.one(NodeKind::Fips)], &[]).await;
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let h = o.host();
    assert_eq!(h["fips_enabled_kernel"], true);
    assert_eq!(h["manifest"]["fips_enabled"], true);
    assert_eq!(
        h["manifest"]["ubuntu_pro"]["detached_before_snapshot"],
        true
    );
    assert_eq!(errors(h), Vec::<String>::new(), "{}", o.stdout);
    assert!(
        findings(h).contains(&("info".into(), "pro-attached".into())),
        "{}",
        o.stdout
    );
    let detail = h["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "pro-attached")
        .unwrap()["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("fips-updates"), "{detail}");
    lab.sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unknown_host_key_is_refused_then_accepted_with_accept_new() {
    let lab = Lab::start().await;
    let node = lab.one(NodeKind::UnknownHostKey);
    let o = lab.inspect(&[node], &[]).await;
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let err = o.host()["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("host key not known") && err.contains(&node.fingerprint),
        "{err}"
    );
    let o = lab.inspect(&[node], &["--accept-new"]).await;
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(errors(o.host()), Vec::<String>::new());
    let known = std::fs::read_to_string(&lab.files.known_hosts).unwrap();
    assert!(known.contains(&node.known_hosts_line), "recorded:\n{known}");
    let o = lab.inspect(&[node], &[]).await;
    assert_eq!(o.code, 0, "known now: {}", o.stdout);
    lab.sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_key_is_refused() {
    let lab = Lab::start().await;
    let intruder = ssh::keys::client_key(SEED, "intruder");
    let path = lab.tmp.path().join("intruder/id_ed25519");
    ssh::keys::write_private_key(&path, &intruder).unwrap();
    let node = lab.one(NodeKind::Healthy);
    let mut args = vec![
        node.addr.to_string(),
        "--json".into(),
        "--identity".into(),
        path.display().to_string(),
        "--known-hosts".into(),
        lab.files.known_hosts.display().to_string(),
    ];
    let o = inspect_bin(&lab.home, lab.tmp.path(), args.clone()).await;
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let err = o.host()["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("accepted none of") && err.contains("intruder"),
        "{err}"
    );
    // another login than ubuntu with the right key: refused as well
    args[3] = lab.files.identity.display().to_string();
    args.extend(["--user".into(), "root".into()]);
    let o = inspect_bin(&lab.home, lab.tmp.path(), args).await;
    assert_eq!(o.code, 2, "{}", o.stdout);
    lab.sim.stop().await;
}

/// Every node at once through the binary (the unknown one refused, exit 2), then every node
/// through kiln's library with the Glance properties of its image (as the Nodes view will),
/// and one connection serving two rounds of reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_nodes_in_parallel_and_a_connection_read_twice() {
    let lab = Lab::start().await;
    let all: Vec<&SshNodeInfo> = lab.nodes.iter().collect();
    let o = lab.inspect(&all, &[]).await;
    assert_eq!(o.code, 2, "the unknown host key: {}", o.stderr);
    let hosts = o.hosts();
    assert_eq!(hosts.len(), lab.nodes.len());
    for (n, h) in lab.nodes.iter().zip(hosts) {
        assert_eq!(h["host"], n.addr.to_string());
        match n.kind {
            NodeKind::UnknownHostKey => assert_eq!(h["ok"], false),
            NodeKind::Drifted => assert_eq!(errors(h).len(), 2, "{h}"),
            NodeKind::Healthy | NodeKind::Fips => {
                assert_eq!(h["ok"], true, "{h}");
                assert_eq!(errors(h), Vec::<String>::new(), "{}: {h}", n.name);
                assert_eq!(h["fips_enabled_kernel"], n.kind == NodeKind::Fips);
            }
        }
    }

    let mut options = InspectOptions::new(&lab.home);
    options.identities = vec![lab.files.identity.clone()];
    options.known_hosts = lab.tmp.path().join("library_known_hosts");
    std::fs::copy(&lab.files.known_hosts, &options.known_hosts).unwrap();
    let template = repo().join("stages/rke2-node.pkr.hcl");
    for n in &lab.nodes {
        let mut expect = Expectations::from_template(&template).unwrap();
        expect.glance_properties = Some(lab.glance(n));
        let target = Target::new("127.0.0.1", n.addr.port());
        let reports = tokio::time::timeout(
            Duration::from_secs(30),
            kiln::node::inspect(
                &[target],
                &options,
                &expect,
                Arc::new(AcceptNew(true)),
                Arc::new(|_| {}),
            ),
        )
        .await
        .unwrap();
        let r = &reports[0];
        assert!(r.ok, "{}: {:?}", n.name, r.error);
        let errs: Vec<_> = r
            .drift
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        let want = if n.kind == NodeKind::Drifted { 2 } else { 0 };
        assert_eq!(errs.len(), want, "{}: {errs:?}", n.name);
        assert!(
            r.drift
                .iter()
                .all(|f| f.severity != Severity::Warning || n.kind == NodeKind::Drifted),
            "{}: {:?}",
            n.name,
            r.drift
        );
    }

    // one connection, the reads twice (channels opened one after another on it)
    let node = lab.one(NodeKind::Healthy);
    let target = Target::new("127.0.0.1", node.addr.port());
    let conn = kiln::node::connect::connect(
        &target,
        "ubuntu",
        kiln::node::connect::Route::Direct,
        &options,
        Arc::new(AcceptNew(false)),
    )
    .await
    .unwrap();
    let first = kiln::node::reads::read_node(&conn, "n", &options).await;
    let second = kiln::node::reads::read_node(&conn, "n", &options).await;
    assert_eq!(first, second);
    assert!(first.manifest.manifest().is_some());
    lab.sim.stop().await;
}

/// A fleet whose rke2 servers are all on non-FIPS images: one image is made a FIPS build, in
/// Glance too, so its nodes are FIPS nodes without drift against their image's properties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_fips_image_one_is_made_in_glance_too() {
    let config = SimConfig {
        fleet: kiln::sim::FleetSize::Small,
        ..SimConfig::new(0, today())
    };
    let sim = kiln::sim::start(config).await.unwrap();
    let fleet_fips = |id: &str| {
        sim.fleet()
            .images
            .iter()
            .find(|i| i.id == id)
            .and_then(|i| i.properties.get("fips_enabled").cloned())
    };
    let image_of = |server: &str| {
        sim.fleet()
            .servers
            .iter()
            .find(|s| s.id == server)
            .and_then(|s| s.image_id.clone())
            .unwrap()
    };
    let key = ssh::keys::client_key(0, "t");
    let nodes = sim.start_ssh_nodes(key.public_key()).await.unwrap();
    let fips: Vec<&SshNodeInfo> = nodes.iter().filter(|n| n.kind == NodeKind::Fips).collect();
    assert!(!fips.is_empty());
    let made = image_of(&fips[0].server_id);
    assert_eq!(
        fleet_fips(&made).as_deref(),
        Some("false"),
        "not a FIPS build in the seed"
    );
    let now = sim.image(&made).unwrap();
    assert_eq!(
        now.properties["fips_enabled"], "true",
        "Glance says FIPS now"
    );
    for n in &nodes {
        let image = image_of(&n.server_id);
        let special = matches!(n.kind, NodeKind::Drifted | NodeKind::UnknownHostKey);
        assert!(
            special || (n.kind == NodeKind::Fips) == (image == made),
            "{n:?}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let files = ssh::write_client_files(tmp.path(), &key, &nodes).unwrap();
    let mut options = InspectOptions::new(tmp.path());
    options.identities = vec![files.identity];
    options.known_hosts = files.known_hosts;
    let mut expect = Expectations::from_template(&repo().join("stages/rke2-node.pkr.hcl")).unwrap();
    let mut props = now.properties.clone();
    props.insert("name".into(), now.name.clone());
    expect.glance_properties = Some(props);
    let target = Target::new("127.0.0.1", fips[0].addr.port());
    let reports = tokio::time::timeout(
        Duration::from_secs(30),
        kiln::node::inspect(
            &[target],
            &options,
            &expect,
            Arc::new(AcceptNew(false)),
            Arc::new(|_| {}),
        ),
    )
    .await
    .unwrap();
    let r = &reports[0];
    assert!(r.ok, "{:?}", r.error);
    assert_eq!(r.fips_enabled_kernel, Some(true));
    assert_eq!(r.errors(), 0, "{:?}", r.drift);
    let pro = r.manifest.as_ref().unwrap().ubuntu_pro.as_ref().unwrap();
    assert!(
        pro.attached_by_build && pro.detached_before_snapshot,
        "{pro:?}"
    );
    sim.stop().await;
}

/// `kiln demo`'s world: the nodes started, the key, known_hosts and user in the settings, the
/// endpoints by server id; inspecting every endpoint with those settings reads all nodes but
/// the one whose host key is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_world_points_its_ssh_settings_at_the_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_path_buf();
    let env = move |k: &str| match k {
        "HOME" => Some(home.display().to_string()),
        _ => None,
    };
    let mut settings = kiln::settings::Settings::resolve(
        &kiln::settings::Overrides::default(),
        kiln::settings::config::Config::default(),
        &env,
    );
    let world = kiln::demo::World::start(&mut settings, &kiln::clock::SystemClock)
        .await
        .unwrap();
    let ssh = &settings.config.ssh;
    assert_eq!(ssh.user.as_deref(), Some("ubuntu"));
    let identity = ssh.identity.clone().unwrap();
    let known = ssh.known_hosts.clone().unwrap();
    assert!(identity.starts_with(world.state.path()) && known.starts_with(world.state.path()));
    assert!(russh::keys::load_secret_key(&identity, None).is_ok());
    assert_eq!(world.ssh_endpoints.len(), world.ssh_nodes.len());
    for (id, addr) in &world.ssh_endpoints {
        assert_eq!(world.sim.ssh_endpoint(id), Some(*addr));
    }
    let mut options = InspectOptions::new(tmp.path());
    options.user = ssh.user.clone().unwrap();
    options.identities = vec![identity];
    options.known_hosts = known;
    let targets: Vec<Target> = world
        .ssh_endpoints
        .values()
        .map(|a| Target::new(a.ip().to_string(), a.port()))
        .collect();
    let expect = Expectations::from_template(&repo().join("stages/rke2-node.pkr.hcl")).unwrap();
    let reports = tokio::time::timeout(
        Duration::from_secs(60),
        kiln::node::inspect(
            &targets,
            &options,
            &expect,
            Arc::new(AcceptNew(false)),
            Arc::new(|_| {}),
        ),
    )
    .await
    .unwrap();
    let not_read: Vec<_> = reports.iter().filter(|r| !r.ok).collect();
    assert_eq!(not_read.len(), 1);
    let unknown = world
        .ssh_nodes
        .iter()
        .find(|n| n.kind == NodeKind::UnknownHostKey)
        .unwrap();
    assert_eq!(not_read[0].target.port, unknown.addr.port());
    assert_eq!(
        reports.iter().filter(|r| r.errors() > 0).count(),
        1,
        "the drifted one"
    );
    world.sim.stop().await;
}

/// OpenSSH's own client against a node: the simulator speaks real SSH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssh_runs_commands_on_a_node() {
    common::require_tool("ssh");
    let lab = Lab::start().await;
    let node = lab.one(NodeKind::Healthy).clone();
    let (home, identity, known, tmp) = (
        lab.home.clone(),
        lab.files.identity.clone(),
        lab.files.known_hosts.clone(),
        lab.tmp.path().to_path_buf(),
    );
    let ssh = move |extra: &[&str], command: &str| {
        let mut c = Command::new("ssh");
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(common::foreign_env) {
                c.env_remove(k);
            }
        }
        let out = tmp.join("ssh.out");
        let err = tmp.join("ssh.err");
        c.env("HOME", &home)
            .args([
                "-F",
                "/dev/null",
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
            ])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .arg("-i")
            .arg(&identity)
            .args(extra)
            .args([
                "-p",
                &node.addr.port().to_string(),
                "ubuntu@127.0.0.1",
                command,
            ])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let mut child = c.spawn().unwrap();
        let status = common::wait_bounded(&mut child, Duration::from_secs(30));
        (
            status.code(),
            std::fs::read_to_string(&out).unwrap(),
            std::fs::read_to_string(&err).unwrap(),
        )
    };
    let glance = lab.glance(&node);
    let sim = lab.sim;
    let (code, out, err) = tokio::task::spawn_blocking({
        let ssh = ssh.clone();
        move || ssh(&[], "rke2 --version")
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("rke2 version {} (", glance["rke2_version"])),
        "{out}"
    );
    assert!(out.contains("\ngo version go1."), "{out}");
    let (code, out, err) = tokio::task::spawn_blocking({
        let ssh = ssh.clone();
        move || ssh(&[], "frobnicate --now")
    })
    .await
    .unwrap();
    assert_eq!(code, Some(127), "{out}{err}");
    assert!(err.contains("sh: 1: frobnicate: not found"), "{err}");
    let (code, out, _) = tokio::task::spawn_blocking({
        let ssh = ssh.clone();
        move || ssh(&[], "cat /etc/packer-build/image-manifest.json")
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0));
    let m: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["image_name"], glance["name"].as_str());
    // passwords are never accepted
    let (code, _, err) = tokio::task::spawn_blocking(move || {
        ssh(
            &[
                "-o",
                "PreferredAuthentications=password,keyboard-interactive",
            ],
            "true",
        )
    })
    .await
    .unwrap();
    assert_eq!(code, Some(255));
    assert!(err.contains("Permission denied (publickey)"), "{err}");
    sim.stop().await;
}

/// `kiln sim --ssh-nodes`: the lines it prints are enough to inspect a node by hand; SIGTERM
/// stops it and removes what it wrote.
#[test]
fn kiln_sim_ssh_nodes_prints_what_kiln_inspect_needs() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut child = common::kiln(&home)
        .args(["sim", "--ssh-nodes", "--seed", "7", "--today", "2026-11-25"])
        .env("TMPDIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) if l == "ready" => break,
            Ok(l) => lines.push(l),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `ready` from kiln sim ({e}): {lines:?}");
            }
        }
    }
    let value = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .map(PathBuf::from)
            .unwrap_or_else(|| panic!("no {prefix} in {lines:?}"))
    };
    let identity = value("ssh-identity ");
    let known = value("ssh-known-hosts ");
    assert!(identity.starts_with(dir.path()) && known.starts_with(dir.path()));
    let nodes: Vec<(String, String, String)> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ssh-node "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 4, "{l}");
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect();
    assert!(nodes.len() >= 12, "{lines:?}");
    let kind = |k: &str| nodes.iter().filter(|n| n.2 == k).count();
    assert_eq!((kind("drifted"), kind("unknown-host-key")), (1, 1));
    assert!(nodes.iter().all(|n| n.1.starts_with("127.0.0.1:")));
    let addr = |k: &str| nodes.iter().find(|n| n.2 == k).unwrap().1.clone();
    let by_hand = |target: String| {
        let mut c = common::kiln(&home)
            .args(["inspect", &target, "--json", "--identity"])
            .arg(&identity)
            .arg("--known-hosts")
            .arg(&known)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = common::wait_bounded(&mut c, Duration::from_secs(60));
        let mut out = String::new();
        std::io::Read::read_to_string(&mut c.stdout.take().unwrap(), &mut out).unwrap();
        (status.code(), out)
    };
    let (code, out) = by_hand(addr("healthy"));
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = by_hand(addr("drifted"));
    assert_eq!(code, Some(1), "{out}");

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = common::wait_bounded(&mut child, Duration::from_secs(15));
    assert!(status.success(), "{status}");
    assert!(!identity.exists() && !known.exists(), "removed at the end");
}
