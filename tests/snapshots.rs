//! Snapshots of the console (insta + ratatui's TestBackend), driven by real key events and real
//! transcripts, with a fixed clock. The snapshots that matter record the named style of every
//! run of text (see `common::screen`): failed, running, selection, warnings, the FIPS prompt.

mod common;

use std::path::PathBuf;

use chrono::Duration;
use common::screen::{probe_theme, render, styled};
use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiln::app::Init;
use kiln::app::effect::{AppEvent, Effect};
use kiln::app::page::Shared;
use kiln::app::shell::App;
use kiln::app::views::bake::{self, BakeEffect, Form};
use kiln::app::views::history;
use kiln::app::views::{ViewId, Views};
use kiln::bake::events::BuildEvent;
use kiln::bake::fips::ProVerdict;
use kiln::bake::plan::StagePlan;
use kiln::bake::preflight::{Check, CheckStatus, PreflightReport};
use kiln::bake::record::{BuildRecord, FipsRecord, RecordResult, StageRecord};
use kiln::bake::state::BuildState;
use kiln::theme::Theme;

fn form() -> Form {
    Form {
        template: "stages/rke2-node.pkr.hcl".into(),
        expected_image: "rke2-node-v1.28-20261124".into(),
        source_image: "ubuntu-22.04".into(),
        vars: vec![("k8s_version".into(), "v1.28.15+rke2r1".into())],
        ..Form::default()
    }
}

fn app_with(theme: Theme) -> App {
    let init = Init {
        form: form(),
        ..Init::default()
    };
    App::new(
        Views::new(&init),
        Shared::new(theme, false, false, t0()),
        ViewId::Build,
    )
}

fn app() -> App {
    app_with(probe_theme())
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn planned() -> AppEvent {
    bake::Event::Planned {
        state: Box::new(BuildState::new(&StagePlan::new(SCRIPTS), t0())),
        fips: FipsRecord::default(),
        expected_image: "rke2-node-v1.28-20261124".into(),
    }
    .into()
}

/// An app that has run `fraction` of a transcript's lines, and the time to draw it at.
fn app_with_build(name: &str, fraction: f64, theme: Theme) -> (App, chrono::DateTime<chrono::Utc>) {
    let (text, exit) = transcript(name);
    let lines: Vec<&str> = text.lines().collect();
    let take = ((lines.len() as f64) * fraction) as usize;
    let (_, mut events, _) = route(&lines[..take].join("\n"), exit, false);
    if fraction < 1.0 {
        // Still running: drop the end `finish` added (the outcome and the last stage's close).
        events.retain(|e| !matches!(e, BuildEvent::Finished(_)));
        if let Some(pos) = events
            .iter()
            .rposition(|e| matches!(e, BuildEvent::StageFinished { .. }))
        {
            events.remove(pos);
        }
    }
    let mut app = app_with(theme);
    app.shared.typical_build_seconds = Some(760.0);
    app.on_event(planned());
    app.on_event(bake::Event::Batch(events).into());
    let ts = |l: &str| l.split(',').next().and_then(|t| t.parse::<i64>().ok());
    let last = lines[..take].iter().rev().find_map(|l| ts(l)).unwrap();
    let first = ts(lines[0]).unwrap();
    (app, t0() + Duration::seconds(last - first + 7))
}

fn screen(app: &App, now: chrono::DateTime<chrono::Utc>) -> String {
    styled(render(app, now, 120, 32).backend().buffer())
}

#[test]
fn build_running() {
    let (app, now) = app_with_build("demo-success", 0.45, probe_theme());
    assert!(app.views.bake.running());
    insta::assert_snapshot!(screen(&app, now));
}

#[test]
fn build_failed() {
    let (app, now) = app_with_build("demo-failed", 1.0, probe_theme());
    assert!(!app.views.bake.running());
    insta::assert_snapshot!(screen(&app, now));
}

#[test]
fn build_succeeded() {
    let (app, now) = app_with_build("demo-success", 1.0, probe_theme());
    insta::assert_snapshot!(screen(&app, now));
}

#[test]
fn build_succeeded_light_theme_styles() {
    let light = Theme::load("light", std::path::Path::new("/nonexistent"), false).unwrap();
    let (app, now) = app_with_build("demo-success", 1.0, light);
    // Debug of the buffer lists the style runs in the light theme's real colours.
    insta::assert_snapshot!(format!(
        "{:?}",
        render(&app, now, 120, 32).backend().buffer()
    ));
}

#[test]
fn selecting_a_stage_and_filtering_its_log() {
    let (mut app, now) = app_with_build("demo-success", 1.0, probe_theme());
    key(&mut app, KeyCode::Char('g'));
    for _ in 0..4 {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "cert-manager");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.views.bake.run.as_ref().unwrap().filter, "cert-manager");
    insta::assert_snapshot!(screen(&app, now));
}

#[test]
fn help_overlay_lists_the_keys_valid_while_a_build_runs() {
    let (mut app, now) = app_with_build("demo-success", 0.45, probe_theme());
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(render(&app, now, 120, 32).backend());
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.modal, kiln::app::shell::Modal::None);
}

fn report(checks: Vec<Check>, fips: Option<ProVerdict>) -> PreflightReport {
    PreflightReport {
        checks,
        fips_verdict: fips,
    }
}

fn check(name: &str, status: CheckStatus, detail: &str, fix: Option<&str>) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
        fix: fix.map(str::to_string),
    }
}

#[test]
fn fips_on_a_non_pro_image_waits_for_acknowledgement() {
    let mut app = app();
    key(&mut app, KeyCode::Char('f'));
    assert!(app.views.bake.form.fips);
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(effects.as_slice(), [Effect::View(_)]),
        "preflight first: {effects:?}"
    );
    let r = report(
        vec![
            check("packer", CheckStatus::Ok, "Packer v1.6.6 (packer)", None),
            check(
                "fips",
                CheckStatus::Warn,
                "the image will NOT be FIPS-validated",
                Some("use an Ubuntu Pro source image"),
            ),
        ],
        Some(ProVerdict::NotPro(
            "`ubuntu-22.04` is not Ubuntu Pro by its name or its properties".into(),
        )),
    );
    let effects = app.on_event(bake::Event::Preflight(r.clone()).into());
    assert!(effects.is_empty(), "no build before the acknowledgement");
    assert!(app.views.bake.prompt.is_some());
    insta::assert_snapshot!(screen(&app, t0()));
    // Any key but Shift-A refuses.
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert!(app.views.bake.prompt.is_none());
    // Again, acknowledged this time: the build starts, recorded as not validated.
    key(&mut app, KeyCode::Enter);
    app.on_event(bake::Event::Preflight(r).into());
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT));
    let [Effect::View(kiln::app::views::ViewEffect::Build(BakeEffect::Build { fips, .. }))] =
        effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    assert!(fips.requested && !fips.validated && fips.acknowledged_unvalidated);
}

#[test]
fn form_with_failed_preflight_blocks_the_build() {
    let mut app = app();
    key(&mut app, KeyCode::Enter);
    let r = report(
        vec![
            check(
                "packer",
                CheckStatus::Ok,
                "Packer v1.6.6 (/usr/bin/packer)",
                None,
            ),
            check(
                "artifact rke2-images.linux-amd64.tar.zst",
                CheckStatus::Fail,
                "sha256 mismatch",
                Some("download the file again"),
            ),
        ],
        None,
    );
    assert!(app.on_event(bake::Event::Preflight(r).into()).is_empty());
    insta::assert_snapshot!(screen(&app, t0()));
}

fn record(minutes: i64, result: RecordResult, image: &str, fips: bool) -> history::Entry {
    let mut r = BuildRecord::started(
        t0() - Duration::minutes(minutes),
        std::path::Path::new("stages/rke2-node.pkr.hcl"),
        &[],
        FipsRecord {
            requested: fips,
            validated: false,
            acknowledged_unvalidated: fips,
            reason: None,
        },
        &kiln::secrets::Secrets::default(),
    );
    r.result = result;
    r.seconds = Some(700.0 + minutes as f64);
    r.image_name = Some(image.into());
    r.image_id = Some(format!("id-{minutes}"));
    if result == RecordResult::Failed {
        r.failed_stage = Some("03-prepull-images".into());
        r.error = Some(
            "ctr: failed to resolve reference: 503 Service Unavailable\nScript exited with non-zero exit status: 3"
                .into(),
        );
    }
    r.stages = vec![StageRecord {
        name: "launch".into(),
        status: kiln::bake::events::StageStatus::Ok,
        seconds: Some(41.0),
    }];
    Ok((PathBuf::from(format!("/state/builds/{minutes}")), r))
}

fn history_app() -> App {
    let mut app = app();
    app.show(ViewId::History);
    let entries = vec![
        record(
            10,
            RecordResult::Succeeded,
            "rke2-node-v1.28-20261124",
            false,
        ),
        record(90, RecordResult::Failed, "rke2-node-v1.28-20261124", false),
        Err("/state/builds/bad/build.json is not a kiln build record: EOF at line 1".into()),
        record(
            300,
            RecordResult::Cancelled,
            "rke2-node-v1.29-20261123",
            true,
        ),
    ];
    app.on_event(
        history::Event::Loaded(Ok(history::Loaded {
            entries,
            typical: Some(760.0),
            ..Default::default()
        }))
        .into(),
    );
    app
}

#[test]
fn history_lists_builds_with_selection_and_details() {
    let mut app = history_app();
    key(&mut app, KeyCode::Char('j'));
    insta::assert_snapshot!(screen(&app, t0()));
}

#[test]
fn history_opens_a_record_and_its_packer_log_with_search() {
    let mut app = history_app();
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("history_record", screen(&app, t0()));
    let effects = key(&mut app, KeyCode::Char('l'));
    let [
        Effect::View(kiln::app::views::ViewEffect::History(history::HistoryEffect::ReadLog(path))),
    ] = effects.as_slice()
    else {
        panic!("{effects:?}")
    };
    let (text, _) = transcript("demo-failed");
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    app.on_event(history::Event::LogRead(path.clone(), Ok((lines, 0))).into());
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "no such host");
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('n'));
    insta::assert_snapshot!("history_packer_log", screen(&app, t0()));
}

#[test]
fn history_says_why_the_records_cannot_be_read() {
    let mut app = app();
    app.show(ViewId::History);
    app.on_event(
        history::Event::Loaded(Err(
            "could not read the records: reading /state/builds: Permission denied (os error 13)"
                .into(),
        ))
        .into(),
    );
    let text = screen(&app, t0());
    assert!(text.contains("could not read the records"), "{text}");
    assert!(!text.contains("No builds recorded yet"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn log_tab_and_its_help() {
    let mut app = app();
    app.show(ViewId::Log);
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(render(&app, t0(), 120, 32).backend());
}

#[test]
fn quitting_during_a_build_asks_first() {
    let (mut app, _) = app_with_build("demo-success", 0.45, probe_theme());
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert!(matches!(app.modal, kiln::app::shell::Modal::ConfirmQuit(_)));
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(!app.quit);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Effect::Quit]);
    // Cancel asks too, and a second c escalates.
    let (mut app, _) = app_with_build("demo-success", 0.45, probe_theme());
    assert!(key(&mut app, KeyCode::Char('c')).is_empty());
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        vec![BakeEffect::Cancel.into()]
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('c')),
        vec![BakeEffect::Escalate.into()]
    );
}

#[test]
fn command_line_switches_views_and_themes() {
    let mut app = app();
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "theme light");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::LoadTheme("light".into())]
    );
    key(&mut app, KeyCode::Char(':'));
    typed(&mut app, "history");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![kiln::app::views::history::HistoryEffect::Load.into()]
    );
    assert_eq!(app.view, ViewId::History);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, ViewId::Log);
    app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.view, ViewId::History);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, ViewId::Build, "Tab wraps around");
}
