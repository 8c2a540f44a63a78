//! Faults the simulator injects, at the moments that hurt: a token that expires between two
//! pages of a listing, and between two deletes of a retention run (the run goes on after one
//! re-authentication, deletes exactly the plan, and the audit file has every attempt); a fifth
//! of Glance's answers 5xx during a retention run (the audit says exactly what went); and the
//! console under 2 s latency with Nova missing from the catalog, driven in a pty: keys are
//! answered while the listing is slow, and it says what failed.

mod common;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use kiln::clock::Clock;
use kiln::cloud::{CloudClient, SessionOptions};
use kiln::inventory::audit::{Actor, AuditLog};
use kiln::inventory::delete::{Outcome, Planned, apply};
use kiln::inventory::fetch::fetch;
use kiln::retention::Policy;
use kiln::sim::{FleetSize, Service, Sim, SimConfig};
use serde_json::Value;

struct Fixed;
impl Clock for Fixed {
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }
}

async fn sim(fleet: FleetSize) -> Sim {
    kiln::sim::start(SimConfig {
        fleet,
        ..SimConfig::new(11, NaiveDate::from_ymd_opt(2026, 11, 25).unwrap())
    })
    .await
    .expect("start the simulator")
}

async fn admin(sim: &Sim) -> CloudClient {
    CloudClient::connect(&sim.cloud_config(sim.admin()), SessionOptions::default())
        .await
        .expect("connect")
}

/// The first `n` eligible images of a listing, as a retention plan.
fn plan_of(inv: &kiln::inventory::Inventory, n: usize) -> Vec<Planned> {
    inv.eligible()
        .take(n)
        .map(|i| Planned {
            id: i.id.clone(),
            name: i.name.clone(),
        })
        .collect()
}

fn actor() -> Actor {
    Actor {
        user: "tester".into(),
        cloud: "sim".into(),
    }
}

/// The audit file as (image id, result) pairs, in order.
fn audit_results(path: &std::path::Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["image_id"].as_str().unwrap().to_string(),
                v["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn unauthorized(sim: &Sim, method: &str, path_part: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.status == 401 && r.method == method && r.path.contains(path_part))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_expiring_between_two_pages_costs_one_reauthentication_and_no_image() {
    // 2,500 images: pages of 1000 from both ends, so the listing takes several requests.
    let sim = sim(FleetSize::Images(2500)).await;
    let c = admin(&sim).await;
    let mut gate = sim.hold(Service::Image, "GET", "/v2/images");
    let listing = tokio::spawn({
        let c = c.clone();
        async move { c.listing().await }
    });
    let first = gate
        .next(Duration::from_secs(10))
        .await
        .expect("the first page");
    first.release();
    let second = gate
        .next(Duration::from_secs(10))
        .await
        .expect("a second page");
    // The token dies while the second page is on its way.
    sim.expire_tokens();
    drop(gate);
    second.release();
    let listing = tokio::time::timeout(Duration::from_secs(60), listing)
        .await
        .expect("the listing ends")
        .unwrap()
        .expect("the listing survives the expiry");
    assert_eq!(listing.images.len(), sim.fleet().rke2_images().count());
    let mut ids: Vec<&str> = listing.images.iter().map(|i| i.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), listing.images.len(), "each image once");
    assert!(
        unauthorized(&sim, "GET", "/v2/images") >= 1,
        "the page met the dead token"
    );
    assert_eq!(
        c.session().tokens_issued(),
        2,
        "exactly one re-authentication"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_expiring_between_two_deletes_loses_no_audit_record_and_deletes_only_the_plan() {
    let sim = sim(FleetSize::Demo).await;
    let c = admin(&sim).await;
    let inv = fetch(&c, false, Policy::default(), Fixed.now())
        .await
        .unwrap();
    let plan = plan_of(&inv, 3);
    assert_eq!(plan.len(), 3);
    let before = sim.image_count();
    // Hold the second delete; the token expires while it waits.
    let mut gate = sim.hold(
        Service::Image,
        "DELETE",
        &format!("/v2/images/{}", plan[1].id),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let run = tokio::spawn({
        let (c, plan, path) = (c.clone(), plan.clone(), path.clone());
        async move {
            let mut audit = AuditLog::open(&path).unwrap();
            let stop = AtomicBool::new(false);
            let actor = actor();
            apply(
                &c,
                &plan,
                Policy::default(),
                Arc::new(Fixed),
                &mut audit,
                &actor,
                &stop,
                |_| {},
            )
            .await
        }
    });
    let held = gate
        .next(Duration::from_secs(30))
        .await
        .expect("the second delete");
    sim.expire_tokens();
    drop(gate);
    held.release();
    let outcomes = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the run ends")
        .unwrap()
        .expect("the run survives the expiry");
    assert_eq!(outcomes, vec![Outcome::Deleted; 3]);
    assert_eq!(
        unauthorized(&sim, "DELETE", &plan[1].id),
        1,
        "the delete met the dead token"
    );
    assert_eq!(sim.image_count(), before - 3, "exactly the plan went");
    for p in &plan {
        assert!(c.image(&p.id).await.unwrap().is_none());
    }
    let results = audit_results(&path);
    let want: Vec<(String, String)> = plan
        .iter()
        .flat_map(|p| {
            [
                (p.id.clone(), "started".to_string()),
                (p.id.clone(), "deleted".to_string()),
            ]
        })
        .collect();
    assert_eq!(results, want);
    sim.stop().await;
}

/// A retention run while one Glance call in five answers 5xx (and every call takes 100 ms):
/// whatever the run ends with, the images gone are exactly those the audit says were deleted,
/// all of them planned; every attempt has its `started` line and an outcome line; the failed
/// ones are still there; and a second run once the cloud is well deletes the rest of the plan.
#[tokio::test(flavor = "multi_thread")]
async fn with_a_fifth_of_glance_calls_failing_the_audit_says_exactly_what_went() {
    let sim = sim(FleetSize::Demo).await;
    let c = admin(&sim).await;
    let inv = fetch(&c, false, Policy::default(), Fixed.now())
        .await
        .unwrap();
    let all: Vec<String> = inv.images.iter().map(|i| i.id.clone()).collect();
    let plan = plan_of(&inv, usize::MAX);
    assert!(plan.len() >= 4, "the demo fleet has images to delete");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let run = |plan: Vec<Planned>| {
        let (c, path) = (c.clone(), path.clone());
        async move {
            let mut audit = AuditLog::open(&path).unwrap();
            let stop = AtomicBool::new(false);
            let actor = actor();
            tokio::time::timeout(
                Duration::from_secs(120),
                apply(
                    &c,
                    &plan,
                    Policy::default(),
                    Arc::new(Fixed),
                    &mut audit,
                    &actor,
                    &stop,
                    |_| {},
                ),
            )
            .await
            .expect("the run ends")
        }
    };
    sim.faults().set_error_rate(0.2);
    sim.faults().set_latency(Duration::from_millis(100));
    let first = run(plan.clone()).await;
    assert!(
        sim.requests().iter().any(|r| r.status >= 500),
        "the faults were injected"
    );
    sim.faults().set_error_rate(0.0);
    sim.faults().set_latency(Duration::ZERO);
    eprintln!(
        "first run: {first:?}; 5xx answers to DELETE: {}",
        sim.requests()
            .iter()
            .filter(|r| r.status >= 500 && r.method == "DELETE")
            .count()
    );
    let audit = audit_results(&path);
    // Each attempt: started, then its outcome, in plan order.
    for pair in audit.chunks(2) {
        assert_eq!(pair[0].1, "started", "{audit:?}");
        assert_eq!(pair.len(), 2, "an attempt without its outcome: {audit:?}");
        assert_eq!(pair[0].0, pair[1].0);
        assert_ne!(pair[1].1, "started", "{audit:?}");
    }
    let said_deleted: Vec<&str> = audit
        .iter()
        .filter(|(_, r)| r == "deleted")
        .map(|(id, _)| id.as_str())
        .collect();
    let mut gone = Vec::new();
    for id in &all {
        if c.image(id).await.unwrap().is_none() {
            gone.push(id.as_str());
        }
    }
    let mut sorted = said_deleted.clone();
    sorted.sort_unstable();
    gone.sort_unstable();
    assert_eq!(gone, sorted, "the images gone are those the audit says");
    assert!(
        gone.iter().all(|id| plan.iter().any(|p| p.id == *id)),
        "nothing outside the plan"
    );
    for (id, r) in &audit {
        if r == "failed" {
            assert!(
                c.image(id).await.unwrap().is_some(),
                "failed {id} is still there"
            );
        }
    }
    if let Ok(outcomes) = &first {
        let deleted = outcomes.iter().filter(|o| **o == Outcome::Deleted).count();
        assert_eq!(deleted, said_deleted.len(), "{outcomes:?}");
    }
    // Once the cloud is well, the rest of the plan goes.
    let rest: Vec<Planned> = plan
        .iter()
        .filter(|p| !said_deleted.contains(&p.id.as_str()))
        .cloned()
        .collect();
    let second = run(rest.clone()).await.expect("the second run");
    assert_eq!(second, vec![Outcome::Deleted; rest.len()]);
    for p in &plan {
        assert!(c.image(&p.id).await.unwrap().is_none(), "{} went", p.id);
    }
    sim.stop().await;
}

/// A delete Glance carries out but whose answer is lost (a gateway's 504 after the work): kiln
/// asks afterwards, finds the image gone, and the audit says `deleted` with the error as detail,
/// not `failed` for an image that is no longer there.
#[tokio::test(flavor = "multi_thread")]
async fn a_delete_whose_answer_is_lost_is_recorded_as_what_happened() {
    let sim = sim(FleetSize::Demo).await;
    let c = admin(&sim).await;
    let inv = fetch(&c, false, Policy::default(), Fixed.now())
        .await
        .unwrap();
    let plan = plan_of(&inv, 2);
    sim.faults()
        .set_lost_answer(Service::Image, "DELETE", Some(504));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut audit = AuditLog::open(&path).unwrap();
    let actor = actor();
    let outcomes = apply(
        &c,
        &plan,
        Policy::default(),
        Arc::new(Fixed),
        &mut audit,
        &actor,
        &AtomicBool::new(false),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(outcomes, vec![Outcome::Deleted; 2]);
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.status == 504),
        "the answers were lost"
    );
    let lines: Vec<Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let results: Vec<&str> = lines
        .iter()
        .map(|l| l["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["started", "deleted", "started", "deleted"]);
    assert!(
        lines[1]["detail"].as_str().unwrap().contains("504"),
        "{}",
        lines[1]
    );
    for p in &plan {
        assert!(c.image(&p.id).await.unwrap().is_none());
    }
    sim.stop().await;
}

/// The console against a simulator with 2 s latency and no Nova: while Glance's listing is held
/// at a gate (so it cannot have finished), keys are answered (help opens, tabs switch); once
/// released, the view says usage is unknown and `e` names what failed. Then it quits cleanly.
#[test]
fn the_console_answers_keys_while_the_cloud_is_slow_and_says_what_failed() {
    use common::pty::Pty;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(sim(FleetSize::Demo));
    sim.faults().set_latency(Duration::from_secs(2));
    sim.faults().set_missing(Service::Compute, true);
    let mut gate = sim.hold(Service::Image, "GET", "/v2/images");
    let home = tempfile::tempdir().unwrap();
    let clouds = home.path().join("clouds.yaml");
    sim.write_clouds_yaml(&clouds, &sim.admin()).unwrap();
    let mut cmd = common::kiln(home.path());
    cmd.env("OS_CLIENT_CONFIG_FILE", &clouds)
        .env("OS_CLOUD", "kiln-sim");
    let mut pty = Pty::spawn(cmd);
    assert!(pty.wait_for(b"Build", 0), "the console starts");
    let at = pty.seen.len();
    pty.send(b":images\r");
    // The listing reaches Glance and is held there.
    let held = rt
        .block_on(gate.next(Duration::from_secs(30)))
        .expect("the listing asks Glance");
    let at_held = pty.seen.len().max(at);
    pty.send(b"?");
    assert!(
        pty.wait_for(b"refresh", at_held),
        "help opens while the listing waits: {}",
        pty.text_since(at_held)
    );
    // `?` again closes it (Esc followed at once by Tab would read as Alt-Tab).
    pty.send(b"?");
    let at_tab = pty.seen.len();
    pty.send(b"\t");
    assert!(
        pty.wait_for(b"eligible of", at_tab),
        "Tab switches views while the listing waits: {}",
        pty.text_since(at_tab)
    );
    pty.send(b"\x1b[Z"); // Shift-Tab: back to Images
    drop(gate);
    let at_release = pty.seen.len();
    held.release();
    assert!(
        pty.wait_for(b"usage: unknown", at_release),
        "the listing ends and says usage is unknown: {}",
        pty.text_since(at_release)
    );
    let at_e = pty.seen.len();
    pty.send(b"e");
    assert!(
        pty.wait_for(b"Nova", at_e),
        "e names the service that could not be asked: {}",
        pty.text_since(at_e)
    );
    let at_back = pty.seen.len();
    pty.send(b"\x1b");
    assert!(
        pty.wait_for(b"usage: unknown", at_back),
        "Esc: back to the list"
    );
    pty.send(b"q");
    let status = pty.wait_exit(Duration::from_secs(20)).expect("kiln quits");
    assert!(status.success(), "{status:?}");
    assert!(pty.cooked(), "terminal restored");
    rt.block_on(sim.stop());
}
