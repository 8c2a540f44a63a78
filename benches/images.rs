//! `kiln images --json` through the release binary, where operators and cron feel it:
//! 1. Against the simulator at 5,000 images (`--fleet large`, in this process, over real HTTP):
//!    wall time and kiln's peak RSS over 10 runs, usage lookups (Nova and Cinder, all projects)
//!    included (goal: < 0.5 s).
//! 2. Against the REAL Keystone + Glance (tests/cloud/) holding 15 `rke2-node-*` images beside
//!    its 3 seeded ones, with the simulator as Nova and Cinder for that Keystone (hybrid mode,
//!    3 servers booted from the images): kiln's listing, usage lookups included, beside
//!    python-openstackclient's `openstack image list --long` on the same data, alternated, 5
//!    runs each (goal: kiln >= 5x faster). Both authenticate to Keystone once per run.
//!
//! Run: `cargo bench --bench images`. `cargo test --benches` runs part 1 small, once.

#[path = "../tests/cloud/harness.rs"]
mod harness;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use kiln::sim::{FleetSize, SimConfig};
use serde_json::{Value, json};
use support::{measured, spread};

fn kiln() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("kiln")
}

fn isolated(cmd: &mut Command, home: &Path) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"));
}

fn against_the_simulator(rt: &tokio::runtime::Runtime, fleet: FleetSize, runs: usize) {
    let sim = rt
        .block_on(kiln::sim::start(SimConfig {
            fleet,
            ..SimConfig::new(7, NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"))
        }))
        .expect("start the simulator");
    let home = tempfile::tempdir().expect("home");
    let clouds = home.path().join("clouds.yaml");
    sim.write_clouds_yaml(&clouds, &sim.admin())
        .expect("clouds.yaml");
    let (mut walls, mut rss, mut listed) = (Vec::new(), 0, 0);
    for _ in 0..runs {
        let mut cmd = Command::new(kiln());
        isolated(&mut cmd, home.path());
        cmd.args(["images", "--json"])
            .env("OS_CLIENT_CONFIG_FILE", &clouds)
            .env("OS_CLOUD", "kiln-sim");
        let m = measured(&mut cmd);
        assert_eq!(m.code, 0, "kiln images --json failed");
        let v: Vec<Value> = serde_json::from_slice(&m.stdout).expect("JSON");
        assert!(v.iter().all(|i| i["usage_scope"] == "all_projects"));
        listed = v.len();
        walls.push(m.wall);
        rss = rss.max(m.max_rss_kib);
    }
    let (min, med, max) = spread(walls);
    println!(
        "kiln images --json, simulator {fleet} ({} images in Glance, {listed} rke2-node-*, usage \
         all projects): wall min {min:.3} s, median {med:.3} s, max {max:.3} s over {runs} runs; \
         kiln peak RSS {} MiB",
        sim.image_count(),
        rss / 1024
    );
    rt.block_on(sim.stop());
}

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
        .expect("token");
    r.headers()["x-subject-token"]
        .to_str()
        .expect("token text")
        .to_string()
}

async fn glance_url(http: &reqwest::Client, cloud: &harness::RealCloud, token: &str) -> String {
    let r: Value = http
        .get(format!("{}/auth/catalog", cloud.var("OS_AUTH_URL")))
        .header("x-auth-token", token)
        .send()
        .await
        .expect("catalog")
        .json()
        .await
        .expect("catalog JSON");
    r["catalog"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["type"] == "image")
        .and_then(|s| {
            s["endpoints"]
                .as_array()?
                .iter()
                .find(|e| e["interface"] == "public")
        })
        .and_then(|e| e["url"].as_str())
        .expect("an image endpoint")
        .trim_end_matches('/')
        .to_string()
}

fn openstack_cli() -> PathBuf {
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud/osc-venv.sh"))
        .output()
        .expect("osc-venv.sh");
    assert!(out.status.success(), "osc-venv.sh failed");
    Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("openstack")
}

fn against_real_glance(rt: &tokio::runtime::Runtime, runs: usize) {
    let osc = openstack_cli();
    let cloud = harness::RealCloud::start(&[]);
    let sim = rt
        .block_on(kiln::sim::start(SimConfig {
            fleet: FleetSize::Small,
            external_keystone: Some(cloud.var("OS_AUTH_URL")),
            ..SimConfig::new(3, chrono::Utc::now().date_naive())
        }))
        .expect("start the simulator as Nova and Cinder");
    cloud.register_endpoint("compute", "nova", &sim.compute_endpoint());
    cloud.register_endpoint("volumev3", "cinderv3", &sim.volume_endpoint());
    let compute = sim.compute_endpoint();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let token = token(&http, &cloud).await;
        let glance = glance_url(&http, &cloud, &token).await;
        for n in 0..15 {
            let name = format!("rke2-node-v1.{}-202611{:02}", 28 + n % 2, 1 + n);
            let r: Value = http
                .post(format!("{glance}/v2/images"))
                .header("x-auth-token", &token)
                .json(
                    &json!({"name": name, "disk_format": "raw", "container_format": "bare",
                              "fips_enabled": "false", "rke2_version": "v1.28.15+rke2r1"}),
                )
                .send()
                .await
                .expect("create")
                .json()
                .await
                .expect("image JSON");
            let id = r["id"].as_str().expect("id");
            let put = http
                .put(format!("{glance}/v2/images/{id}/file"))
                .header("x-auth-token", &token)
                .header("content-type", "application/octet-stream")
                .body(vec![0u8; 4096])
                .send()
                .await
                .expect("upload");
            assert_eq!(put.status(), 204);
            if n < 3 {
                let r = http
                    .post(format!("{compute}/servers"))
                    .header("x-auth-token", &token)
                    .json(
                        &json!({"server": {"name": format!("node-{n}"), "imageRef": id,
                                             "flavorRef": "m1.small"}}),
                    )
                    .send()
                    .await
                    .expect("boot");
                assert!(r.status().is_success(), "boot: {}", r.status());
            }
        }
    });
    let token = rt.block_on(token(&reqwest::Client::new(), &cloud));
    compare(&osc, "password (openrc)", &cloud.openrc, runs);
    // The same run with a token issued beforehand (`openstack token issue`, as CI jobs do):
    // both clients still ask Keystone for their catalog, without the password's bcrypt.
    let mut with_token: BTreeMap<String, String> = cloud
        .openrc
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "OS_USERNAME" | "OS_PASSWORD" | "OS_USER_DOMAIN_NAME"
            )
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    with_token.insert("OS_AUTH_TYPE".into(), "v3token".into());
    with_token.insert("OS_TOKEN".into(), token);
    compare(&osc, "token (OS_AUTH_TYPE=v3token)", &with_token, runs);
    rt.block_on(sim.stop());
}

/// kiln and the openstack CLI alternated on `env`, `runs` times each.
fn compare(osc: &Path, auth: &str, env: &BTreeMap<String, String>, runs: usize) {
    let home = tempfile::tempdir().expect("home");
    let (mut k_walls, mut o_walls, mut k_rss, mut o_rss) = (Vec::new(), Vec::new(), 0, 0);
    for _ in 0..runs {
        let mut k = Command::new(kiln());
        isolated(&mut k, home.path());
        k.args(["images", "--json"]).envs(env.iter());
        let m = measured(&mut k);
        assert_eq!(m.code, 0, "kiln images --json failed");
        let v: Vec<Value> = serde_json::from_slice(&m.stdout).expect("JSON");
        assert_eq!(v.len(), 15);
        assert!(v.iter().all(|i| i["usage_scope"] == "all_projects"));
        let used: u64 = v
            .iter()
            .filter_map(|i| i["in_use"]["servers"].as_u64())
            .sum();
        assert_eq!(used, 3, "the three booted servers");
        k_walls.push(m.wall);
        k_rss = k_rss.max(m.max_rss_kib);

        let mut o = Command::new(osc);
        isolated(&mut o, home.path());
        o.args(["image", "list", "--long", "-f", "json"])
            .envs(env.iter());
        let m = measured(&mut o);
        assert_eq!(m.code, 0, "openstack image list failed");
        let v: Vec<Value> = serde_json::from_slice(&m.stdout).expect("JSON");
        assert_eq!(v.len(), 18);
        o_walls.push(m.wall);
        o_rss = o_rss.max(m.max_rss_kib);
    }
    let (kmin, kmed, kmax) = spread(k_walls);
    let (omin, omed, omax) = spread(o_walls);
    println!(
        "real Keystone + Glance (simulated Nova and Cinder), 18 images (15 rke2-node-*), auth by {auth}, {runs} runs each, alternated:\n  \
         kiln images --json                  min {kmin:.3} s, median {kmed:.3} s, max {kmax:.3} s, peak RSS {} MiB\n  \
         openstack image list --long -f json min {omin:.3} s, median {omed:.3} s, max {omax:.3} s, peak RSS {} MiB\n  \
         ratio (medians): kiln is {:.1}x faster",
        k_rss / 1024,
        o_rss / 1024,
        omed / kmed
    );
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if quick {
        against_the_simulator(&rt, FleetSize::Demo, 1);
        return;
    }
    against_the_simulator(&rt, FleetSize::Large, 10);
    against_real_glance(&rt, 5);
}
