//! kiln's cloud client against the in-process simulator: listings with usage in every scope,
//! usage fetched once per listing, a revoked token renewed once, faults (20% 5xx with 2 s
//! latency; a failing service) and what the client says when it gives up, deletes (protected,
//! in use on Ceph RBD, plain), status transitions of servers and snapshots, credentials from the
//! clouds.yaml the simulator writes; and the `kiln sim` binary's contract.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::NaiveDate;
use kiln::cloud::credentials::CredentialSource;
use kiln::cloud::error::CloudError;
use kiln::cloud::retry::RetryPolicy;
use kiln::cloud::session::Svc;
use kiln::cloud::{CloudClient, SessionOptions, UsageScope};
use kiln::sim::{DeleteInUse, Fleet, FleetSize, Service, Sim, SimConfig, Timings};
use reqwest::Method;
use serde_json::{Value, json};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

async fn sim(seed: u64, fleet: FleetSize) -> Sim {
    let config = SimConfig {
        fleet,
        ..SimConfig::new(seed, today())
    };
    kiln::sim::start(config).await.expect("start the simulator")
}

async fn admin(sim: &Sim) -> CloudClient {
    CloudClient::connect(&sim.cloud_config(sim.admin()), SessionOptions::default())
        .await
        .expect("connect as admin")
}

fn count(sim: &Sim, service: Service, method: &str, path_part: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.service == Some(service) && r.method == method && r.path.contains(path_part))
        .count()
}

#[tokio::test]
async fn an_admin_listing_sees_every_rke2_image_and_usage_in_all_projects_once() {
    let sim = sim(42, FleetSize::Demo).await;
    let client = admin(&sim).await;
    sim.clear_requests();
    let listing = client.listing().await.expect("listing");
    let fleet = sim.fleet();
    let expected: Vec<&str> = fleet.rke2_images().map(|i| i.id.as_str()).collect();
    assert_eq!(listing.images.len(), expected.len());
    assert!(
        listing
            .images
            .iter()
            .all(|i| i.name.starts_with("rke2-node-"))
    );
    assert!(
        !listing
            .images
            .iter()
            .any(|i| i.name == "rke2-nodepool-legacy")
    );
    assert!(
        listing
            .images
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    let unparseable: Vec<_> = listing
        .images
        .iter()
        .filter(|i| i.parsed_name.is_none())
        .collect();
    assert_eq!(unparseable.len(), 1, "rke2-node-manual-test");
    for img in &listing.images {
        let f = fleet.images.iter().find(|x| x.id == img.id).unwrap();
        assert_eq!(img.protected, f.protected, "{}", img.name);
        assert_eq!(img.tags, f.tags);
        assert_eq!(img.visibility, f.visibility);
        assert_eq!(
            img.property("packer_run_uuid"),
            f.properties.get("packer_run_uuid").map(String::as_str)
        );
        if let Some(p) = &img.parsed_name {
            assert_eq!(img.series(), Some(p.series.as_str()));
        }
        let want = (
            fleet.servers_using(&img.id).count(),
            fleet.volumes_from(&img.id).count(),
        );
        assert_eq!(listing.usage.count(&img.id), want, "usage of {}", img.name);
    }
    assert_eq!(listing.usage.scope, UsageScope::AllProjects);
    assert!(
        listing.usage.errors.is_empty(),
        "{:?}",
        listing.usage.errors
    );
    assert_eq!(
        count(&sim, Service::Compute, "GET", "/servers/detail"),
        1,
        "Nova once per listing"
    );
    assert_eq!(
        count(&sim, Service::Volume, "GET", "/volumes/detail"),
        1,
        "Cinder once per listing"
    );
    assert_eq!(
        count(&sim, Service::Image, "GET", "/v2/images"),
        1,
        "one page of 1000: the other end is not asked when it holds everything"
    );
    sim.stop().await;
}

#[tokio::test]
async fn a_member_gets_project_scope_after_novas_403() {
    let sim = sim(42, FleetSize::Demo).await;
    let member = sim.member();
    let project = member.project_id.clone();
    let client = CloudClient::connect(&sim.cloud_config(member), SessionOptions::default())
        .await
        .unwrap();
    let listing = client.listing().await.unwrap();
    assert_eq!(listing.usage.scope, UsageScope::Project);
    assert_eq!(listing.usage.servers_scope, UsageScope::Project);
    let servers: Vec<_> = listing.usage.servers.values().flatten().collect();
    assert!(!servers.is_empty());
    assert!(
        servers.iter().all(|s| s.project_id == project),
        "only the member's project"
    );
    assert!(
        listing.images.iter().all(|i| i.visibility == "public"),
        "a member sees public images only"
    );
    let forbidden = sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/servers/detail") && r.status == 403)
        .count();
    assert_eq!(forbidden, 1, "all_tenants was tried once and refused");
    sim.stop().await;
}

#[tokio::test]
async fn a_service_missing_from_the_catalog_makes_usage_unknown() {
    let sim = sim(42, FleetSize::Small).await;
    sim.faults().set_missing(Service::Volume, true);
    let client = admin(&sim).await;
    let listing = client.listing().await.unwrap();
    assert_eq!(listing.usage.scope, UsageScope::Unknown);
    assert_eq!(listing.usage.volumes_scope, UsageScope::Unknown);
    assert_eq!(listing.usage.servers_scope, UsageScope::AllProjects);
    let e = listing
        .usage
        .errors
        .first()
        .expect("why it is unknown")
        .to_string();
    assert!(e.contains("Cinder") && e.contains("volumev3"), "{e}");
    sim.stop().await;
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once_and_short_tokens_are_renewed_before_expiry() {
    let sim = sim(42, FleetSize::Small).await;
    let client = admin(&sim).await;
    assert_eq!(client.session().tokens_issued(), 1);
    let id = sim.fleet().images[0].id.clone();
    sim.expire_tokens();
    assert!(client.image(&id).await.unwrap().is_some());
    assert_eq!(client.session().tokens_issued(), 2, "one re-authentication");
    let unauthorized = sim.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(unauthorized, 1);

    sim.faults().set_token_ttl(Duration::from_secs(3));
    sim.expire_tokens();
    client.image(&id).await.unwrap();
    let issued = client.session().tokens_issued();
    // Poll past the 3 s lifetime: the client renews in the token's last tenth (300 ms) instead
    // of sending a token that is about to expire.
    let deadline = Instant::now() + Duration::from_secs(15);
    while client.session().tokens_issued() == issued {
        assert!(Instant::now() < deadline, "no renewal within 15 s");
        client.image(&id).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unauthorized_after = sim.requests().iter().filter(|r| r.status == 401).count();
    assert_eq!(
        unauthorized_after, 2,
        "expiry is handled before the call, not by a 401"
    );
    sim.stop().await;
}

#[tokio::test]
async fn with_20_percent_5xx_and_2s_latency_a_full_listing_completes_within_the_budget() {
    // Seed 5's draws answer a 5xx among the first requests, whatever their order.
    let sim = sim(5, FleetSize::Demo).await;
    sim.faults().set_latency(Duration::from_secs(2));
    sim.faults().set_error_rate(0.2);
    let opts = SessionOptions::default();
    let budget = opts.retry.budget;
    let started = Instant::now();
    let client = CloudClient::connect(&sim.cloud_config(sim.admin()), opts)
        .await
        .expect("connect despite faults");
    let listing = client.listing().await.expect("listing despite faults");
    let took = started.elapsed();
    assert_eq!(listing.images.len(), sim.fleet().rke2_images().count());
    assert_eq!(
        listing.usage.scope,
        UsageScope::AllProjects,
        "{:?}",
        listing.usage.errors
    );
    let failed = sim.requests().iter().filter(|r| r.status >= 500).count();
    assert!(
        failed >= 1,
        "the faults were injected: {:?}",
        sim.requests()
    );
    assert!(took < budget, "{took:?}");
    assert!(took >= Duration::from_secs(4), "latency applied: {took:?}");
    sim.stop().await;
}

#[tokio::test]
async fn giving_up_names_the_calls_that_failed() {
    let sim = sim(42, FleetSize::Small).await;
    let opts = SessionOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(50),
            budget: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(1),
        },
        ..SessionOptions::default()
    };
    let client = CloudClient::connect(&sim.cloud_config(sim.admin()), opts)
        .await
        .unwrap();
    sim.faults().set_failing(Service::Image, Some(503));
    sim.faults().set_failing(Service::Volume, Some(502));
    let e = client.listing().await.expect_err("Glance always fails");
    let text = e.to_string();
    let CloudError::Several { failed } = &e else {
        panic!("{e:?}")
    };
    let calls: Vec<&str> = failed.iter().filter_map(|f| f.call()).collect();
    assert_eq!(
        calls,
        [
            "GET /images?sort=created_at:desc&limit=1000",
            "GET /volumes/detail?limit=1000&all_tenants=1"
        ],
        "{text}"
    );
    assert!(text.starts_with("2 calls failed: Glance GET /images?sort=created_at:desc&limit=1000: gave up after 3 attempts"), "{text}");
    assert!(
        text.contains("(503, 503, 503)")
            && text.contains(
                "Cinder GET /volumes/detail?limit=1000&all_tenants=1: gave up after 3 attempts"
            ),
        "{text}"
    );
    sim.faults().set_failing(Service::Volume, None);

    sim.faults().set_failing(Service::Image, None);
    sim.faults().set_failing(Service::Compute, Some(500));
    let listing = client.listing().await.expect("images still list");
    assert_eq!(listing.usage.scope, UsageScope::Unknown);
    let why: Vec<String> = listing
        .usage
        .errors
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].starts_with(
            "Nova GET /servers/detail?limit=1000&all_tenants=1: gave up after 3 attempts"
        ),
        "{why:?}"
    );

    sim.faults().set_failing(Service::Compute, None);
    sim.faults().set_latency(Duration::from_millis(1500));
    let e = client
        .image(&sim.fleet().images[0].id)
        .await
        .expect_err("every attempt times out");
    assert!(e.to_string().contains("timeout, timeout"), "{e}");
    assert!(e.is_unreachable());
    sim.stop().await;
}

#[tokio::test]
async fn deletes_refuse_protected_images_and_in_use_images_on_rbd() {
    let sim = sim(42, FleetSize::Demo).await;
    let client = admin(&sim).await;
    let fleet = sim.fleet().clone();
    let protected = fleet.rke2_images().find(|i| i.protected).unwrap();
    let e = client
        .delete_image(&protected.id)
        .await
        .expect_err("protected");
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(e.to_string().contains("protected"), "{e}");
    assert!(client.image(&protected.id).await.unwrap().is_some());

    let in_use = fleet
        .rke2_images()
        .find(|i| !i.protected && fleet.servers_using(&i.id).count() > 0)
        .unwrap();
    sim.faults().set_delete_in_use(DeleteInUse::Conflict);
    let e = client
        .delete_image(&in_use.id)
        .await
        .expect_err("in use on Ceph RBD");
    assert_eq!(e.status(), Some(409), "{e}");
    sim.faults().set_delete_in_use(DeleteInUse::Delete);
    client
        .delete_image(&in_use.id)
        .await
        .expect("a file store deletes it anyway");
    assert_eq!(client.image(&in_use.id).await.unwrap(), None);

    let img = client.set_protected(&protected.id, false).await.unwrap();
    assert!(!img.protected);
    client
        .delete_image(&protected.id)
        .await
        .expect("unprotected now");
    sim.stop().await;
}

/// Polls `f` until it returns Some, for at most `limit`.
async fn poll<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn servers_build_then_run_stop_and_snapshot_to_an_active_image() {
    let config = SimConfig {
        timings: Timings {
            server_build: Duration::from_millis(300),
            server_stop: Duration::from_millis(200),
            image_save: Duration::from_millis(400),
        },
        fleet: FleetSize::Small,
        ..SimConfig::new(42, today())
    };
    let sim = kiln::sim::start(config).await.unwrap();
    let mut events = sim.subscribe();
    let client = admin(&sim).await;
    let s = client.session();
    let base = sim
        .fleet()
        .images
        .iter()
        .find(|i| i.name == "ubuntu-22.04")
        .unwrap()
        .id
        .clone();
    let body = json!({"server": {"name": "build-vm", "imageRef": base, "flavorRef": "2",
                                 "networks": [{"uuid": sim.fleet().networks[0].id}]}});
    let a = s
        .call(
            Svc::Nova,
            Method::POST,
            "/servers",
            &[],
            Some((Bytes::from(body.to_string()), "application/json")),
        )
        .await
        .unwrap();
    assert_eq!(a.status, 202);
    let id = serde_json::from_slice::<Value>(&a.body).unwrap()["server"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        events.recv().await.unwrap(),
        kiln::sim::SimEvent::ServerCreated {
            id: id.clone(),
            name: "build-vm".into()
        }
    );
    let status = |s: &kiln::cloud::session::CloudSession| {
        let path = format!("/servers/{}", id);
        let s = s.clone();
        async move {
            s.get_json::<Value>(Svc::Nova, &path, &[]).await.unwrap()["server"]["status"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(status(s).await, "BUILD");
    poll(Duration::from_secs(5), || async {
        (status(s).await == "ACTIVE").then_some(())
    })
    .await;
    let action_path = format!("/servers/{id}/action");
    let action = |body: Value| {
        s.call(
            Svc::Nova,
            Method::POST,
            &action_path,
            &[],
            Some((Bytes::from(body.to_string()), "application/json")),
        )
    };
    assert_eq!(action(json!({"os-stop": null})).await.unwrap().status, 202);
    poll(Duration::from_secs(5), || async {
        (status(s).await == "SHUTOFF").then_some(())
    })
    .await;
    let a = action(json!({"createImage": {"name": "rke2-node-v1.29-20261125", "metadata": {"fips_enabled": "false"}}})).await.unwrap();
    let location = a.location.expect("Location of the new image");
    let image_id = location.rsplit('/').next().unwrap().to_string();
    let first = client.image(&image_id).await.unwrap().unwrap();
    assert!(
        ["queued", "saving"].contains(&first.status.as_str()),
        "{}",
        first.status
    );
    assert_eq!(first.property("fips_enabled"), Some("false"));
    poll(Duration::from_secs(5), || async {
        (client.image(&image_id).await.unwrap().unwrap().status == "active").then_some(())
    })
    .await;
    let del = s
        .call(
            Svc::Nova,
            Method::DELETE,
            &format!("/servers/{id}"),
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(del.status, 204);
    let e = s
        .get_json::<Value>(Svc::Nova, &format!("/servers/{id}"), &[])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    sim.stop().await;
}

#[tokio::test]
async fn credentials_come_from_the_sims_clouds_yaml_or_openrc_without_touching_the_environment() {
    use std::os::unix::fs::PermissionsExt;
    let sim = sim(42, FleetSize::Small).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clouds.yaml");
    sim.write_clouds_yaml(&path, &sim.admin()).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let file = path.display().to_string();
    let env = move |k: &str| (k == "OS_CLIENT_CONFIG_FILE").then(|| file.clone());
    let source = CredentialSource::detect(Some("kiln-sim"), &env);
    assert!(
        source.describe().starts_with("cloud `kiln-sim` in "),
        "{}",
        source.describe()
    );
    let client = CloudClient::connect_source(&source, SessionOptions::default())
        .await
        .unwrap();
    assert_eq!(
        client.rke2_images().await.unwrap().len(),
        sim.fleet().rke2_images().count()
    );

    let openrc: HashMap<&str, String> = sim.member().openrc().into_iter().collect();
    let source = CredentialSource::detect(None, &|k| openrc.get(k).cloned());
    let client = CloudClient::connect_source(&source, SessionOptions::default())
        .await
        .unwrap();
    let info = client.session().token_info().await.unwrap();
    assert_eq!(
        info.project_id.as_deref(),
        Some(sim.member().project_id.as_str())
    );
    assert!(!info.is_admin());

    let client = CloudClient::connect(&sim.app_cred_config(sim.admin()), SessionOptions::default())
        .await
        .unwrap();
    assert!(client.session().token_info().await.unwrap().is_admin());

    let mut wrong = sim.admin();
    wrong.password.push('x');
    let e = CloudClient::connect(&sim.cloud_config(wrong), SessionOptions::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refused the credentials"), "{e}");
    sim.stop().await;
}

/// Kills the process with this PID when dropped (after a failed assertion too); a process that
/// already exited and was reaped is not signalled.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0);
        if std::path::Path::new(&format!("/proc/{}", self.0)).exists() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// `kiln sim`'s stdout, line by line, with a deadline per line.
fn read_until_ready(child: &mut std::process::Child) -> Vec<String> {
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
            Ok(l) if l == "ready" => return lines,
            Ok(l) => lines.push(l),
            Err(e) => {
                let _ = child.kill();
                panic!("no `ready` from kiln sim ({e}); got {lines:?}");
            }
        }
    }
}

#[tokio::test]
async fn kiln_sim_prints_exports_clouds_yaml_and_ready_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("OS_") || k.starts_with("PKR_VAR_") || k.starts_with("KILN_") {
            cmd.env_remove(&k);
        }
    }
    cmd.args([
        "sim",
        "--fleet",
        "small",
        "--seed",
        "9",
        "--today",
        "2026-11-25",
    ])
    .env("TMPDIR", dir.path())
    .env("HOME", dir.path())
    .env("XDG_CONFIG_HOME", dir.path().join("config"))
    .env("XDG_STATE_HOME", dir.path().join("state"))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("run kiln sim");
    let _guard = KillOnDrop(child.id() as i32);
    let lines = read_until_ready(&mut child);
    let keys: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("export ")?.split('=').next())
        .collect();
    assert_eq!(
        keys,
        [
            "OS_AUTH_URL",
            "OS_USERNAME",
            "OS_PASSWORD",
            "OS_PROJECT_NAME",
            "OS_USER_DOMAIN_NAME",
            "OS_PROJECT_DOMAIN_NAME",
            "OS_REGION_NAME",
            "OS_IDENTITY_API_VERSION"
        ]
    );
    assert_eq!(lines.len(), 9, "{lines:?}");
    let yaml = std::path::PathBuf::from(&lines[8]);
    assert!(yaml.starts_with(dir.path()), "{lines:?}");
    let text = std::fs::read_to_string(&yaml).unwrap();
    assert!(text.contains("  kiln-sim:"), "{text}");
    let env: HashMap<String, String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(env["OS_AUTH_URL"].starts_with("http://127.0.0.1:"));
    let source = CredentialSource::detect(None, &|k| env.get(k).cloned());
    let client = CloudClient::connect_source(&source, SessionOptions::default())
        .await
        .unwrap();
    let fleet = Fleet::generate(9, today(), FleetSize::Small);
    let listed = client.rke2_images().await.unwrap();
    let mut got: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
    let mut want: Vec<&str> = fleet.rke2_images().map(|i| i.id.as_str()).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(
        got, want,
        "the binary serves Fleet::generate(seed, today, size)"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kiln sim did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    assert!(!yaml.exists(), "the throwaway clouds.yaml is removed");

    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["sim", "--fleet", "huge"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected small, demo, large or a number")
    );
}

/// A self-signed certificate for 127.0.0.1 made with the openssl CLI: (cert path, key path).
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
        ])
        .args([
            "-subj",
            "/CN=kiln-sim",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args([
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[tokio::test]
async fn tls_is_verified_against_cacert_or_skipped_with_verify_false() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let config = SimConfig {
        fleet: FleetSize::Small,
        tls: Some(kiln::sim::SimTls {
            cert_pem: std::fs::read(&cert).unwrap(),
            key_pem: std::fs::read(&key).unwrap(),
        }),
        ..SimConfig::new(42, today())
    };
    let sim = kiln::sim::start(config).await.unwrap();
    assert!(sim.url().starts_with("https://127.0.0.1:"), "{}", sim.url());
    let want = sim.fleet().rke2_images().count();

    let e = CloudClient::connect(&sim.cloud_config(sim.admin()), SessionOptions::default())
        .await
        .expect_err("an unknown issuer is refused");
    let text = e.to_string();
    assert!(matches!(e, CloudError::Tls { .. }), "not retried: {e:?}");
    assert!(
        text.starts_with("Keystone POST /v3/auth/tokens: TLS: error sending request"),
        "{text}"
    );
    assert!(
        text.contains("UnknownIssuer") && text.contains("cacert"),
        "{text}"
    );

    // clouds.yaml with `cacert`: verified against it.
    let path = dir.path().join("clouds.yaml");
    sim.write_clouds_yaml(&path, &sim.admin()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let with_ca = text.replace(
        "    region_name:",
        &format!("    cacert: {}\n    region_name:", cert.display()),
    );
    std::fs::write(&path, &with_ca).unwrap();
    let file = path.display().to_string();
    let env = |k: &str| (k == "OS_CLIENT_CONFIG_FILE").then(|| file.clone());
    let source = CredentialSource::detect(Some("kiln-sim"), &env);
    assert_eq!(
        source.config().unwrap().tls.ca_file.as_deref(),
        Some(cert.as_path())
    );
    let client = CloudClient::connect_source(&source, SessionOptions::default())
        .await
        .unwrap();
    assert_eq!(client.listing().await.unwrap().images.len(), want);

    // `verify: false`: no verification at all.
    std::fs::write(
        &path,
        text.replace("    region_name:", "    verify: false\n    region_name:"),
    )
    .unwrap();
    let source = CredentialSource::detect(Some("kiln-sim"), &env);
    assert!(!source.config().unwrap().tls.verify);
    let client = CloudClient::connect_source(&source, SessionOptions::default())
        .await
        .unwrap();
    assert_eq!(client.rke2_images().await.unwrap().len(), want);
    sim.stop().await;
}

/// Nova finds a flavor by id only, as a real Nova does: the `m1.*` flavors have Nova's default
/// ids, so a client that names one must look its id up in the listing (packer 1.6.6 asks
/// `GET /flavors/m1.large`, gets a 404, then lists `/flavors/detail`), and a server cannot be
/// created with a flavor's name as its `flavorRef`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flavors_are_found_by_id_and_a_name_is_not_an_id() {
    let sim = kiln::sim::start(SimConfig {
        fleet: FleetSize::Small,
        ..SimConfig::new(42, today())
    })
    .await
    .unwrap();
    let client = admin(&sim).await;
    let s = client.session();
    match s
        .call(Svc::Nova, Method::GET, "/flavors/m1.large", &[], None)
        .await
    {
        Err(CloudError::Api {
            status, message, ..
        }) => {
            assert_eq!(status, 404);
            assert_eq!(message, "Flavor m1.large could not be found.");
        }
        other => panic!("a flavor's name is not its id: {other:?}"),
    }
    let list: Value = s.get_json(Svc::Nova, "/flavors/detail", &[]).await.unwrap();
    let large = list["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "m1.large")
        .unwrap()
        .clone();
    assert_eq!(large["id"], "4");
    assert_eq!(large["vcpus"], 4);
    let by_id: Value = s.get_json(Svc::Nova, "/flavors/4", &[]).await.unwrap();
    assert_eq!(by_id["flavor"]["name"], "m1.large");
    // operators' own flavors may have their name as their id
    let k8s: Value = s
        .get_json(Svc::Nova, "/flavors/k8s.worker", &[])
        .await
        .unwrap();
    assert_eq!(k8s["flavor"]["name"], "k8s.worker");
    // the fleet's servers carry the ids
    let servers: Value = s
        .get_json(
            Svc::Nova,
            "/servers/detail",
            &[("all_tenants".to_string(), "1".to_string())],
        )
        .await
        .unwrap();
    let ids: std::collections::BTreeSet<&str> = servers["servers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["flavor"]["id"].as_str())
        .collect();
    assert!(
        ids.iter()
            .all(|i| ["2", "3", "4", "k8s.control", "k8s.worker"].contains(i)),
        "{ids:?}"
    );
    let base = sim
        .fleet()
        .images
        .iter()
        .find(|i| i.name == "ubuntu-22.04")
        .unwrap()
        .id
        .clone();
    let body = json!({"server": {"name": "by-name", "imageRef": base, "flavorRef": "m1.large"}});
    match s
        .call(
            Svc::Nova,
            Method::POST,
            "/servers",
            &[],
            Some((Bytes::from(body.to_string()), "application/json")),
        )
        .await
    {
        Err(CloudError::Api {
            status, message, ..
        }) => {
            assert_eq!(status, 400);
            assert_eq!(message, "Flavor m1.large could not be found.");
        }
        other => panic!("a server with a flavor's name as flavorRef: {other:?}"),
    }
    sim.stop().await;
}
