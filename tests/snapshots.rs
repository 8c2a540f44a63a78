//! Snapshots of the console (insta + ratatui's TestBackend), driven by real key events and real
//! transcripts, with a fixed clock so elapsed times and ETAs are stable.

mod common;

use chrono::Duration;
use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiln::app::draw::draw;
use kiln::app::state::{App, AppEvent, BuildView, Effect, Modal};
use kiln::build::fips::ProVerdict;
use kiln::build::preflight::{Check, CheckStatus, PreflightReport};
use kiln::build::record::FipsRecord;
use kiln::build::stage::StagePlan;
use kiln::build::state::BuildState;
use kiln::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn form() -> BuildView {
    BuildView {
        template: "stages/rke2-node.pkr.hcl".into(),
        expected_image: "rke2-node-v1.28-20261124".into(),
        source_image: "ubuntu-22.04".into(),
        vars: vec![("k8s_version".into(), "v1.28.15+rke2r1".into())],
        ..BuildView::default()
    }
}

fn app(theme: &str) -> App {
    let theme = Theme::load(theme, std::path::Path::new("/nonexistent"), false).unwrap();
    App::new(theme, false, form(), None)
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// An app that has run `fraction` of a transcript's lines.
fn app_with_build(name: &str, fraction: f64, theme: &str) -> (App, chrono::DateTime<chrono::Utc>) {
    let (text, exit) = transcript(name);
    let lines: Vec<&str> = text.lines().collect();
    let take = ((lines.len() as f64) * fraction) as usize;
    let partial = lines[..take].join("\n");
    let (_, mut events, _) = route(&partial, exit, false);
    let done = fraction >= 1.0;
    if !done {
        events.retain(|e| !matches!(e, kiln::build::events::BuildEvent::Finished(_)));
        // A build still running has its current stage open.
    }
    let mut app = app(theme);
    app.build.typical_seconds = Some(760.0);
    app.build_started(
        BuildState::new(&StagePlan::new(SCRIPTS), t0()),
        FipsRecord::default(),
    );
    let last_ts = lines[..take]
        .iter()
        .rev()
        .find_map(|l| l.split(',').next()?.parse::<i64>().ok())
        .unwrap();
    let first_ts = lines[0].split(',').next().unwrap().parse::<i64>().unwrap();
    let mut events_final = events;
    if !done {
        // Re-open the stage `finish` closed: drop its trailing StageFinished.
        if let Some(pos) = events_final
            .iter()
            .rposition(|e| matches!(e, kiln::build::events::BuildEvent::StageFinished { .. }))
        {
            events_final.remove(pos);
        }
    }
    app.on_event(AppEvent::Build(events_final));
    (app, t0() + Duration::seconds(last_ts - first_ts + 7))
}

fn render(app: &App, now: chrono::DateTime<chrono::Utc>) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(120, 32)).unwrap();
    terminal.draw(|f| draw(app, f, now)).unwrap();
    terminal
}

#[test]
fn build_running() {
    let (app, now) = app_with_build("demo-success", 0.55, "default");
    assert!(app.build.running());
    insta::assert_snapshot!(render(&app, now).backend());
}

#[test]
fn build_failed() {
    let (app, now) = app_with_build("demo-failed", 1.0, "default");
    assert!(!app.build.running());
    insta::assert_snapshot!(render(&app, now).backend());
}

#[test]
fn build_succeeded() {
    let (app, now) = app_with_build("demo-success", 1.0, "default");
    insta::assert_snapshot!(render(&app, now).backend());
}

#[test]
fn build_succeeded_light_theme_styles() {
    let (app, now) = app_with_build("demo-success", 1.0, "light");
    let terminal = render(&app, now);
    // Debug of the buffer lists the style runs too, so the theme is part of the snapshot.
    insta::assert_snapshot!(format!("{:?}", terminal.backend().buffer()));
}

#[test]
fn selecting_a_stage_and_filtering_its_log() {
    let (mut app, now) = app_with_build("demo-success", 1.0, "default");
    key(&mut app, KeyCode::Char('g'));
    for _ in 0..4 {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Char('/'));
    for c in "calico".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.build.filter, "calico");
    insta::assert_snapshot!(render(&app, now).backend());
}

#[test]
fn help_overlay_lists_the_build_keys() {
    let (mut app, now) = app_with_build("demo-success", 0.55, "default");
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.modal, Modal::Help);
    insta::assert_snapshot!(render(&app, now).backend());
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.modal, Modal::None);
}

#[test]
fn fips_on_a_non_pro_image_waits_for_acknowledgement() {
    let mut app = app("default");
    key(&mut app, KeyCode::Char('f'));
    assert!(app.build.fips);
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(effects, vec![Effect::RunPreflight { fips: true }]);
    let report = PreflightReport {
        checks: vec![
            Check {
                name: "packer".into(),
                status: CheckStatus::Ok,
                detail: "Packer v1.6.6 (packer)".into(),
                fix: None,
            },
            Check {
                name: "fips".into(),
                status: CheckStatus::Warn,
                detail: "the image will NOT be FIPS-validated".into(),
                fix: Some("use an Ubuntu Pro source image".into()),
            },
        ],
        fips_verdict: Some(ProVerdict::NotPro(
            "`ubuntu-22.04` is not Ubuntu Pro by its name or its properties".into(),
        )),
    };
    let effects = app.on_event(AppEvent::Preflight(report.clone()));
    assert!(effects.is_empty(), "no build before the acknowledgement");
    assert!(matches!(app.modal, Modal::FipsAck { .. }));
    insta::assert_snapshot!(render(&app, t0()).backend());
    // Any key but Shift-A refuses.
    assert!(key(&mut app, KeyCode::Char('y')).is_empty());
    assert_eq!(app.modal, Modal::None);
    // Again, acknowledged this time: the build starts, recorded as not validated.
    key(&mut app, KeyCode::Enter);
    app.on_event(AppEvent::Preflight(report));
    let effects = app.on_key(KeyEvent::new(KeyCode::Char('A'), KeyModifiers::SHIFT));
    let [Effect::StartBuild { fips }] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(fips.requested && !fips.validated && fips.acknowledged_unvalidated);
}

#[test]
fn form_with_failed_preflight_blocks_the_build() {
    let mut app = app("default");
    key(&mut app, KeyCode::Enter);
    let report = PreflightReport {
        checks: vec![
            Check {
                name: "packer".into(),
                status: CheckStatus::Ok,
                detail: "Packer v1.6.6 (/usr/bin/packer)".into(),
                fix: None,
            },
            Check {
                name: "artifact rke2-images.linux-amd64.tar.zst".into(),
                status: CheckStatus::Fail,
                detail: "sha256 mismatch".into(),
                fix: Some("download the file again".into()),
            },
        ],
        fips_verdict: None,
    };
    assert!(app.on_event(AppEvent::Preflight(report)).is_empty());
    insta::assert_snapshot!(render(&app, t0()).backend());
}

#[test]
fn quitting_during_a_build_asks_first() {
    let (mut app, _) = app_with_build("demo-success", 0.55, "default");
    assert!(key(&mut app, KeyCode::Char('q')).is_empty());
    assert_eq!(app.modal, Modal::ConfirmQuit);
    assert!(key(&mut app, KeyCode::Char('n')).is_empty());
    assert!(!app.quit);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Effect::Quit]);
    // Cancel asks too, and a second c escalates.
    let (mut app, _) = app_with_build("demo-success", 0.55, "default");
    assert!(key(&mut app, KeyCode::Char('c')).is_empty());
    assert_eq!(key(&mut app, KeyCode::Char('y')), vec![Effect::Cancel]);
    assert_eq!(key(&mut app, KeyCode::Char('c')), vec![Effect::Escalate]);
}

#[test]
fn command_line_switches_views_and_themes() {
    let mut app = app("default");
    key(&mut app, KeyCode::Char(':'));
    for c in "theme light".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::SetTheme("light".into())]
    );
    key(&mut app, KeyCode::Char(':'));
    for c in "history".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(key(&mut app, KeyCode::Enter), vec![Effect::LoadHistory]);
    assert_eq!(app.view, kiln::app::keymap::View::History);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, kiln::app::keymap::View::Log);
    app.on_key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.view, kiln::app::keymap::View::History);
}
