//! The image listing, the verdicts and the delete path against a REAL Keystone 30 + Glance 33
//! (tests/cloud/), with Glance's page cap at 3 so listings cross pages, and images backdated in
//! Glance's sqlite database (`created_at` is read-only through the API). Nova and Cinder cannot
//! run here: the catalog has neither, so kiln cannot prove any image unused and keeps every one
//! (`usage_unknown`), and `retention apply` deletes nothing. Glance itself refuses a protected
//! delete; an unprotected one goes.

mod common;
#[path = "cloud/harness.rs"]
mod harness;

use std::process::Command;

use kiln::cloud::credentials::CredentialSource;
use kiln::cloud::{CloudClient, SessionOptions};
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
