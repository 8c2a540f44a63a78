//! The simulator and the cloud client at 5,000 images (`--fleet large`):
//! 1. Simulator throughput: Glance image-list pages per second and latency percentiles, for
//!    pages of 1000 (kiln's page) and of 25 (Glance's default, what the openstack CLI gets), with
//!    4 concurrent clients walking the whole list by marker for 4 s each.
//! 2. kiln's full listing (every `rke2-node-*` image plus Nova and Cinder usage, all projects):
//!    wall time over 10 runs on one connected client (goal for `kiln images --json`: < 0.5 s).
//!
//! Run: `cargo bench --bench sim`.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kiln::cloud::{CloudClient, SessionOptions};
use kiln::sim::{FleetSize, SimConfig};
use serde_json::Value;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn token(http: &reqwest::Client, c: &kiln::sim::SimCredentials) -> (String, String) {
    let body = serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": c.username, "domain": {"name": "Default"}, "password": c.password}}},
        "scope": {"project": {"name": c.project_name, "domain": {"name": "Default"}}}}});
    let r = http
        .post(format!("{}/auth/tokens", c.auth_url))
        .json(&body)
        .send()
        .await
        .expect("token");
    let tok = r.headers()["x-subject-token"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    let base = c.auth_url.trim_end_matches("/identity/v3").to_string();
    (tok, format!("{base}/image"))
}

async fn walk_pages(
    http: reqwest::Client,
    glance: String,
    tok: String,
    limit: usize,
    run_for: Duration,
) -> Vec<Duration> {
    let mut lat = Vec::new();
    let start = Instant::now();
    while start.elapsed() < run_for {
        let mut next = Some(format!("/v2/images?limit={limit}"));
        while let Some(link) = next.take() {
            let t = Instant::now();
            let v: Value = http
                .get(format!("{glance}{link}"))
                .header("x-auth-token", &tok)
                .send()
                .await
                .expect("page")
                .json()
                .await
                .expect("json");
            lat.push(t.elapsed());
            next = v["next"].as_str().map(String::from);
            if start.elapsed() >= run_for {
                break;
            }
        }
    }
    lat
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let sim = kiln::sim::start(SimConfig {
        fleet: FleetSize::Large,
        ..SimConfig::new(42, today)
    })
    .await
    .expect("sim");
    println!(
        "fleet: {} images, {} servers, {} volumes",
        sim.fleet().images.len(),
        sim.fleet().servers.len(),
        sim.fleet().volumes.len()
    );
    let http = reqwest::Client::new();
    let (tok, glance) = token(&http, &sim.admin()).await;
    for limit in [1000usize, 25] {
        let run_for = Duration::from_secs(4);
        let started = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(walk_pages(
                    http.clone(),
                    glance.clone(),
                    tok.clone(),
                    limit,
                    run_for,
                ))
            })
            .collect();
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("task"));
        }
        let secs = started.elapsed().as_secs_f64();
        lat.sort_unstable();
        println!(
            "sim image-list, limit={limit:>4}, 4 clients: {:>7.0} pages/s ({:>7.0} images/s); latency p50 {:>6.2} ms, p99 {:>6.2} ms, max {:>6.2} ms",
            lat.len() as f64 / secs,
            lat.len() as f64 * limit as f64 / secs,
            pct(&lat, 0.5).as_secs_f64() * 1e3,
            pct(&lat, 0.99).as_secs_f64() * 1e3,
            pct(&lat, 1.0).as_secs_f64() * 1e3,
        );
    }
    let client = CloudClient::connect(&sim.cloud_config(sim.admin()), SessionOptions::default())
        .await
        .expect("connect");
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let listing = client.listing().await.expect("listing");
        times.push(t.elapsed());
        n = listing.images.len();
        assert_eq!(listing.usage.scope, kiln::cloud::UsageScope::AllProjects);
    }
    times.sort_unstable();
    println!(
        "kiln full listing (rke2-node-* images + Nova + Cinder usage, all projects): {n} images; min {:.0} ms, median {:.0} ms, max {:.0} ms (goal < 500 ms)",
        times[0].as_secs_f64() * 1e3,
        pct(&times, 0.5).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
    let t = Instant::now();
    let fresh = CloudClient::connect(&sim.cloud_config(sim.admin()), SessionOptions::default())
        .await
        .expect("connect");
    fresh.listing().await.expect("listing");
    println!(
        "kiln connect + first listing (new session, new token): {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    sim.stop().await;
}
