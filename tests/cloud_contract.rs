//! One contract, two clouds: the simulator's Keystone and Glance answer the same raw HTTP checks
//! as a REAL Keystone 30 + Glance 33 (tests/cloud/start-openstack.sh): auth and catalog, wrong
//! password, pagination with small pages, filters, sort, get, JSON-patch update, read-only
//! attributes, protected delete refused, expired token -> 401. Then kiln's client lists
//! `rke2-node-*` images from the real Glance with its page cap at 3.
//!
//! Needs python3 with venv and, on the first run, network to PyPI (cached venv).

#[path = "cloud/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kiln::cloud::credentials::CredentialSource;
use kiln::cloud::{CloudClient, SessionOptions, UsageScope};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// Where to run the contract.
struct Target {
    what: &'static str,
    auth_url: String,
    user: String,
    password: String,
    project: String,
    /// How long a token lives there.
    token_life: Duration,
}

fn auth_body(user: &str, password: &str, project: &str) -> Value {
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}
    }})
}

/// (token, catalog) for the target's user.
async fn token(http: &Client, t: &Target) -> (String, Value) {
    let r = http
        .post(format!("{}/auth/tokens", t.auth_url.trim_end_matches('/')))
        .json(&auth_body(&t.user, &t.password, &t.project))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}: token", t.what);
    let tok = r.headers()["x-subject-token"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    (tok, body["token"].clone())
}

fn glance_url(token: &Value) -> String {
    let svc = token["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["type"] == "image")
        .expect("image in the catalog");
    let ep = svc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["interface"] == "public")
        .unwrap();
    let url = ep["url"].as_str().unwrap().trim_end_matches('/');
    url.strip_suffix("/v2").unwrap_or(url).to_string()
}

struct Api<'a> {
    http: &'a Client,
    glance: String,
    token: String,
    what: &'static str,
}

impl Api<'_> {
    async fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, Value)>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.glance))
            .header("x-auth-token", &self.token)
            .header("accept", "application/json");
        if let Some((ctype, v)) = body {
            rb = rb.header("content-type", ctype).body(v.to_string());
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.req(reqwest::Method::GET, path, None).await
    }

    /// Names of every image for `query`, following `next` links (the page size may be capped).
    async fn names(&self, query: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut link = Some(format!("/v2/images?{query}"));
        while let Some(l) = link.take() {
            let (s, v) = self.get(&l).await;
            assert_eq!(s, StatusCode::OK, "{}: {l}: {v}", self.what);
            let page = v["images"].as_array().unwrap();
            out.extend(page.iter().map(|i| i["name"].as_str().unwrap().to_string()));
            link = v["next"]
                .as_str()
                .filter(|_| !page.is_empty())
                .map(String::from);
            assert!(out.len() < 1000, "{}: endless pages", self.what);
        }
        out
    }

    async fn patch(&self, id: &str, ops: Value) -> (StatusCode, Value) {
        self.req(
            reqwest::Method::PATCH,
            &format!("/v2/images/{id}"),
            Some(("application/openstack-images-v2.1-json-patch", ops)),
        )
        .await
    }
}

async fn contract(t: &Target) {
    let http = Client::new();
    let w = t.what;
    // Version document and auth.
    let v: Value = http
        .get(&t.auth_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["version"]["id"].as_str().unwrap().starts_with("v3"),
        "{w}: {v}"
    );
    let (tok, body) = token(&http, t).await;
    assert_eq!(body["project"]["name"], t.project.as_str(), "{w}");
    assert!(
        body["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "admin"),
        "{w}"
    );
    let types: Vec<&str> = body["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["type"].as_str())
        .collect();
    assert!(
        types.contains(&"identity") && types.contains(&"image"),
        "{w}: {types:?}"
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires > chrono::Utc::now(), "{w}");
    let wrong = http
        .post(format!("{}/auth/tokens", t.auth_url))
        .json(&auth_body(&t.user, "not-the-password", &t.project))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{w}");
    let glance = glance_url(&body);
    let noauth = http
        .get(format!("{glance}/v2/images"))
        .send()
        .await
        .unwrap();
    assert_eq!(noauth.status(), StatusCode::UNAUTHORIZED, "{w}: no token");

    let api = Api {
        http: &http,
        glance,
        token: tok,
        what: w,
    };
    let run = format!("c{}", std::process::id());
    // Create five images (created_at is read-only).
    let (s, v) = api
        .req(
            reqwest::Method::POST,
            "/v2/images",
            Some((
                "application/json",
                json!({"name": "x", "created_at": "2020-01-01T00:00:00Z"}),
            )),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "{w}: created_at is read-only: {v}"
    );
    let mut ids = Vec::new();
    for letter in ["a", "b", "c", "d", "e"] {
        let (s, v) = api
            .req(
                reqwest::Method::POST,
                "/v2/images",
                Some(("application/json", json!({"name": format!("{run}-{letter}"), "disk_format": "raw", "container_format": "bare",
                    "tags": [run.clone(), letter], "kiln_contract": run.clone(), "flavor_x": letter}))),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{w}: {v}");
        assert_eq!(v["status"], "queued", "{w}");
        assert_eq!(
            v["flavor_x"], letter,
            "{w}: custom properties at the top level"
        );
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let upload = http
        .put(format!("{}/v2/images/{}/file", api.glance, ids[0]))
        .header("x-auth-token", &api.token)
        .header("content-type", "application/octet-stream")
        .body(b"kiln contract data\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), StatusCode::NO_CONTENT, "{w}: upload");
    let (_, a) = api.get(&format!("/v2/images/{}", ids[0])).await;
    assert_eq!(
        (a["status"].as_str(), a["size"].as_u64()),
        (Some("active"), Some(19)),
        "{w}: {a}"
    );

    // Pagination: pages of 2 following `next`, in Glance's default order (newest first).
    let mut pages = Vec::new();
    let mut next = Some(format!("/v2/images?tag={run}&limit=2"));
    while let Some(link) = next.take() {
        let (s, v) = api.get(&link).await;
        assert_eq!(s, StatusCode::OK, "{w}: {link}");
        let names: Vec<String> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect();
        pages.push(names);
        next = v["next"].as_str().map(String::from);
        assert!(pages.len() <= 4, "{w}: endless pages {pages:?}");
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1], "{w}: {pages:?}");
    let flat: Vec<String> = pages.concat();
    let mut sorted = flat.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "{w}: every image once");

    // Filters.
    assert_eq!(
        api.names(&format!("name=in:{run}-a,{run}-c&sort=name:asc"))
            .await,
        [format!("{run}-a"), format!("{run}-c")],
        "{w}"
    );
    assert_eq!(
        api.names(&format!("kiln_contract={run}&flavor_x=b")).await,
        [format!("{run}-b")],
        "{w}"
    );
    assert_eq!(
        api.names(&format!("tag={run}&tag=d")).await,
        [format!("{run}-d")],
        "{w}"
    );
    assert_eq!(
        api.names(&format!("tag={run}&status=active")).await,
        [format!("{run}-a")],
        "{w}"
    );
    assert_eq!(
        api.names(&format!("tag={run}&created_at=lt:2000-01-01T00:00:00Z"))
            .await
            .len(),
        0,
        "{w}"
    );
    assert_eq!(
        api.names(&format!("tag={run}&created_at=lt:2100-01-01T00:00:00Z"))
            .await
            .len(),
        5,
        "{w}"
    );
    // Sort.
    let asc = api.names(&format!("tag={run}&sort=name:asc")).await;
    assert_eq!(
        asc,
        ["a", "b", "c", "d", "e"].map(|l| format!("{run}-{l}")),
        "{w}"
    );
    let mut desc = api
        .names(&format!("tag={run}&sort_key=name&sort_dir=desc"))
        .await;
    desc.reverse();
    assert_eq!(desc, asc, "{w}");
    let (s, _) = api
        .get(&format!("/v2/images?tag={run}&sort=bogus:asc"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{w}: unknown sort key");
    // Get.
    let (s, v) = api.get(&format!("/v2/images/{}", ids[1])).await;
    assert_eq!(
        (s, v["flavor_x"].as_str()),
        (StatusCode::OK, Some("b")),
        "{w}"
    );
    let (s, v) = api
        .get("/v2/images/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{w}: {v}");
    assert!(
        v.is_object(),
        "{w}: JSON error body with Accept: application/json: {v}"
    );
    // Update.
    let (s, v) = api.patch(&ids[1], json!([{"op": "replace", "path": "/flavor_x", "value": "bee"}, {"op": "add", "path": "/extra_y", "value": "1"}])).await;
    assert_eq!(s, StatusCode::OK, "{w}: {v}");
    assert_eq!(
        (v["flavor_x"].as_str(), v["extra_y"].as_str()),
        (Some("bee"), Some("1")),
        "{w}"
    );
    let (s, _) = api
        .patch(
            &ids[1],
            json!([{"op": "replace", "path": "/created_at", "value": "2020-01-01T00:00:00Z"}]),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{w}: created_at is read-only");
    let (s, _) = api
        .req(
            reqwest::Method::PATCH,
            &format!("/v2/images/{}", ids[1]),
            Some(("application/json", json!([]))),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{w}: JSON patch media type required"
    );
    // Protected delete refused.
    let (s, v) = api
        .patch(
            &ids[1],
            json!([{"op": "replace", "path": "/protected", "value": true}]),
        )
        .await;
    assert_eq!(
        (s, v["protected"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{w}"
    );
    let (s, _) = api
        .req(
            reqwest::Method::DELETE,
            &format!("/v2/images/{}", ids[1]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{w}: protected");
    assert_eq!(
        api.get(&format!("/v2/images/{}", ids[1])).await.0,
        StatusCode::OK,
        "{w}: still there"
    );
    api.patch(
        &ids[1],
        json!([{"op": "replace", "path": "/protected", "value": false}]),
    )
    .await;
    for id in &ids {
        let (s, _) = api
            .req(reqwest::Method::DELETE, &format!("/v2/images/{id}"), None)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{w}: delete");
    }
    assert_eq!(
        api.get(&format!("/v2/images/{}", ids[1])).await.0,
        StatusCode::NOT_FOUND,
        "{w}: deleted"
    );

    // Expired token -> 401 (poll until the token's lifetime has passed, bounded).
    let (short, _) = token(&http, t).await;
    let api = Api {
        token: short,
        ..api
    };
    assert_eq!(api.get("/v2/images?limit=1").await.0, StatusCode::OK, "{w}");
    let deadline = Instant::now() + t.token_life + Duration::from_secs(20);
    loop {
        let (s, _) = api.get("/v2/images?limit=1").await;
        if s == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(s, StatusCode::OK, "{w}");
        assert!(
            Instant::now() < deadline,
            "{w}: token still accepted after its lifetime"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn the_simulator_meets_the_contract() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
    let sim = kiln::sim::start(kiln::sim::SimConfig::new(1, today))
        .await
        .unwrap();
    let life = Duration::from_secs(3);
    sim.faults().set_token_ttl(life);
    let admin = sim.admin();
    contract(&Target {
        what: "simulator",
        auth_url: admin.auth_url.clone(),
        user: admin.username.clone(),
        password: admin.password.clone(),
        project: admin.project_name.clone(),
        token_life: life,
    })
    .await;
    sim.stop().await;
}

#[tokio::test]
async fn real_keystone_and_glance_meet_the_contract_and_kiln_lists_from_them() {
    let life = Duration::from_secs(15);
    let secs = life.as_secs().to_string();
    let cloud = harness::RealCloud::start(&[
        ("KILN_KEYSTONE_TOKEN_EXPIRATION", &secs),
        ("KILN_GLANCE_API_LIMIT_MAX", "3"),
    ]);
    let target = Target {
        what: "real Keystone + Glance",
        auth_url: cloud.var("OS_AUTH_URL"),
        user: cloud.var("OS_USERNAME"),
        password: cloud.var("OS_PASSWORD"),
        project: cloud.var("OS_PROJECT_NAME"),
        token_life: life,
    };
    contract(&target).await;

    // kiln's client: rke2-node-* images across pages capped at 3 by the server, custom
    // properties kept, no compute/volume in this catalog -> usage unknown, protected refused.
    let http = Client::new();
    let (tok, body) = token(&http, &target).await;
    let api = Api {
        http: &http,
        glance: glance_url(&body),
        token: tok,
        what: target.what,
    };
    let mut made = Vec::new();
    for (i, name) in [
        "rke2-node-v1.28-20260301",
        "rke2-node-v1.28-20260402",
        "rke2-node-v1.29-20260610",
        "rke2-node-v1.29-20261101",
        "rke2-node-manual",
        "rke2-node-v1.27-20251201",
        "rke2-node-v1.29-20261120",
        "rke2-nodepool-x",
        "other-image",
    ]
    .iter()
    .enumerate()
    {
        let (s, v) = api
            .req(reqwest::Method::POST, "/v2/images", Some(("application/json", json!({"name": name, "disk_format": "raw", "container_format": "bare",
                "fips_enabled": if i % 2 == 0 { "true" } else { "false" }, "protected": i == 0, "tags": ["rke2-node"]}))))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        made.push((name.to_string(), v["id"].as_str().unwrap().to_string()));
    }
    let openrc = cloud.openrc.clone();
    let source = CredentialSource::detect(None, &|k| openrc.get(k).cloned());
    let client = CloudClient::connect_source(&source, SessionOptions::default())
        .await
        .expect("connect to the real Keystone");
    let listing = client.listing().await.expect("listing");
    let mut names: Vec<&str> = listing.images.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "rke2-node-manual",
            "rke2-node-v1.27-20251201",
            "rke2-node-v1.28-20260301",
            "rke2-node-v1.28-20260402",
            "rke2-node-v1.29-20260610",
            "rke2-node-v1.29-20261101",
            "rke2-node-v1.29-20261120"
        ]
    );
    let first = listing
        .images
        .iter()
        .find(|i| i.name == "rke2-node-v1.28-20260301")
        .unwrap();
    assert!(first.protected);
    assert_eq!(first.fips_enabled(), Some(true));
    assert_eq!(first.series(), Some("v1.28"));
    assert_eq!(first.tags, ["rke2-node"]);
    assert_eq!(
        listing.usage.scope,
        UsageScope::Unknown,
        "no Nova or Cinder here"
    );
    assert_eq!(listing.usage.errors.len(), 2, "{:?}", listing.usage.errors);
    let e = client
        .delete_image(&made[0].1)
        .await
        .expect_err("protected");
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(e.to_string().starts_with("Glance DELETE /images/"), "{e}");
    client.delete_image(&made[1].1).await.expect("delete");
    assert_eq!(client.image(&made[1].1).await.unwrap(), None);
}
