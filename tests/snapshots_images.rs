//! Snapshots of the Images and Retention views (insta + ratatui's TestBackend, named styles),
//! on a listing the simulator served over real HTTP (seed 11, today 2026-11-25, fixed clock), at
//! 120x32 and at 80x24: verdict colours, the age chart with its retention line, the detail with
//! usage and provenance, the project-scope warning, marks and the typed-count delete prompt.

mod common;

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
use kiln::app::views::retention;
use kiln::app::views::{ViewEffect, ViewId, Views};
use kiln::inventory::Inventory;
use kiln::retention::Verdict;

fn now() -> DateTime<Utc> {
    listed_at()
}

fn inventory(admin: bool) -> Arc<Inventory> {
    demo_inventory(admin)
}

fn app(readonly: bool) -> App {
    let init = Init::default();
    App::new(
        Views::new(&init),
        Shared::new(probe_theme(), readonly, false, now()),
        ViewId::Images,
    )
}

fn loaded(app: &mut App, inv: Arc<Inventory>) {
    app.on_event(
        images::Event::Loaded(Ok(Box::new(Loaded {
            inventory: inv,
            records: Vec::new(),
        })))
        .into(),
    );
}

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn screen(app: &App, w: u16, h: u16) -> String {
    styled(render(app, now(), w, h).backend().buffer())
}

#[test]
fn images_list_with_verdicts_and_the_age_chart() {
    let inv = inventory(true);
    assert!(
        inv.eligible().count() > 0,
        "the demo fleet has eligible images"
    );
    let mut app = app(false);
    loaded(&mut app, inv);
    let wide = screen(&app, 120, 32);
    assert!(wide.contains("rke2-node-"), "{wide}");
    insta::assert_snapshot!("images_list_120x32", wide);
    insta::assert_snapshot!("images_list_80x24", screen(&app, 80, 24));
}

#[test]
fn image_detail_names_its_users_reasons_and_provenance() {
    let inv = inventory(true);
    let mut app = app(false);
    loaded(&mut app, inv.clone());
    // The first image in the table that servers use.
    let target = app
        .views
        .images
        .table
        .order()
        .iter()
        .position(|&i| app.views.images.rows[i].image.in_use.servers > 0)
        .expect("an image in use");
    for _ in 0..target {
        key(&mut app, KeyCode::Char('j'));
    }
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.views.images.mode, images::Mode::Detail(_)));
    let text = screen(&app, 120, 32);
    assert!(text.contains("in_use"), "{text}");
    insta::assert_snapshot!("image_detail", text);
}

#[test]
fn a_project_scoped_listing_says_what_it_saw_and_proves_nothing_unused() {
    let inv = inventory(false);
    let mut app = app(false);
    loaded(&mut app, inv);
    let text = screen(&app, 120, 32);
    assert!(text.contains("usage: this project only"), "{text}");
    assert!(text.contains("0 eligible"), "{text}");
    insta::assert_snapshot!("images_project_scope", text);
}

#[test]
fn retention_marks_and_the_typed_count_prompt() {
    let inv = inventory(true);
    let eligible = inv.eligible().count();
    let mut app = app(false);
    loaded(&mut app, inv);
    app.show(ViewId::Retention);
    insta::assert_snapshot!("retention_list", screen(&app, 120, 32));
    // Mark two, then D: the plan and the prompt.
    key(&mut app, KeyCode::Char(' '));
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char(' '));
    assert_eq!(app.views.retention.marks.len(), 2.min(eligible));
    assert!(
        key(&mut app, KeyCode::Char('D')).is_empty(),
        "nothing runs before the count"
    );
    insta::assert_snapshot!("retention_delete_prompt", screen(&app, 120, 32));
    // A wrong count deletes nothing; the right count asks for the delete.
    typed(&mut app, "3");
    let wrong = key(&mut app, KeyCode::Enter);
    assert!(
        !wrong
            .iter()
            .any(|e| matches!(e, Effect::View(ViewEffect::Retention(_)))),
        "{wrong:?}"
    );
    key(&mut app, KeyCode::Char('D'));
    typed(&mut app, "2");
    let right = key(&mut app, KeyCode::Enter);
    let [Effect::View(ViewEffect::Retention(retention::RetentionEffect::Delete(plan)))] =
        right.as_slice()
    else {
        panic!("{right:?}")
    };
    assert_eq!(plan.len(), 2);
    insta::assert_snapshot!("retention_deleting_80x24", screen(&app, 80, 24));
}

#[test]
fn readonly_retention_marks_nothing_and_says_why() {
    let inv = inventory(true);
    let mut app = app(true);
    loaded(&mut app, inv);
    app.show(ViewId::Retention);
    key(&mut app, KeyCode::Char(' '));
    assert!(key(&mut app, KeyCode::Char('D')).is_empty());
    assert!(app.views.retention.marks.is_empty());
    assert!(!app.help_rows().iter().any(|(k, _)| *k == "D"));
    let text = screen(&app, 120, 32);
    assert!(text.contains("read-only: nothing can be deleted"), "{text}");
    let kept = app
        .views
        .retention
        .rows
        .iter()
        .filter(|r| r.image.verdict == Verdict::Keep)
        .count();
    assert!(kept > 0);
}
