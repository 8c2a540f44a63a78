//! The image listing, the verdicts and the delete path against a REAL Keystone 30 + Glance 33
//! (tests/cloud/), with Glance's page cap at 3 so listings cross pages, and images backdated in
//! Glance's sqlite database (`created_at` is read-only through the API).
//!
//! Without Nova and Cinder in the catalog kiln cannot prove any image unused and keeps every one
//! (`usage_unknown`), and `retention apply` deletes nothing. Glance itself refuses a protected
//! delete; an unprotected one goes.
//!
//! Real Nova and Cinder cannot run here, so the simulator serves them in hybrid mode for the
//! real Keystone (registered in its catalog; tokens validated there) and boots servers from
//! images it reads in the real Glance. Then: `in_use` counts servers and boot volumes, a
//! protected old image keeps `protected`, the others old and unused are eligible; an in-use image
//! is never attempted (not in the audit file, no DELETE in Glance's access log); an image a
//! server boots from after `retention apply` made its plan (a gate holds apply's first re-check)
//! is skipped, while the other eligible ones are deleted from the real Glance.

mod common;
#[path = "cloud/harness.rs"]
mod harness;

use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use kiln::cloud::credentials::CredentialSource;
use kiln::cloud::session::Svc;
use kiln::cloud::{CloudClient, SessionOptions};
use kiln::sim::{FleetSize, Service, Sim, SimConfig};
use reqwest::Method;
use serde_json::{Value, json};

/// (name, created days before today); the last name's date disagrees with its age.
const IMAGES: &[(&str, i64)] = &[
    ("rke2-node-v1.28-20260301", 269),
    ("rke2-node-v1.28-20260501", 208),
    ("rke2-node-v1.28-20260801", 116),
    ("rke2-node-v1.29-20260901", 85),
    ("rke2-node-v1.29-20261001", 55),
    ("rke2-node-v1.29-20261101", 24),
    ("rke2-node-v1.29-20261120", 5),
    ("rke2-node-v1.27-20250101", 30),
    ("not-an-rke2-node", 300),
];

async fn create(http: &reqwest::Client, glance: &str, token: &str, name: &str) -> String {
    let r = http
        .post(format!("{glance}/v2/images"))
        .header("x-auth-token", token)
        .json(
            &json!({"name": name, "disk_format": "raw", "container_format": "bare",
                      "visibility": "private"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = http
        .put(format!("{glance}/v2/images/{id}/file"))
        .header("x-auth-token", token)
        .header("content-type", "application/octet-stream")
        .body(vec![0u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    id
}

/// A token for the openrc's admin, straight from Keystone.
async fn token(http: &reqwest::Client, cloud: &harness::RealCloud) -> String {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": cloud.var("OS_USERNAME"), "password": cloud.var("OS_PASSWORD"),
            "domain": {"name": cloud.var("OS_USER_DOMAIN_NAME")}}}},
        "scope": {"project": {"name": cloud.var("OS_PROJECT_NAME"),
            "domain": {"name": cloud.var("OS_PROJECT_DOMAIN_NAME")}}}}});
    let r = http
        .post(format!("{}/auth/tokens", cloud.var("OS_AUTH_URL")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.headers()["x-subject-token"].to_str().unwrap().to_string()
}

fn backdate(db: &std::path::Path, id: &str, days: i64) {
    let at = (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('UPDATE images SET created_at = ? WHERE id = ?', (sys.argv[2], sys.argv[3])); c.commit()",
        ])
        .arg(db)
        .args([&at, id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_verdicts_and_deletes_against_a_real_glance() {
    let cloud = harness::RealCloud::start(&[
        ("KILN_GLANCE_API_LIMIT_MAX", "3"),
        ("KILN_GLANCE_LIMIT_DEFAULT", "2"),
    ]);
    let env = |k: &str| cloud.openrc.get(k).cloned();
    let client = CloudClient::connect_source(
        &CredentialSource::detect(None, &env),
        SessionOptions::default(),
    )
    .await
    .expect("connect to the real Keystone");
    let http = reqwest::Client::new();
    let token = token(&http, &cloud).await;
    let glance = client
        .session()
        .endpoint(kiln::cloud::session::Svc::Glance)
        .await
        .unwrap();
    let glance = glance
        .trim_end_matches('/')
        .trim_end_matches("/v2")
        .to_string();
    let mut ids = Vec::new();
    for (name, days) in IMAGES {
        let id = create(&http, &glance, &token, name).await;
        backdate(&cloud.glance_db(), &id, *days);
        ids.push(id);
    }

    // kiln images --json, as an operator with the openrc sourced.
    let home = tempfile::tempdir().unwrap();
    let out = common::kiln(home.path())
        .envs(cloud.openrc.iter())
        .args(["images", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let rke2: Vec<&(&str, i64)> = IMAGES
        .iter()
        .filter(|(n, _)| n.starts_with("rke2-node-"))
        .collect();
    assert_eq!(
        listed.len(),
        rke2.len(),
        "every rke2-node-* image, across pages of 3: {listed:?}"
    );
    for (name, days) in &rke2 {
        let i = listed.iter().find(|i| i["name"] == *name).unwrap();
        assert_eq!(i["age_days"].as_i64(), Some(*days), "{name}");
        assert_eq!(
            i["usage_scope"], "unknown",
            "no Nova or Cinder in this catalog"
        );
        assert_eq!(i["verdict"], "keep", "{name}: nothing is proven unused");
        assert!(
            i["reasons"]
                .as_array()
                .unwrap()
                .contains(&json!("usage_unknown"))
        );
    }
    let mismatch = listed
        .iter()
        .find(|i| i["name"] == "rke2-node-v1.27-20250101")
        .unwrap();
    assert!(
        mismatch["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("name_date_mismatch"))
    );
    let newest = listed
        .iter()
        .find(|i| i["name"] == "rke2-node-v1.29-20261120")
        .unwrap();
    assert!(
        newest["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("newest"))
    );
    let old = listed
        .iter()
        .find(|i| i["name"] == "rke2-node-v1.28-20260301")
        .unwrap();
    assert!(
        !old["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("younger_than_min_age"))
    );

    // --all shows the other image too, never eligible.
    let out = common::kiln(home.path())
        .envs(cloud.openrc.iter())
        .args(["images", "--json", "--all"])
        .output()
        .unwrap();
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let other = all
        .iter()
        .find(|i| i["name"] == "not-an-rke2-node")
        .unwrap();
    assert!(
        other["reasons"]
            .as_array()
            .unwrap()
            .contains(&json!("unparseable_name"))
    );

    // Retention deletes nothing it cannot prove unused.
    let out = common::kiln(home.path())
        .envs(cloud.openrc.iter())
        .args(["retention", "apply", "--yes"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 deleted"));
    for id in &ids {
        assert!(client.image(id).await.unwrap().is_some());
    }

    // Glance refuses a protected delete; kiln says so with the status.
    client.set_protected(&ids[0], true).await.unwrap();
    let e = client.delete_image(&ids[0]).await.unwrap_err().to_string();
    assert!(e.contains("403"), "{e}");
    assert!(client.image(&ids[0]).await.unwrap().is_some());
    // An unprotected image goes.
    client.delete_image(&ids[1]).await.unwrap();
    assert!(client.image(&ids[1]).await.unwrap().is_none());
    client.set_protected(&ids[0], false).await.unwrap();
}

/// (name, created days before today) for the hybrid test, oldest first.
const HYBRID_IMAGES: [(&str, i64); 8] = [
    ("rke2-node-v1.28-20260301", 270), // eligible
    ("rke2-node-v1.28-20260401", 239), // two servers booted from it before the plan
    ("rke2-node-v1.28-20260501", 209), // eligible; a server boots from it after the plan
    ("rke2-node-v1.28-20260601", 178), // protected
    ("rke2-node-v1.28-20260701", 148), // a boot volume made from it (Cinder)
    ("rke2-node-v1.28-20260801", 117), // eligible
    ("rke2-node-v1.28-20261101", 25),  // latest in its series, young
    ("rke2-node-v1.29-20261120", 6),   // the newest
];

/// How long one kiln run, or one wait at the gate, may take.
const PATIENCE: Duration = Duration::from_secs(180);

/// `kiln ARGS` as an operator with the openrc sourced, bounded by [`PATIENCE`]; its stdout once
/// it succeeded. (Async: the in-process simulator serves kiln's calls meanwhile.)
async fn kiln(home: &std::path::Path, cloud: &harness::RealCloud, args: &[&str]) -> String {
    let mut cmd = tokio::process::Command::from(common::kiln(home));
    cmd.envs(cloud.openrc.iter())
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("kiln {args:?} took over {PATIENCE:?}"))
        .unwrap();
    assert!(
        out.status.success(),
        "kiln {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Boots a server in the simulator's Nova through the real catalog, as `client`'s user:
/// from `image` (`volume`: false), or from a new boot volume made from it.
async fn boot(client: &CloudClient, name: &str, image: &str, volume: bool) {
    let server = if volume {
        json!({"name": name, "flavorRef": "2", "imageRef": "",
               "block_device_mapping_v2": [{"boot_index": 0, "uuid": image,
                   "source_type": "image", "destination_type": "volume", "volume_size": 10,
                   "delete_on_termination": true}]})
    } else {
        json!({"name": name, "flavorRef": "2", "imageRef": image})
    };
    let body = json!({ "server": server }).to_string();
    let a = client
        .session()
        .call(
            Svc::Nova,
            Method::POST,
            "/servers",
            &[],
            Some((Bytes::from(body), "application/json")),
        )
        .await
        .unwrap_or_else(|e| panic!("boot {name}: {e}"));
    assert_eq!(a.status, 202, "boot {name}");
}

/// `openstack server create` (python-openstackclient, tests/cloud/osc-venv.sh) with the openrc:
/// Nova from the simulator, the image from the real Glance, all through the real catalog.
async fn osc_boot(cloud: &harness::RealCloud, home: &std::path::Path, name: &str, image: &str) {
    // The cached venv where osc-venv.sh keeps it; bash itself runs in an empty home (a root
    // .bashrc once waited 60 s on a stale pyenv lock).
    let cached = std::env::var_os("KILN_OSC_VENV")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/kiln/osc-venv"))
        })
        .expect("HOME or KILN_OSC_VENV");
    let venv = Command::new("bash")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud/osc-venv.sh"))
        .env("HOME", home)
        .env("KILN_OSC_VENV", &cached)
        .stdin(Stdio::null())
        .output()
        .expect("run osc-venv.sh");
    assert!(
        venv.status.success(),
        "osc-venv.sh: {}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let bin = std::path::Path::new(String::from_utf8_lossy(&venv.stdout).trim()).join("openstack");
    let mut cmd = tokio::process::Command::new(bin);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(common::foreign_env) {
            cmd.env_remove(k);
        }
    }
    cmd.envs(cloud.openrc.iter())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .args([
            "server", "create", "--image", image, "--flavor", "m1.small", name,
        ])
        .args(["-f", "json"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(PATIENCE, cmd.output())
        .await
        .expect("openstack server create took too long")
        .unwrap();
    assert!(
        out.status.success(),
        "openstack server create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["name"], name, "{v}");
}

fn by_name<'a>(listed: &'a [Value], name: &str) -> &'a Value {
    listed
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed"))
}

fn reasons(i: &Value) -> Vec<&str> {
    i["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect()
}

/// Glance's access log has a DELETE of this image.
fn glance_deleted(cloud: &harness::RealCloud, id: &str) -> bool {
    cloud
        .access_log("glance")
        .lines()
        .any(|l| l.contains(&format!("\"DELETE /v2/images/{id} ")))
}

/// Nova's server listings the simulator answered (one per kiln listing).
fn nova_listings(sim: &Sim) -> usize {
    sim.requests()
        .iter()
        .filter(|r| {
            r.service == Some(Service::Compute)
                && r.method == "GET"
                && r.path == "/v2.1/servers/detail"
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn in_use_protected_and_late_boots_with_a_real_glance_and_the_simulator_as_nova_and_cinder() {
    let cloud = harness::RealCloud::start(&[
        ("KILN_GLANCE_API_LIMIT_MAX", "3"),
        ("KILN_GLANCE_LIMIT_DEFAULT", "2"),
    ]);
    let sim = kiln::sim::start(SimConfig {
        fleet: FleetSize::Small,
        external_keystone: Some(cloud.var("OS_AUTH_URL")),
        ..SimConfig::new(3, chrono::Utc::now().date_naive())
    })
    .await
    .expect("start the simulator in hybrid mode");
    cloud.register_endpoint("compute", "nova", &sim.compute_endpoint());
    cloud.register_endpoint("volumev3", "cinderv3", &sim.volume_endpoint());
    let env = |k: &str| cloud.openrc.get(k).cloned();
    let client = CloudClient::connect_source(
        &CredentialSource::detect(None, &env),
        SessionOptions::default(),
    )
    .await
    .expect("connect to the real Keystone");
    let http = reqwest::Client::new();
    let token = token(&http, &cloud).await;
    let glance = client.session().endpoint(Svc::Glance).await.unwrap();
    let glance = glance
        .trim_end_matches('/')
        .trim_end_matches("/v2")
        .to_string();
    let mut id: std::collections::BTreeMap<&str, String> = std::collections::BTreeMap::new();
    for (name, days) in HYBRID_IMAGES {
        let i = create(&http, &glance, &token, name).await;
        backdate(&cloud.glance_db(), &i, days);
        id.insert(name, i);
    }
    let [
        eligible_a,
        in_use,
        late,
        protected,
        pinned,
        eligible_b,
        young,
        newest,
    ] = HYBRID_IMAGES.map(|(n, _)| n);
    client.set_protected(&id[protected], true).await.unwrap();

    // Servers boot in the simulator's Nova from images it reads in the real Glance: one through
    // the Nova API as kiln's client calls it, one with `openstack server create`, and one from
    // a boot volume (Cinder's volume_image_metadata names the image).
    boot(&client, "node-a", &id[in_use], false).await;
    let home = tempfile::tempdir().unwrap();
    osc_boot(&cloud, home.path(), "node-b", &id[in_use]).await;
    boot(&client, "node-c", &id[pinned], true).await;

    let out = kiln(home.path(), &cloud, &["images", "--json"]).await;
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.len(), HYBRID_IMAGES.len(), "{listed:?}");
    for i in &listed {
        assert_eq!(
            i["usage_scope"], "all_projects",
            "the admin sees all projects"
        );
    }
    let i = by_name(&listed, in_use);
    assert_eq!(i["in_use"], json!({"servers": 2, "volumes": 0}));
    assert_eq!(
        (i["verdict"].as_str(), reasons(i)),
        (Some("keep"), vec!["in_use"])
    );
    let i = by_name(&listed, pinned);
    assert_eq!(i["in_use"], json!({"servers": 0, "volumes": 1}));
    assert_eq!(
        (i["verdict"].as_str(), reasons(i)),
        (Some("keep"), vec!["in_use"])
    );
    let i = by_name(&listed, protected);
    assert_eq!(i["protected"], true);
    assert_eq!(
        (i["verdict"].as_str(), reasons(i)),
        (Some("keep"), vec!["protected"])
    );
    for name in [eligible_a, late, eligible_b] {
        let i = by_name(&listed, name);
        assert_eq!(i["in_use"], json!({"servers": 0, "volumes": 0}), "{name}");
        assert_eq!(i["verdict"], "eligible", "{name}: {i}");
    }
    let i = by_name(&listed, young);
    assert!(
        reasons(i).contains(&"latest_in_series") && reasons(i).contains(&"younger_than_min_age")
    );
    assert!(reasons(by_name(&listed, newest)).contains(&"newest"));

    // The plan: the three old unused images, newest first; nothing deleted.
    let out = kiln(home.path(), &cloud, &["retention", "plan", "--json"]).await;
    let plan: Vec<Value> = serde_json::from_str(&out).unwrap();
    let planned: Vec<&str> = plan
        .iter()
        .filter(|i| i["verdict"] == "eligible")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(planned, [eligible_b, late, eligible_a]);
    assert!(
        id.values().all(|i| !glance_deleted(&cloud, i)),
        "plan deletes nothing"
    );

    // Apply, with a server booting from the second planned image after apply made its plan: the
    // gate holds Nova's listings; the first is apply's plan, the second its first re-check.
    let mut gate = sim.hold(Service::Compute, "GET", "/v2.1/servers/detail");
    sim.clear_requests();
    let mut apply = tokio::process::Command::from(common::kiln(home.path()));
    apply
        .envs(cloud.openrc.iter())
        .args(["retention", "apply", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let apply = apply.spawn().unwrap();
    gate.next(PATIENCE)
        .await
        .expect("apply lists Nova's servers")
        .release();
    let recheck = gate
        .next(PATIENCE)
        .await
        .expect("apply re-checks before its first delete");
    boot(&client, "late-node", &id[late], false).await;
    drop(gate);
    recheck.release();
    let out = tokio::time::timeout(PATIENCE, apply.wait_with_output())
        .await
        .expect("retention apply took too long")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 deleted, 1 skipped, 0 failed"),
        "{stdout}"
    );
    assert_eq!(
        nova_listings(&sim),
        1 + planned.len(),
        "a re-check before each delete"
    );

    // The late one is skipped and still in Glance; the other two are gone from the real Glance.
    assert!(client.image(&id[late]).await.unwrap().is_some());
    assert!(!glance_deleted(&cloud, &id[late]), "never attempted");
    for name in [eligible_a, eligible_b] {
        assert!(client.image(&id[name]).await.unwrap().is_none(), "{name}");
        assert!(glance_deleted(&cloud, &id[name]), "{name}");
    }
    // Images in use or protected are never attempted: no audit line, no DELETE, still there.
    for name in [in_use, pinned, protected, young, newest] {
        assert!(!glance_deleted(&cloud, &id[name]), "{name} was attempted");
        assert!(client.image(&id[name]).await.unwrap().is_some(), "{name}");
    }
    let audit: Vec<Value> = std::fs::read_to_string(home.path().join("state/kiln/audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results: Vec<(&str, &str)> = audit
        .iter()
        .map(|l| {
            (
                l["image_name"].as_str().unwrap(),
                l["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            (eligible_b, "started"),
            (eligible_b, "deleted"),
            (late, "skipped"),
            (eligible_a, "started"),
            (eligible_a, "deleted"),
        ]
    );
    assert_eq!(audit[2]["reasons"], json!(["in_use"]));
    assert_eq!(audit[2]["image_id"], json!(id[late]));

    // The simulator took every identity from the real Keystone (it validated the tokens there).
    assert!(
        cloud
            .access_log("keystone")
            .contains("\"GET /v3/auth/tokens "),
        "no token validation in Keystone's access log"
    );
    // And the real Glance refuses a protected delete outright.
    let e = client
        .delete_image(&id[protected])
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("403"), "{e}");

    // Now the late image shows its server.
    let out = kiln(home.path(), &cloud, &["images", "--json"]).await;
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(listed.len(), HYBRID_IMAGES.len() - 2);
    let i = by_name(&listed, late);
    assert_eq!(i["in_use"], json!({"servers": 1, "volumes": 0}));
    assert_eq!(reasons(i), ["in_use"]);
    sim.stop().await;
}
