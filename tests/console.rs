//! The console's update, driven by keys and commands with no terminal: `:var`, `:unvar`, `:fips`,
//! read-only, `--skip-preflight`, History's keys, keys reaching only the view shown, and every
//! action of every view bound and listed in help in some state.

mod common;

use std::collections::HashSet;

use common::screen::probe_theme;
use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiln::app::Init;
use kiln::app::effect::Effect;
use kiln::app::page::{Level, Page, Shared};
use kiln::app::shell::App;
use kiln::app::views::bake::{self, BakeEffect, Demo, Form};
use kiln::app::views::{ViewEffect, ViewId, Views, history, images, log, nodes, retention};
use kiln::bake::events::BuildEvent;
use kiln::bake::plan::StagePlan;
use kiln::bake::record::FipsRecord;
use kiln::bake::state::BuildState;

fn app_with(init: Init, readonly: bool, demo: bool) -> App {
    App::new(
        Views::new(&init),
        Shared::new(probe_theme(), readonly, demo, t0()),
        ViewId::Build,
    )
}

fn app() -> App {
    app_with(
        Init {
            form: Form {
                source_image: "ubuntu-22.04".into(),
                ..Form::default()
            },
            ..Init::default()
        },
        false,
        false,
    )
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn status(app: &App) -> (String, Level) {
    let s = app.shared.status.clone().expect("a status message");
    (s.text, s.level)
}

fn start_build(app: &mut App) {
    app.on_event(
        bake::Event::Planned {
            state: Box::new(BuildState::new(&StagePlan::new(SCRIPTS), t0())),
            fips: FipsRecord::default(),
            expected_image: "rke2-node-v1.28-20261124".into(),
        }
        .into(),
    );
    let (_, events, _) = route(&transcript("demo-success").0, 0, false);
    let running: Vec<BuildEvent> = events
        .into_iter()
        .take_while(|e| !matches!(e, BuildEvent::StageStarted { stage: 5, .. }))
        .collect();
    app.on_event(bake::Event::Batch(running).into());
    assert!(app.views.bake.running());
}

#[test]
fn var_unvar_and_fips_change_the_form_and_say_so() {
    let mut app = app();
    app.run_command("var flavor=m1.large");
    assert_eq!(
        app.views.bake.form.vars,
        [("flavor".into(), "m1.large".into())]
    );
    assert_eq!(status(&app).0, "var flavor set for the next build");
    app.run_command("var flavor=m1.xlarge");
    assert_eq!(
        app.views.bake.form.vars,
        [("flavor".into(), "m1.xlarge".into())],
        "a var set again replaces the old value"
    );
    app.run_command("var no-equals");
    assert_eq!(status(&app).1, Level::Error);
    app.run_command("unvar flavor");
    assert!(app.views.bake.form.vars.is_empty());
    assert_eq!(status(&app).0, "var flavor removed");
    app.run_command("unvar flavor");
    assert_eq!(status(&app).1, Level::Warn, "removing an unset var says so");
    app.run_command("fips on");
    assert!(app.views.bake.form.fips);
    app.run_command("fips maybe");
    assert_eq!(status(&app), ("usage: :fips on|off".into(), Level::Error));
    assert!(app.views.bake.form.fips, "a bad argument changes nothing");
    app.run_command("fips off");
    assert!(!app.views.bake.form.fips);
    app.run_command("frobnicate");
    assert!(status(&app).0.starts_with("unknown command `:frobnicate`"));
}

#[test]
fn a_changed_form_forgets_the_old_checklist() {
    let mut app = app();
    key(&mut app, KeyCode::Char('p'));
    app.on_event(bake::Event::Preflight(Default::default()).into());
    assert!(app.views.bake.preflight.data().is_some());
    app.run_command("var flavor=m1.large");
    assert!(app.views.bake.preflight.data().is_none());
}

#[test]
fn readonly_never_starts_a_build() {
    let mut app = app_with(Init::default(), true, false);
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "Enter is not bound"
    );
    assert!(app.run_command("build start").is_empty());
    assert!(status(&app).0.contains("--readonly"));
}

#[test]
fn skip_preflight_starts_at_once() {
    let mut app = app_with(
        Init {
            skip_preflight: true,
            ..Init::default()
        },
        false,
        false,
    );
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(
            effects.as_slice(),
            [Effect::View(ViewEffect::Build(BakeEffect::Build { .. }))]
        ),
        "{effects:?}"
    );
}

#[test]
fn keys_reach_only_the_view_shown() {
    let mut app = app();
    start_build(&mut app);
    app.show(ViewId::History);
    // PgUp is History's page key: it must not scroll the hidden build log.
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.views.bake.run.as_ref().unwrap().pane.scroll, 0);
    // `c` means nothing in History: no cancel prompt for the build behind it.
    assert!(key(&mut app, KeyCode::Char('c')).is_empty());
    assert!(app.views.bake.prompt.is_none());
    // The filter typed here is History's.
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Char('x'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.views.history.table.filter(), "x");
    assert_eq!(app.views.bake.run.as_ref().unwrap().filter, "");
}

#[test]
fn history_tells_this_consoles_running_build_from_one_kiln_left_behind() {
    use kiln::app::widgets::table::TableRow;
    let mut app = app();
    app.show(ViewId::History);
    let record = |hours| {
        kiln::bake::record::BuildRecord::started(
            t0() - chrono::Duration::hours(hours),
            std::path::Path::new("t"),
            &[],
            FipsRecord::default(),
            &kiln::secrets::Secrets::default(),
        )
    };
    let reasons = |app: &App| -> Vec<String> {
        app.views
            .history
            .records
            .data()
            .unwrap()
            .iter()
            .map(|r| r.cells()[5].text.clone())
            .collect()
    };
    let load = |app: &mut App| {
        let entries = vec![
            Ok((std::path::PathBuf::from("/b/now"), record(0))),
            Ok((std::path::PathBuf::from("/b/old"), record(5))),
        ];
        app.on_event(
            history::Event::Loaded(Ok(history::Loaded {
                entries,
                ..Default::default()
            }))
            .into(),
        );
    };
    load(&mut app);
    let left = "no result: kiln stopped during the build (or it still runs)";
    assert_eq!(reasons(&app), [left, left]);
    // This console's build starts writing /b/now: the loaded rows learn it, and so does a reload.
    app.on_event(bake::Event::Started(Some("/b/now".into())).into());
    assert_eq!(reasons(&app), ["running now, in this console", left]);
    load(&mut app);
    assert_eq!(reasons(&app), ["running now, in this console", left]);
}

#[test]
fn the_demo_reaches_only_its_simulated_nodes() {
    let inv = common::inventory::demo_inventory(true);
    for demo in [true, false] {
        let mut a = app_with(Init::default(), false, demo);
        a.on_event(
            images::Event::Loaded(Ok(Box::new(images::Loaded {
                inventory: inv.clone(),
                records: Vec::new(),
            })))
            .into(),
        );
        a.show(ViewId::Nodes);
        let at = a
            .views
            .nodes
            .rows
            .iter()
            .position(|r| r.from_volume)
            .expect("a server booted from a volume");
        key(&mut a, KeyCode::Char('g'));
        for _ in 0..at {
            key(&mut a, KeyCode::Char('j'));
        }
        let effects = key(&mut a, KeyCode::Char('i'));
        if demo {
            // No SSH node in the demo for it: nothing is dialled, the status line says why.
            assert!(effects.is_empty(), "{effects:?}");
            let (text, level) = status(&a);
            assert!(text.contains("the demo has no SSH node for"), "{text}");
            assert_eq!(level, Level::Warn);
        } else {
            let [Effect::View(ViewEffect::Nodes(nodes::NodesEffect::Inspect(targets)))] =
                effects.as_slice()
            else {
                panic!("{effects:?}")
            };
            assert_eq!(targets[0].target.port, 22);
        }
    }
}

#[test]
fn history_keys_move_sort_and_reload() {
    let mut app = app();
    app.show(ViewId::History);
    let mut entries = Vec::new();
    for i in 0..5 {
        let mut r = kiln::bake::record::BuildRecord::started(
            t0() - chrono::Duration::hours(i),
            std::path::Path::new("t"),
            &[],
            FipsRecord::default(),
            &kiln::secrets::Secrets::default(),
        );
        r.seconds = Some(100.0 * (5 - i) as f64);
        entries.push(Ok((std::path::PathBuf::from(format!("/b/{i}")), r)));
    }
    app.on_event(
        history::Event::Loaded(Ok(history::Loaded {
            entries,
            ..Default::default()
        }))
        .into(),
    );
    let dir = |app: &App| match app.views.history.selected() {
        Some(Ok((d, _))) => d.display().to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(dir(&app), "/b/0", "newest first");
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(dir(&app), "/b/1");
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(dir(&app), "/b/4");
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(dir(&app), "/b/0");
    // s walks the columns, each ascending then descending: RESULT up, RESULT down, TIME up.
    for _ in 0..3 {
        key(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(
        app.views.history.table.sort(),
        Some((2, kiln::app::widgets::table::SortDir::Asc))
    );
    key(&mut app, KeyCode::Char('g'));
    assert_eq!(dir(&app), "/b/4", "the shortest build first");
    assert_eq!(
        key(&mut app, KeyCode::Char('r')),
        vec![history::HistoryEffect::Load.into()]
    );
}

#[test]
fn quitting_asks_only_while_work_runs() {
    let mut idle = app();
    assert_eq!(key(&mut idle, KeyCode::Char('q')), vec![Effect::Quit]);
    let mut app = app();
    start_build(&mut app);
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Effect::Quit]);
}

/// Every action of `page`, bound in the states given, and shown in help (a binding with empty
/// keys is the second half of the row above it).
fn assert_all_in_help<P: Page>(states: &[(&P, &Shared)], all: &[P::Action])
where
    P::Action: std::hash::Hash + Eq,
{
    let mut seen = HashSet::new();
    for (page, shared) in states {
        let bindings = page.bindings(shared);
        assert!(
            bindings.first().is_none_or(|b| !b.keys.is_empty()),
            "help starts with a key"
        );
        for b in &bindings {
            assert!(
                b.keys.is_empty() || !b.help.is_empty(),
                "{:?} has no help",
                b.action
            );
            seen.insert(b.action);
        }
    }
    for a in all {
        assert!(seen.contains(a), "{a:?} is in no state's help");
    }
}

#[test]
fn every_action_of_every_view_is_in_its_help() {
    let shared = Shared::new(probe_theme(), false, false, t0());
    let demo_shared = Shared::new(probe_theme(), false, true, t0());
    // Build: idle, running with a filter, and the demo.
    let idle = self::app();
    let mut running = self::app();
    start_build(&mut running);
    running.views.bake.set_filter("x".into());
    // A failed build whose explanation is longer than the result panel shows.
    let mut failed = self::app();
    start_build(&mut failed);
    failed.on_event(
        bake::Event::Batch(vec![BuildEvent::Finished(
            kiln::bake::events::BuildOutcome {
                status: kiln::bake::events::BuildStatus::Failed,
                image_id: None,
                image_name: None,
                failed_stage: Some(4),
                explanation: (0..20).map(|i| format!("error {i}")).collect(),
                error: Some("error 0".into()),
                seconds: 60.0,
            },
        )])
        .into(),
    );
    let demo = app_with(
        Init {
            demo: Some(Demo {
                speed: 20.0,
                names: vec!["success".into()],
                next: 0,
            }),
            ..Init::default()
        },
        false,
        true,
    );
    assert_all_in_help(
        &[
            (&idle.views.bake, &shared),
            (&running.views.bake, &shared),
            (&failed.views.bake, &shared),
            (&demo.views.bake, &demo_shared),
        ],
        bake::Action::ALL,
    );
    // History: with rows and a filter.
    let mut h = self::app();
    h.show(ViewId::History);
    let rec = kiln::bake::record::BuildRecord::started(
        t0(),
        std::path::Path::new("t"),
        &[],
        FipsRecord::default(),
        &kiln::secrets::Secrets::default(),
    );
    h.on_event(
        history::Event::Loaded(Ok(history::Loaded {
            entries: vec![Ok(("/b".into(), rec))],
            ..Default::default()
        }))
        .into(),
    );
    h.views.history.set_filter("run".into());
    assert!(
        !h.views.history.table.is_empty(),
        "the record is running: it matches"
    );
    let list = h.views.history.clone();
    key(&mut h, KeyCode::Enter);
    assert!(matches!(h.views.history.mode, history::Mode::Record { .. }));
    let record = h.views.history.clone();
    let effects = key(&mut h, KeyCode::Char('l'));
    let [Effect::View(ViewEffect::History(history::HistoryEffect::ReadLog(path)))] =
        effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    h.on_event(
        history::Event::LogRead(path.clone(), Ok((vec!["a".into(), "match".into()], 0))).into(),
    );
    h.views.history.set_filter("match".into());
    assert_all_in_help(
        &[
            (&list, &shared),
            (&record, &shared),
            (&h.views.history, &shared),
        ],
        history::Action::ALL,
    );
    assert_all_in_help(&[(&idle.views.log, &shared)], log::Action::ALL);
    // Images: list with a filter, detail, errors (a member's listing: usage problems or none).
    let inv = common::inventory::demo_inventory(true);
    let mut i = self::app();
    i.show(ViewId::Images);
    i.on_event(
        images::Event::Loaded(Ok(Box::new(images::Loaded {
            inventory: inv,
            records: Vec::new(),
        })))
        .into(),
    );
    i.on_event(images::Event::Loaded(Err("glance: GET /v2/images: 503".into())).into());
    let with_error = i.views.images.clone();
    i.views.images.set_filter("v1.28".into());
    let filtered = i.views.images.clone();
    i.views.images.set_filter(String::new());
    key(&mut i, KeyCode::Enter);
    assert!(matches!(i.views.images.mode, images::Mode::Detail(_)));
    let detail = i.views.images.clone();
    assert_all_in_help(
        &[
            (&with_error, &shared),
            (&filtered, &shared),
            (&detail, &shared),
        ],
        images::Action::ALL,
    );
    // Retention: marks, a filter, a run under way.
    i.show(ViewId::Retention);
    let fresh = i.views.retention.clone();
    key(&mut i, KeyCode::Char(' '));
    i.views.retention.set_filter("v1.27".into());
    let marked = i.views.retention.clone();
    i.views.retention.set_filter(String::new());
    key(&mut i, KeyCode::Char('D'));
    key(&mut i, KeyCode::Char('1'));
    let effects = key(&mut i, KeyCode::Enter);
    assert_eq!(effects.len(), 1, "{effects:?}");
    let running = i.views.retention.clone();
    assert_all_in_help(
        &[(&fresh, &shared), (&marked, &shared), (&running, &shared)],
        retention::Action::ALL,
    );
    // Nodes: a filtered list, a run under way, a node's detail with its manifest read.
    i.show(ViewId::Nodes);
    i.views.nodes.set_filter("cp".into());
    let filtered = i.views.nodes.clone();
    i.views.nodes.set_filter(String::new());
    let effects = key(&mut i, KeyCode::Char('i'));
    let [Effect::View(ViewEffect::Nodes(nodes::NodesEffect::Inspect(targets)))] =
        effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    let inspecting = i.views.nodes.clone();
    let target = targets[0].clone();
    let mut facts = kiln::manifest::NodeFacts::empty("/m");
    facts.manifest_text = Some("{}".into());
    i.on_event(
        nodes::Event::Report {
            server_id: target.server_id.clone(),
            report: Box::new(kiln::node::NodeReport::read(
                &target.target,
                "n",
                facts,
                &kiln::manifest::Expectations::default(),
            )),
        }
        .into(),
    );
    i.on_event(nodes::Event::Finished(Ok(())).into());
    key(&mut i, KeyCode::Enter);
    assert!(matches!(i.views.nodes.mode, nodes::Mode::Detail { .. }));
    let detail = i.views.nodes.clone();
    assert_all_in_help(
        &[
            (&filtered, &shared),
            (&inspecting, &shared),
            (&detail, &shared),
        ],
        nodes::Action::ALL,
    );
    // The shell's own keys are in every view's help.
    for v in ViewId::ALL {
        let mut a = self::app();
        a.show(*v);
        let rows = a.help_rows();
        for k in ["?", ":", "q", "Tab / Shift-Tab", "Ctrl-Z"] {
            assert!(
                rows.iter().any(|(key, _)| *key == k),
                "{k} missing in {v:?}"
            );
        }
    }
}

#[test]
fn help_lists_cancel_only_while_a_build_runs() {
    let app_idle = self::app();
    assert!(!app_idle.help_rows().iter().any(|(k, _)| *k == "c"));
    let mut app_run = self::app();
    start_build(&mut app_run);
    assert!(app_run.help_rows().iter().any(|(k, _)| *k == "c"));
}
