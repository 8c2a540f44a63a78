//! Retention against the simulator (real HTTP: Keystone, Glance, Nova, Cinder), through the
//! library's delete path and the `kiln retention` / `kiln images` binary: an image that becomes
//! in use between plan and apply is skipped (re-checked right before its delete); an in-use or
//! protected image is never deleted; a project-scoped token leaves nothing eligible that other
//! projects could be using; the audit file has every attempt, one JSON object a line, and says
//! exactly what was done when kiln is killed with SIGKILL between two deletes.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{NaiveDate, TimeZone, Utc};
use kiln::clock::Clock;
use kiln::cloud::session::Svc;
use kiln::cloud::{CloudClient, SessionOptions, UsageScope};
use kiln::inventory::audit::{Actor, AuditLog};
use kiln::inventory::delete::{Outcome, Planned, apply};
use kiln::inventory::fetch::fetch;
use kiln::retention::{Policy, Reason, Verdict};
use kiln::sim::{FleetSize, Sim, SimConfig};
use reqwest::Method;
use serde_json::{Value, json};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

struct Fixed;
impl Clock for Fixed {
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }
}

async fn sim() -> Sim {
    kiln::sim::start(SimConfig {
        fleet: FleetSize::Demo,
        ..SimConfig::new(11, today())
    })
    .await
    .expect("start the simulator")
}

async fn client(sim: &Sim, admin: bool) -> CloudClient {
    let creds = if admin { sim.admin() } else { sim.member() };
    CloudClient::connect(&sim.cloud_config(creds), SessionOptions::default())
        .await
        .expect("connect")
}

fn actor() -> Actor {
    Actor {
        user: "tester".into(),
        cloud: "sim".into(),
    }
}

fn audit_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn deletes_of(sim: &Sim, id: &str) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.ends_with(id))
        .count()
}

#[tokio::test]
async fn an_image_that_becomes_in_use_between_plan_and_apply_is_skipped() {
    let sim = sim().await;
    let c = client(&sim, true).await;
    let inv = fetch(&c, false, Policy::default(), Fixed.now())
        .await
        .unwrap();
    let eligible: Vec<Planned> = inv
        .eligible()
        .take(3)
        .map(|i| Planned {
            id: i.id.clone(),
            name: i.name.clone(),
        })
        .collect();
    assert_eq!(eligible.len(), 3, "the demo fleet has eligible images");
    // A node boots from the second one after the plan was made.
    let body = json!({"server": {"name": "late-node", "imageRef": eligible[1].id, "flavorRef": "2",
                                 "networks": [{"uuid": sim.fleet().networks[0].id}]}});
    let a = c
        .session()
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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut audit = AuditLog::open(&path).unwrap();
    let stop = AtomicBool::new(false);
    let outcomes = apply(
        &c,
        &eligible,
        Policy::default(),
        Arc::new(Fixed),
        &mut audit,
        &actor(),
        &stop,
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(outcomes[0], Outcome::Deleted);
    assert!(
        matches!(&outcomes[1], Outcome::Skipped(w) if w.contains("in_use")),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2], Outcome::Deleted);
    assert_eq!(deletes_of(&sim, &eligible[1].id), 0, "never attempted");
    assert!(c.image(&eligible[1].id).await.unwrap().is_some());
    assert!(c.image(&eligible[0].id).await.unwrap().is_none());
    let lines = audit_lines(&path);
    let results: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["image_id"].as_str().unwrap(),
                l["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            (eligible[0].id.as_str(), "started"),
            (eligible[0].id.as_str(), "deleted"),
            (eligible[1].id.as_str(), "skipped"),
            (eligible[2].id.as_str(), "started"),
            (eligible[2].id.as_str(), "deleted"),
        ]
    );
    assert_eq!(lines[2]["reasons"], json!(["in_use"]));
    assert_eq!(lines[0]["user"], "tester");
}

#[tokio::test]
async fn in_use_and_protected_images_are_never_deleted_even_when_planned() {
    let sim = sim().await;
    let c = client(&sim, true).await;
    let inv = fetch(&c, false, Policy::default(), Fixed.now())
        .await
        .unwrap();
    let in_use = inv
        .images
        .iter()
        .find(|i| i.reasons.contains(&Reason::InUse))
        .expect("an image in use");
    let protected = inv
        .images
        .iter()
        .find(|i| i.protected)
        .expect("a protected image");
    // A plan forged by hand: the re-check must refuse both.
    let plan: Vec<Planned> = [in_use, protected]
        .iter()
        .map(|i| Planned {
            id: i.id.clone(),
            name: i.name.clone(),
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut audit = AuditLog::open(&dir.path().join("audit.jsonl")).unwrap();
    let outcomes = apply(
        &c,
        &plan,
        Policy::default(),
        Arc::new(Fixed),
        &mut audit,
        &actor(),
        &AtomicBool::new(false),
        |_| {},
    )
    .await
    .unwrap();
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Skipped(_))),
        "{outcomes:?}"
    );
    for p in &plan {
        assert_eq!(deletes_of(&sim, &p.id), 0, "{} was attempted", p.name);
    }
    // And Glance itself refuses a protected delete (what the console would show).
    let e = c.delete_image(&protected.id).await.unwrap_err().to_string();
    assert!(e.contains("403"), "{e}");
}

#[tokio::test]
async fn a_project_token_leaves_nothing_eligible_that_other_projects_can_see() {
    let sim = sim().await;
    let c = client(&sim, false).await;
    let inv = fetch(&c, false, Policy::default(), Fixed.now())
        .await
        .unwrap();
    assert_eq!(inv.usage_scope, UsageScope::Project);
    assert!(!inv.images.is_empty());
    for i in &inv.images {
        assert_eq!(i.usage_scope, UsageScope::Project);
        if i.visibility != "private" {
            assert_eq!(i.verdict, Verdict::Keep, "{} ({})", i.name, i.visibility);
            assert!(i.reasons.contains(&Reason::UsageUnknown), "{}", i.name);
        }
    }
}

/// `kiln sim` on a free port, its export lines as an environment.
struct SimProcess {
    child: std::process::Child,
    env: Vec<(String, String)>,
}

impl SimProcess {
    fn start(home: &std::path::Path, extra: &[&str]) -> SimProcess {
        let mut child = common::kiln(home)
            .args([
                "sim",
                "--seed",
                "11",
                "--today",
                "2026-11-25",
                "--clouds-yaml",
            ])
            .arg(home.join("clouds.yaml"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut env = Vec::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == "ready" {
                break;
            }
            if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
                env.push((k.to_string(), v.to_string()));
            }
        }
        std::thread::spawn(move || for _ in lines {});
        SimProcess { child, env }
    }

    fn kiln(&self, home: &std::path::Path) -> Command {
        let mut c = common::kiln(home);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_cli_plans_without_deleting_refuses_without_yes_and_applies_with_it() {
    let home = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(home.path(), &[]);
    let images = |sim: &SimProcess| -> Vec<Value> {
        let out = sim
            .kiln(home.path())
            .args(["images", "--json"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = images(&sim);
    // The JSON contract of `kiln images --json`.
    let reasons = [
        "in_use",
        "protected",
        "younger_than_min_age",
        "latest_in_series",
        "newest",
        "unparseable_name",
        "usage_unknown",
    ];
    for i in &before {
        for k in ["id", "name", "created_at", "status"] {
            assert!(i[k].is_string(), "{k}: {i}");
        }
        assert!(i["series"].is_string() || i["series"].is_null());
        assert!(i["age_days"].is_i64(), "{i}");
        assert!(i["size"].is_u64() || i["size"].is_null());
        assert!(i["protected"].is_boolean());
        assert!(i["fips_enabled"].is_boolean() || i["fips_enabled"].is_null());
        assert!(i["in_use"]["servers"].is_u64() && i["in_use"]["volumes"].is_u64());
        assert!(["keep", "eligible"].contains(&i["verdict"].as_str().unwrap()));
        for r in i["reasons"].as_array().unwrap() {
            assert!(reasons.contains(&r.as_str().unwrap()), "{r}");
        }
        assert_eq!(
            i["verdict"] == "eligible",
            i["reasons"].as_array().unwrap().is_empty()
        );
        assert_eq!(i["usage_scope"], "all_projects");
        assert!(i["flags"].is_array());
    }
    assert!(
        before.iter().any(|i| i["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("duplicate_name"))),
        "the fleet has a duplicated name"
    );
    assert!(before.iter().any(|i| {
        i["flags"]
            .as_array()
            .unwrap()
            .contains(&json!("name_date_mismatch"))
    }));
    let eligible: Vec<&str> = before
        .iter()
        .filter(|i| i["verdict"] == "eligible")
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(!eligible.is_empty());

    let out = sim
        .kiln(home.path())
        .args(["retention", "plan", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(images(&sim).len(), before.len(), "plan deletes nothing");
    let out = sim
        .kiln(home.path())
        .args(["retention", "apply"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no --yes");
    let out = sim
        .kiln(home.path())
        .args(["--readonly", "retention", "apply", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "read-only");
    assert_eq!(images(&sim).len(), before.len());

    let out = sim
        .kiln(home.path())
        .args(["retention", "apply", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = images(&sim);
    assert_eq!(after.len(), before.len() - eligible.len());
    assert!(
        after
            .iter()
            .all(|i| !eligible.contains(&i["id"].as_str().unwrap()))
    );
    let audit = audit_lines(&home.path().join("state/kiln/audit.jsonl"));
    assert_eq!(
        audit.iter().filter(|l| l["result"] == "deleted").count(),
        eligible.len()
    );
}

#[test]
fn sigkill_between_two_deletes_leaves_an_audit_file_that_says_what_was_done() {
    let home = tempfile::tempdir().unwrap();
    // Slow calls, so kiln is surely between two deletes when it is killed.
    let sim = SimProcess::start(home.path(), &["--latency-ms", "150"]);
    let audit_path = home.path().join("state/kiln/audit.jsonl");
    let list = |sim: &SimProcess| -> Vec<Value> {
        let out = sim
            .kiln(home.path())
            .args(["images", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let before = list(&sim);
    let mut kiln = sim
        .kiln(home.path())
        .args(["retention", "apply", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while audit_lines(&audit_path)
        .iter()
        .filter(|l| l["result"] == "deleted")
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "no two deletes in 120 s");
        assert!(
            kiln.try_wait().unwrap().is_none(),
            "kiln ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    kiln.kill().unwrap();
    kiln.wait().unwrap();
    let lines = audit_lines(&audit_path);
    assert!(lines.len() >= 4);
    let now = list(&sim);
    let present = |id: &str| now.iter().any(|i| i["id"] == id);
    for l in &lines {
        let id = l["image_id"].as_str().unwrap();
        let last = lines.iter().rev().find(|x| x["image_id"] == id).unwrap();
        match last["result"].as_str().unwrap() {
            "deleted" => assert!(!present(id), "audit says deleted: {id} is still there"),
            "skipped" => assert!(present(id), "audit says skipped: {id} is gone"),
            // Killed during the call: the file says it was attempted; Glance has the answer.
            "started" => {}
            other => panic!("unexpected result {other}"),
        }
    }
    // Every image gone from Glance was deleted by this run, and the audit file names it.
    for gone in before
        .iter()
        .filter(|i| !present(i["id"].as_str().unwrap()))
    {
        assert!(
            lines.iter().any(|l| l["image_id"] == gone["id"]
                && (l["result"] == "deleted" || l["result"] == "started")),
            "{} is gone but not in the audit file",
            gone["name"]
        );
    }
    assert!(now.len() < before.len());
}
