//! The simulator's hybrid mode with another simulator as the "external" Keystone and Glance (the
//! real ones are in tests/retention_real_glance.rs): Nova and Cinder accept the external
//! Keystone's tokens (validated once, then cached; an unknown token is 401), take project and
//! roles from its answer (`all_tenants` for its admin, 403 for a member), boot servers and boot
//! volumes from images only the external Glance holds, and refuse an image it does not know;
//! a gate holds a chosen request until the test lets it through; `kiln sim --external-keystone`
//! prints the endpoints to register.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::NaiveDate;
use kiln::sim::{FleetSize, Service, Sim, SimConfig, SimCredentials};
use serde_json::{Value, json};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

/// (the "external" cloud, the hybrid serving Nova and Cinder for it).
async fn pair() -> (Sim, Sim) {
    let external = kiln::sim::start(SimConfig {
        fleet: FleetSize::Small,
        ..SimConfig::new(5, today())
    })
    .await
    .unwrap();
    let hybrid = kiln::sim::start(SimConfig {
        fleet: FleetSize::Small,
        external_keystone: Some(external.auth_url()),
        ..SimConfig::new(6, today())
    })
    .await
    .unwrap();
    (external, hybrid)
}

async fn token(http: &reqwest::Client, c: &SimCredentials) -> String {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": c.username, "password": c.password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": c.project_name, "domain": {"name": "Default"}}}}});
    let r = http
        .post(format!("{}/auth/tokens", c.auth_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.headers()["x-subject-token"].to_str().unwrap().to_string()
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = http.request(method, url).header("x-auth-token", token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn validations(external: &Sim) -> usize {
    external
        .requests()
        .iter()
        .filter(|r| {
            r.service == Some(Service::Identity) && r.method == "GET" && r.path == "/v3/auth/tokens"
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nova_and_cinder_serve_an_external_keystones_tokens_and_its_glances_images() {
    let (external, hybrid) = pair().await;
    let http = reqwest::Client::new();
    let admin = external.admin();
    let t = token(&http, &admin).await;
    let nova = hybrid.compute_endpoint();
    let servers = format!("{nova}/servers/detail?all_tenants=1");

    // The hybrid starts without servers; the admin's token is validated once, then cached.
    let (status, v) = call(&http, reqwest::Method::GET, &servers, &t, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["servers"], json!([]));
    call(&http, reqwest::Method::GET, &servers, &t, None).await;
    assert_eq!(validations(&external), 1, "the second call used the cache");
    let (status, _) = call(&http, reqwest::Method::GET, &servers, "gAAAAAbogus", None).await;
    assert_eq!(status, 401);

    // Boot from an image only the external Glance holds: it is read there with the caller's token.
    let image = external
        .fleet()
        .rke2_images()
        .find(|i| i.status == "active")
        .unwrap()
        .clone();
    let (status, v) = call(
        &http,
        reqwest::Method::POST,
        &format!("{nova}/servers"),
        &t,
        Some(json!({"server": {"name": "n1", "imageRef": image.id, "flavorRef": "2"}})),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    assert!(
        external
            .requests()
            .iter()
            .any(|r| r.service == Some(Service::Image)
                && r.path == format!("/v2/images/{}", image.id))
    );
    let (_, v) = call(&http, reqwest::Method::GET, &servers, &t, None).await;
    let listed = &v["servers"][0];
    assert_eq!(listed["image"]["id"], json!(image.id));
    assert_eq!(
        listed["tenant_id"],
        json!(admin.project_id),
        "the external project"
    );
    // Boot from a volume made from it: Cinder shows the image in volume_image_metadata.
    let (status, v) = call(
        &http,
        reqwest::Method::POST,
        &format!("{nova}/servers"),
        &t,
        Some(
            json!({"server": {"name": "n2", "flavorRef": "2", "imageRef": "",
            "block_device_mapping_v2": [{"boot_index": 0, "uuid": image.id, "source_type": "image",
                "destination_type": "volume", "volume_size": 10, "delete_on_termination": true}]}}),
        ),
    )
    .await;
    assert_eq!(status, 202, "{v}");
    let cinder = hybrid
        .volume_endpoint()
        .replace("%(project_id)s", &admin.project_id);
    let (status, v) = call(
        &http,
        reqwest::Method::GET,
        &format!("{cinder}/volumes/detail?all_tenants=1"),
        &t,
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["volumes"][0]["volume_image_metadata"]["image_id"],
        json!(image.id)
    );
    // An image neither Glance knows is refused, as Nova refuses it.
    let (status, v) = call(
        &http,
        reqwest::Method::POST,
        &format!("{nova}/servers"),
        &t,
        Some(json!({"server": {"name": "n3", "imageRef": "no-such-image", "flavorRef": "2"}})),
    )
    .await;
    assert_eq!(status, 400, "{v}");

    // A member of the external Keystone gets its own project only.
    let member = external.member();
    let mt = token(&http, &member).await;
    let (status, _) = call(&http, reqwest::Method::GET, &servers, &mt, None).await;
    assert_eq!(status, 403, "all_tenants needs the admin role");
    let (status, v) = call(
        &http,
        reqwest::Method::GET,
        &format!("{nova}/servers/detail"),
        &mt,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        v["servers"],
        json!([]),
        "the admin's servers are not the member's"
    );

    // The sim's own tokens keep working on its Nova.
    let own = token(&http, &hybrid.admin()).await;
    let (status, _) = call(&http, reqwest::Method::GET, &servers, &own, None).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_holds_a_request_until_the_test_lets_it_through() {
    let (external, hybrid) = pair().await;
    let http = reqwest::Client::new();
    let t = token(&http, &external.admin()).await;
    let url = format!("{}/servers/detail", hybrid.compute_endpoint());
    let mut gate = hybrid.hold(Service::Compute, "GET", "/v2.1/servers/detail");
    let pending = tokio::spawn({
        let (http, url, t) = (http.clone(), url.clone(), t.clone());
        async move { call(&http, reqwest::Method::GET, &url, &t, None).await.0 }
    });
    let held = gate.next(Duration::from_secs(10)).await.expect("held");
    assert_eq!(
        (held.method.as_str(), held.path.as_str()),
        ("GET", "/v2.1/servers/detail")
    );
    assert!(hybrid.requests().is_empty(), "not answered while held");
    held.release();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), pending)
            .await
            .unwrap()
            .unwrap(),
        200
    );
    drop(gate);
    let (status, _) = call(&http, reqwest::Method::GET, &url, &t, None).await;
    assert_eq!(status, 200, "a dropped gate holds nothing");
}

#[test]
fn kiln_sim_with_an_external_keystone_prints_the_endpoints_to_register() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("OS_") || k.starts_with("PKR_VAR_") || k.starts_with("KILN_") {
            cmd.env_remove(&k);
        }
    }
    let mut child = cmd
        .args([
            "sim",
            "--fleet",
            "small",
            "--external-keystone",
            "http://127.0.0.1:9/v3",
        ])
        .env("TMPDIR", dir.path())
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.last().map(String::as_str) != Some("ready") {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => lines.push(l),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `ready` ({e}): {lines:?}");
            }
        }
    }
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
        child
    });
    let status = done_rx.recv_timeout(Duration::from_secs(10));
    if status.is_err() {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
    assert!(
        status
            .expect("kiln sim stops on SIGTERM")
            .unwrap()
            .success()
    );
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("compute http://127.0.0.1:") && lines[0].ends_with("/compute/v2.1"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("volumev3 http://127.0.0.1:")
            && lines[1].ends_with("/volume/v3/%(project_id)s"),
        "{lines:?}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no clouds.yaml: the credentials are the external Keystone's"
    );
}
