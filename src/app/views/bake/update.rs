//! The Build view's update: its actions, `:` commands, prompt keys and background events in,
//! state changes and effects out. The start policy itself is `bake::start::decide`.

use crossterm::event::{KeyCode, KeyEvent};

use super::keys::Action;
use super::{BakeEffect, BakePage, BakePrompt, Event, Run};
use crate::app::effect::Effect;
use crate::app::page::{Notice, Prompt, Shared};
use crate::bake::fips::FIPS_EXPLANATION;
use crate::bake::preflight::PreflightReport;
use crate::bake::start::{StartDecision, decide};

/// Characters a Left / Right moves long lines.
const HSTEP: usize = 16;

pub fn on_action(page: &mut BakePage, action: Action, shared: &mut Shared) -> Vec<Effect> {
    match action {
        Action::Start => return start(page, shared),
        Action::NewForm => {
            page.show_form = !page.show_form;
            if page.show_form {
                shared.info(if page.running() {
                    "the form for the next build (n: back to the running build)"
                } else {
                    "the form for the next build (n: back to the last build)"
                });
            }
        }
        Action::ToggleFips => {
            page.form.fips = !page.form.fips;
            page.preflight = Default::default();
            page.show_form = true;
            let state = if page.form.fips { "on" } else { "off" };
            shared.info(format!("FIPS {state} for the next build"));
        }
        Action::Preflight => {
            page.preflight.start();
            page.show_form = true;
            return vec![preflight_effect(page)];
        }
        Action::Cancel => {
            let Some(run) = page.run.as_ref() else {
                return Vec::new();
            };
            if run.cancel_sent {
                shared.warn("escalated: SIGTERM sent to packer's process group");
                return vec![BakeEffect::Escalate.into()];
            }
            page.prompt = Some(BakePrompt::ConfirmCancel);
        }
        Action::Faster | Action::Slower => {
            if let Some(d) = page.demo.as_mut() {
                d.speed = if action == Action::Faster {
                    (d.speed * 2.0).min(1e4)
                } else {
                    (d.speed / 2.0).max(0.25)
                };
                shared.info(format!("replay speed x{}", d.speed));
                return vec![BakeEffect::SetSpeed(d.speed).into()];
            }
        }
        Action::Up | Action::Down | Action::Top | Action::Bottom => move_stage(page, action),
        Action::PageUp | Action::PageDown => {
            if let Some(r) = page.run.as_mut() {
                let p = r.pane.page.get().max(1) as isize;
                r.pane
                    .scroll_by(if action == Action::PageUp { p } else { -p });
            }
        }
        Action::Left | Action::Right => {
            if let Some(r) = page.run.as_mut() {
                r.pane.hscroll = if action == Action::Left {
                    r.pane.hscroll.saturating_sub(HSTEP)
                } else {
                    r.pane.hscroll + HSTEP
                };
            }
        }
        Action::Wrap => {
            if let Some(r) = page.run.as_mut() {
                r.pane.wrap = !r.pane.wrap;
                r.pane.hscroll = 0;
            }
        }
        Action::ResultUp | Action::ResultDown => {
            if let Some(r) = page.run.as_mut() {
                let len = r.state.outcome.as_ref().map_or(0, |o| o.explanation.len());
                let max = len.saturating_sub(super::result::SHOWN);
                r.result_scroll = if action == Action::ResultUp {
                    r.result_scroll.saturating_sub(1)
                } else {
                    (r.result_scroll + 1).min(max)
                };
            }
        }
        Action::Escape => {
            if let Some(r) = page.run.as_mut() {
                r.filter.clear();
                r.selected = None;
                r.pane.scroll = 0;
                r.pane.hscroll = 0;
            }
        }
    }
    Vec::new()
}

fn move_stage(page: &mut BakePage, action: Action) {
    let Some(run) = page.run.as_mut() else {
        return;
    };
    let order = &run.state.order;
    let cur = run
        .shown_stage()
        .and_then(|s| order.iter().position(|x| *x == s))
        .unwrap_or(0);
    let last = order.len().saturating_sub(1);
    let next = match action {
        Action::Up => cur.saturating_sub(1),
        Action::Down => (cur + 1).min(last),
        Action::Top => 0,
        _ => last,
    };
    run.selected = order.get(next).copied();
    run.pane.scroll = 0;
}

fn preflight_effect(page: &BakePage) -> Effect {
    BakeEffect::Preflight {
        vars: page.form.vars.clone(),
        fips: page.form.fips,
    }
    .into()
}

pub fn start(page: &mut BakePage, shared: &mut Shared) -> Vec<Effect> {
    if page.running() {
        shared.warn("a build is already running");
        return Vec::new();
    }
    if let Some(d) = page.demo.as_mut() {
        let i = d.next % d.names.len().max(1);
        d.next = i + 1;
        shared.info(format!(
            "demo: replaying the recorded `{}` build",
            d.names.get(i).cloned().unwrap_or_default()
        ));
        return vec![BakeEffect::Replay(i).into()];
    }
    if shared.readonly {
        shared.warn("--readonly: starting a build is disabled");
        return Vec::new();
    }
    page.show_form = true;
    if page.skip_preflight {
        return apply_decision(page, None, shared);
    }
    page.start_after_preflight = true;
    if page.preflight.is_loading() {
        return Vec::new();
    }
    page.preflight.start();
    shared.info("preflight: checking packer, template, artifacts, credentials...");
    vec![preflight_effect(page)]
}

/// Runs the start policy on a checklist (None: preflight skipped).
fn apply_decision(
    page: &mut BakePage,
    report: Option<&PreflightReport>,
    shared: &mut Shared,
) -> Vec<Effect> {
    match decide(report, page.form.fips, &page.form.source_image, false) {
        StartDecision::Start(fips) => vec![
            BakeEffect::Build {
                vars: page.form.vars.clone(),
                fips,
            }
            .into(),
        ],
        StartDecision::NeedsAcknowledgement { reason } => {
            page.prompt = Some(BakePrompt::FipsAck { reason });
            Vec::new()
        }
        StartDecision::Blocked { failed } => {
            shared.error(format!(
                "preflight failed: the build was not started ({} failed check(s), see the checklist)",
                failed.len()
            ));
            Vec::new()
        }
    }
}

pub fn on_prompt_key(page: &mut BakePage, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
    let Some(prompt) = page.prompt.take() else {
        return Vec::new();
    };
    match prompt {
        BakePrompt::ConfirmCancel => {
            if matches!(key.code, KeyCode::Char('y' | 'Y'))
                && let Some(r) = page.run.as_mut()
                && r.state.is_running()
            {
                r.cancel_sent = true;
                shared.warn("cancel sent: packer is cleaning up (c again escalates to SIGTERM)");
                return vec![BakeEffect::Cancel.into()];
            }
        }
        BakePrompt::FipsAck { .. } => {
            if key.code == KeyCode::Char('A') {
                shared.warn("acknowledged: this image will NOT be FIPS-validated");
                let report = page.preflight.data().cloned();
                return match decide(report.as_ref(), true, &page.form.source_image, true) {
                    StartDecision::Start(fips) => vec![
                        BakeEffect::Build {
                            vars: page.form.vars.clone(),
                            fips,
                        }
                        .into(),
                    ],
                    _ => Vec::new(),
                };
            }
            shared.info("FIPS build not started");
        }
    }
    Vec::new()
}

pub fn prompt_text(page: &BakePage, prompt: &BakePrompt) -> Prompt {
    match prompt {
        BakePrompt::ConfirmCancel if page.demo.is_some() => Prompt {
            title: "Stop the replay?".into(),
            lines: vec![
                "The recorded build stops here, as a cancelled build would.".into(),
                String::new(),
                "y: stop the replay    any other key: keep watching".into(),
            ],
        },
        BakePrompt::ConfirmCancel => Prompt {
            title: "Cancel the build?".into(),
            lines: vec![
                "Packer gets SIGINT, deletes the build server and exits.".into(),
                "Press c again later to escalate to SIGTERM.".into(),
                String::new(),
                "y: cancel the build    any other key: keep building".into(),
            ],
        },
        BakePrompt::FipsAck { reason } => Prompt {
            title: "FIPS: source image is not Ubuntu Pro".into(),
            lines: vec![
                FIPS_EXPLANATION.into(),
                String::new(),
                reason.clone(),
                String::new(),
                "This build will NOT produce a FIPS-validated image.".into(),
                "Shift-A: I acknowledge, build anyway    any other key: do not start".into(),
            ],
        },
    }
}

pub fn on_command(
    page: &mut BakePage,
    cmd: &str,
    arg: &str,
    shared: &mut Shared,
) -> Option<Vec<Effect>> {
    match cmd {
        "start" => return Some(start(page, shared)),
        "new" => {
            page.show_form = true;
            shared.info("the form for the next build");
        }
        "fips" => match arg {
            "on" | "off" => {
                page.form.fips = arg == "on";
                page.preflight = Default::default();
                page.show_form = true;
                shared.info(format!("FIPS {arg} for the next build"));
            }
            _ => shared.error("usage: :fips on|off"),
        },
        "var" => match crate::cli::parse_var(arg) {
            Ok((k, v)) => {
                page.form.vars.retain(|(x, _)| *x != k);
                shared.info(format!("var {k} set for the next build"));
                page.form.vars.push((k, v));
                page.preflight = Default::default();
                page.show_form = true;
            }
            Err(e) => shared.error(e),
        },
        "unvar" => {
            let before = page.form.vars.len();
            page.form.vars.retain(|(k, _)| k != arg);
            if page.form.vars.len() < before {
                page.preflight = Default::default();
                page.show_form = true;
                shared.info(format!("var {arg} removed"));
            } else {
                shared.warn(format!("no var `{arg}` is set"));
            }
        }
        _ => return None,
    }
    Some(Vec::new())
}

pub fn on_event(page: &mut BakePage, event: Event, shared: &mut Shared) -> Vec<Effect> {
    match event {
        Event::Batch(events) => {
            if let Some(r) = page.run.as_mut() {
                for e in &events {
                    r.state.apply(e);
                    if let crate::bake::events::BuildEvent::Warning { message, .. } = e
                        && message.starts_with(crate::bake::session::RECORD_WARNING)
                    {
                        shared.error(message.clone());
                    }
                }
            }
        }
        Event::Planned {
            state,
            fips,
            expected_image,
        } => {
            page.start_error = None;
            page.show_form = false;
            page.run = Some(Run {
                state: *state,
                fips,
                expected_image,
                record_dir: None,
                cancel_sent: false,
                selected: None,
                pane: Default::default(),
                filter: String::new(),
                result_scroll: 0,
            });
        }
        Event::Started(dir) => {
            shared.notices.push(Notice::BuildRunning(dir.clone()));
            if let Some(r) = page.run.as_mut() {
                r.record_dir = dir;
            }
        }
        Event::Ended(result) => {
            if let Some(r) = page.run.as_mut() {
                r.cancel_sent = false;
            }
            match result {
                Ok(o) => {
                    let text = format!(
                        "build {} in {}",
                        o.status.as_str(),
                        crate::format::duration(o.seconds)
                    );
                    if o.status == crate::bake::events::BuildStatus::Succeeded {
                        shared.info(text);
                    } else {
                        shared.error(text);
                    }
                }
                Err(e) => {
                    page.start_error = Some(e.clone());
                    page.run = None;
                    shared.error(e);
                }
            }
            if page.prompt == Some(BakePrompt::ConfirmCancel) {
                page.prompt = None;
            }
            if let Some(d) = &page.demo
                && !d.names.is_empty()
                && page.run.is_some()
            {
                let next = &d.names[d.next % d.names.len()];
                shared.info(format!(
                    "replay ended: b replays the recorded `{next}` build next; n shows the form"
                ));
            }
            shared.notices.push(Notice::BuildRunning(None));
            shared.notices.push(Notice::BuildsChanged);
            if shared.bell {
                return vec![Effect::Bell];
            }
        }
        Event::HashProgress(file, done, total) => page.hashing = Some((file, done, total)),
        Event::Preflight(report) => return on_preflight(page, report, shared),
    }
    Vec::new()
}

fn on_preflight(page: &mut BakePage, report: PreflightReport, shared: &mut Shared) -> Vec<Effect> {
    page.hashing = None;
    let start = std::mem::take(&mut page.start_after_preflight);
    let passed = report.passed();
    page.preflight = crate::app::loading::Loading::Loaded(report.clone());
    if !start {
        if passed {
            shared.info("preflight passed");
        } else {
            shared.error("preflight failed: see the checklist");
        }
        return Vec::new();
    }
    apply_decision(page, Some(&report), shared)
}
