//! Snapshots of the Nodes view (insta + TestBackend, named styles): the servers the simulator's
//! Nova runs from rke2-node images (seed 11, fixed clock), marks and a parallel inspection's
//! progress, the host-key question, a node with error drift (findings by severity, the manifest
//! as a structured panel with each pre-pulled image present or missing) and its raw JSON. The
//! reports are made by the real drift check from facts as a node would give them.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::inventory::{demo_inventory, listed_at};
use common::screen::{probe_theme, render, styled};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiln::app::Init;
use kiln::app::effect::Effect;
use kiln::app::page::Shared;
use kiln::app::shell::App;
use kiln::app::views::images::{self, Loaded};
use kiln::app::views::nodes::{self, HostKeyAnswer, HostKeyQuestion, Inspection, NodesEffect};
use kiln::app::views::{ViewEffect, ViewId, Views};
use kiln::manifest::{
    Expectations, FindingKind, ImageManifest, ImageStore, ManifestRead, NodeFacts, Observed,
    ProStatus,
};
use kiln::node::{HostKeyDecision, NodeReport, Stage, Target, UnknownHostKey};
use serde_json::Value;

const GOLDEN: &str = include_str!("stages/golden/image-manifest.json");

fn now() -> DateTime<Utc> {
    listed_at()
}

fn app() -> App {
    let mut app = App::new(
        Views::new(&Init::default()),
        Shared::new(probe_theme(), false, false, now()),
        ViewId::Nodes,
    );
    app.on_event(
        images::Event::Loaded(Ok(Box::new(Loaded {
            inventory: demo_inventory(true),
            records: Vec::new(),
        })))
        .into(),
    );
    app
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn screen(app: &App, w: u16, h: u16) -> String {
    styled(render(app, now(), w, h).backend().buffer())
}

fn expectations() -> Expectations {
    Expectations::from_template(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("stages/rke2-node.pkr.hcl"),
    )
    .unwrap()
}

/// A node's facts: the golden manifest with today's pinned list pre-pulled, containerd holding
/// every image but `drop` (both names), RKE2 at `rke2`.
fn facts(rke2: &str, drop: Option<usize>, failures: &[&str]) -> NodeFacts {
    let expect = expectations();
    let pinned = expect.pinned.clone().unwrap();
    let mut m: Value = serde_json::from_str(GOLDEN).unwrap();
    let refs: Vec<(String, String)> = pinned
        .images
        .iter()
        .map(|p| (p.upstream.clone(), p.harbor_ref(&expect.harbor_registry)))
        .collect();
    m["prepulled_images"] = refs.iter().map(|(_, h)| Value::from(h.clone())).collect();
    m["prepull_failures"] = failures.iter().map(|f| Value::from(*f)).collect();
    m["prepulled_image_upstream"] = refs
        .iter()
        .map(|(u, h)| (h.clone(), Value::from(u.clone())))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let text = serde_json::to_string_pretty(&m).unwrap();
    let manifest =
        ImageManifest::parse(&text, "node:/etc/packer-build/image-manifest.json").unwrap();
    let present: BTreeSet<String> = refs
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != drop)
        .flat_map(|(_, (u, h))| [u.clone(), h.clone()])
        .collect();
    let mut f = NodeFacts::empty("/etc/packer-build/image-manifest.json");
    f.manifest = ManifestRead::Parsed(Box::new(manifest));
    f.manifest_text = Some(text);
    f.prepull_failures_file = Observed::Value(failures.iter().map(|s| s.to_string()).collect());
    f.fips_enabled_kernel = Observed::Value(false);
    f.pro = Observed::Value(ProStatus {
        attached: false,
        enabled_services: Vec::new(),
    });
    f.rke2_version = Observed::Value(rke2.to_string());
    f.images = Observed::Value(ImageStore {
        tool: "ctr".into(),
        refs: present,
    });
    f
}

fn report(target: &Target, facts: NodeFacts) -> Box<NodeReport> {
    Box::new(NodeReport::read(
        target,
        &target.to_string(),
        facts,
        &expectations(),
    ))
}

/// Marks the first two nodes and inspects them: the effect and its targets.
fn inspect_two(app: &mut App) -> Vec<nodes::NodeTarget> {
    key(app, KeyCode::Char(' '));
    key(app, KeyCode::Char(' '));
    let effects = key(app, KeyCode::Char('i'));
    let [Effect::View(ViewEffect::Nodes(NodesEffect::Inspect(targets)))] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    targets.clone()
}

#[test]
fn nodes_list_the_servers_running_rke2_images() {
    let app = app();
    let rows = &app.views.nodes.rows;
    assert!(rows.len() > 5, "{}", rows.len());
    assert!(rows.iter().all(|r| r.image.name.starts_with("rke2-node-")));
    insta::assert_snapshot!("nodes_list_120x32", screen(&app, 120, 32));
    insta::assert_snapshot!("nodes_list_80x24", screen(&app, 80, 24));
}

#[test]
fn marked_nodes_inspect_in_parallel_with_progress_and_a_host_key_question() {
    let mut app = app();
    let targets = inspect_two(&mut app);
    assert_eq!(targets.len(), 2);
    // Each target is the node's address on port 22, with its image's Glance properties.
    for t in &targets {
        let row = app
            .views
            .nodes
            .rows
            .iter()
            .find(|r| r.server.id == t.server_id)
            .unwrap();
        assert_eq!(t.target, Target::new(row.address().unwrap(), 22));
        assert_eq!(t.glance_properties["name"], row.image.name);
    }
    assert!(
        key(&mut app, KeyCode::Char('i')).is_empty(),
        "one run at a time"
    );
    let (a, b) = (targets[0].server_id.clone(), targets[1].server_id.clone());
    app.on_event(
        nodes::Event::Progress {
            server_id: a.clone(),
            stage: Stage::Connecting,
        }
        .into(),
    );
    app.on_event(
        nodes::Event::Progress {
            server_id: b.clone(),
            stage: Stage::Reading,
        }
        .into(),
    );
    let (answer, mut rx) = HostKeyAnswer::new();
    app.on_event(
        nodes::Event::HostKey(HostKeyQuestion {
            node: targets[0].name.clone(),
            key: UnknownHostKey {
                host: targets[0].target.host.clone(),
                port: 22,
                algorithm: "ssh-ed25519".into(),
                fingerprint: "SHA256:Xk3n1XzQ2o5cN0m2S8Ue8y0pQv1VZf3kq9m2rL7c4aE".into(),
                known_hosts: "/home/op/.ssh/known_hosts".into(),
                other_types: vec![(7, "ecdsa-sha2-nistp256".into())],
            },
            answer,
        })
        .into(),
    );
    insta::assert_snapshot!("nodes_host_key_question", screen(&app, 120, 32));
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(rx.try_recv(), Ok(HostKeyDecision::TrustAndRecord));
    assert!(app.views.nodes.questions.is_empty());
    let t = Target::new("10.0.0.1", 22);
    app.on_event(
        nodes::Event::Report {
            server_id: b.clone(),
            report: report(&t, facts("v1.28.15+rke2r1", None, &[])),
        }
        .into(),
    );
    insta::assert_snapshot!("nodes_inspection_under_way", screen(&app, 120, 32));
    app.on_event(
        nodes::Event::Report {
            server_id: a.clone(),
            report: report(
                &t,
                facts("v1.29.1+rke2r1", Some(3), &["harbor.vitro.lan/x/y:1"]),
            ),
        }
        .into(),
    );
    app.on_event(nodes::Event::Finished(Ok(())).into());
    assert!(!app.views.nodes.running);
    let status = app.shared.status.clone().unwrap().text;
    assert!(status.contains("1 with error drift"), "{status}");
}

#[test]
fn a_drifted_node_shows_findings_by_severity_and_its_manifest() {
    let mut app = app();
    let targets = inspect_two(&mut app);
    let id = targets[0].server_id.clone();
    let t = targets[0].target.clone();
    let r = report(
        &t,
        facts("v1.29.1+rke2r1", Some(3), &["harbor.vitro.lan/x/y:1"]),
    );
    let kinds: Vec<FindingKind> = r.drift.iter().map(|f| f.kind).collect();
    for k in [
        FindingKind::Rke2VersionMismatch,
        FindingKind::ImageMissing,
        FindingKind::PrepullFailed,
    ] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    app.on_event(
        nodes::Event::Report {
            server_id: id.clone(),
            report: r,
        }
        .into(),
    );
    app.on_event(nodes::Event::Finished(Ok(())).into());
    // Enter on an inspected node opens it without a new inspection.
    app.views.nodes.marks.clear();
    let pos = app
        .views
        .nodes
        .table
        .order()
        .iter()
        .position(|&i| app.views.nodes.rows[i].server.id == id)
        .unwrap();
    app.views.nodes.table.top();
    for _ in 0..pos {
        key(&mut app, KeyCode::Char('j'));
    }
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(matches!(
        app.views.nodes.inspections.get(&id),
        Some(Inspection::Done(_))
    ));
    let text = screen(&app, 120, 45);
    assert!(text.contains("drift: "), "{text}");
    insta::assert_snapshot!("node_detail_drift_and_manifest", text);
    key(&mut app, KeyCode::Char('m'));
    let raw = screen(&app, 120, 32);
    assert!(raw.contains("\"built_by\": \"packer\""), "{raw}");
    insta::assert_snapshot!("node_detail_raw_manifest", raw);
    // i in the detail inspects this node again.
    let effects = key(&mut app, KeyCode::Char('i'));
    let [Effect::View(ViewEffect::Nodes(NodesEffect::Inspect(again)))] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].server_id, id);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.views.nodes.mode, nodes::Mode::List);
}

#[test]
fn stopping_refuses_waiting_host_keys_and_marks_the_rest_stopped() {
    let mut app = app();
    let targets = inspect_two(&mut app);
    let (answer, mut rx) = HostKeyAnswer::new();
    app.on_event(
        nodes::Event::HostKey(HostKeyQuestion {
            node: targets[0].name.clone(),
            key: UnknownHostKey {
                host: "10.0.0.9".into(),
                port: 22,
                algorithm: "ssh-ed25519".into(),
                fingerprint: "SHA256:abc".into(),
                known_hosts: "/k".into(),
                other_types: vec![],
            },
            answer,
        })
        .into(),
    );
    // The prompt takes the keys: Esc refuses.
    key(&mut app, KeyCode::Esc);
    assert_eq!(rx.try_recv(), Ok(HostKeyDecision::Refuse));
    let effects = key(&mut app, KeyCode::Char('c'));
    assert!(matches!(
        effects.as_slice(),
        [Effect::View(ViewEffect::Nodes(NodesEffect::Stop))]
    ));
    app.on_event(nodes::Event::Stopped.into());
    for t in &targets {
        assert!(matches!(
            app.views.nodes.inspections.get(&t.server_id),
            Some(Inspection::Stopped)
        ));
    }
    // A second run in the same session starts.
    let effects = key(&mut app, KeyCode::Char('i'));
    assert!(
        matches!(effects.as_slice(), [Effect::View(ViewEffect::Nodes(NodesEffect::Inspect(t)))] if t.len() == 2)
    );
    let _ = Arc::new(());
}
