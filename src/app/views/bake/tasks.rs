//! The Build view's work, run by the executor: preflight (template read and hashing off the UI
//! thread), a packer build or a demo replay as a job, cancel and escalation, replay speed.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{BakeEffect, Event};
use crate::app::effect::AppEvent;
use crate::app::executor::{Exec, Job, JobSignal, send_soon};
use crate::app::terminal;
use crate::app::views::ViewId;
use crate::bake::events::BuildEvent;
use crate::bake::preflight;
use crate::bake::request::{BuildChoices, prepare};
use crate::bake::session::{self, BuildRequest, Control, Producer, Sink};
use crate::bake::state::BuildState;
use crate::cli::{env, env_names};

/// Runs one of the Build view's effects.
pub fn run(effect: BakeEffect, exec: &mut Exec) {
    match effect {
        BakeEffect::Preflight { vars, fips } => run_preflight(vars, fips, exec),
        BakeEffect::Build { vars, fips } => {
            let choices = BuildChoices {
                vars,
                fips: fips.requested,
                ..Default::default()
            };
            let (settings, now) = (exec.settings.clone(), exec.clock.now());
            start_job(exec, move || {
                prepare(&settings, &choices, now).into_request(&settings, fips, true)
            });
        }
        BakeEffect::Replay(i) => {
            let Some(transcript) = crate::demo::transcripts().into_iter().nth(i) else {
                return;
            };
            let speed = exec
                .speed
                .clone()
                .unwrap_or_else(|| crate::bake::replay::Speed::new(exec.settings.demo_speed));
            let (settings, clock) = (exec.settings.clone(), exec.clock.clone());
            start_job(exec, move || {
                crate::demo::request(transcript, speed, &settings, clock.as_ref())
            });
        }
        BakeEffect::Cancel => exec.signal(ViewId::Build, JobSignal::Cancel),
        BakeEffect::Escalate => exec.signal(ViewId::Build, JobSignal::Escalate),
        BakeEffect::SetSpeed(s) => {
            if let Some(sp) = &exec.speed {
                sp.set(s);
            }
        }
    }
}

fn run_preflight(vars: Vec<(String, String)>, fips: bool, exec: &Exec) {
    let (settings, now, tx) = (exec.settings.clone(), exec.clock.now(), exec.sender());
    let progress_tx = tx.clone();
    let last = std::sync::Mutex::new(u64::MAX);
    let progress: Arc<preflight::HashProgress<'static>> =
        Arc::new(move |file: &str, done: u64, total: u64| {
            let pct = (done * 100).checked_div(total).unwrap_or(100);
            if let Ok(mut l) = last.lock()
                && (pct != *l || done == total)
            {
                *l = pct;
                // Progress is only a hint: dropped when the console is behind.
                let _ =
                    progress_tx.try_send(Event::HashProgress(file.to_string(), done, total).into());
            }
        });
    tokio::spawn(async move {
        let choices = BuildChoices {
            vars,
            fips,
            ..Default::default()
        };
        // Reads the template: off the UI thread. The console asks for the FIPS acknowledgement
        // itself, so preflight only warns about a non-Pro image.
        let input = tokio::task::spawn_blocking(move || {
            prepare(&settings, &choices, now).preflight_input(
                &settings,
                preflight::FipsAck::AskLater,
                &env,
                &env_names(),
            )
        })
        .await;
        let report = match input {
            Ok(input) => preflight::run(&input, progress).await,
            Err(e) => preflight::PreflightReport {
                checks: vec![preflight::Check::fail(
                    "preflight",
                    format!("could not prepare the build: {e}"),
                    "report this as a bug",
                )],
                fips_verdict: None,
            },
        };
        for c in report
            .checks
            .iter()
            .filter(|c| c.status != preflight::CheckStatus::Ok)
        {
            log::warn!(target: "kiln::preflight", "{:?} {}: {}", c.status, c.name, c.detail);
        }
        log::info!(target: "kiln::preflight", "preflight {}", if report.passed() { "passed" } else { "failed" });
        let _ = tx.send(Event::Preflight(report).into()).await;
    });
}

/// Delivers build events to the console; waits when the console is behind.
struct ConsoleSink(mpsc::Sender<AppEvent>);

impl Sink for ConsoleSink {
    async fn deliver(&mut self, events: Vec<BuildEvent>) {
        if !events.is_empty() {
            let _ = self.0.send(Event::Batch(events).into()).await;
        }
    }
}

/// Starts a build off the UI thread: `make` (which reads the template) runs on a blocking
/// thread, the console gets the plan, then the session's events.
fn start_job(exec: &mut Exec, make: impl FnOnce() -> BuildRequest + Send + 'static) {
    if exec.running(ViewId::Build) {
        return;
    }
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let tx = exec.sender();
    let clock = exec.clock.clone();
    let done = tokio::spawn(async move {
        let request = match tokio::task::spawn_blocking(make).await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx
                    .send(Event::Ended(Err(format!("preparing the build failed: {e}"))).into())
                    .await;
                return;
            }
        };
        let planned = Event::Planned {
            state: Box::new(BuildState::new(&request.plan, clock.now())),
            fips: request
                .record
                .as_ref()
                .map(|(_, r, _)| r.fips.clone())
                .unwrap_or_default(),
            expected_image: request.expected_image.clone(),
        };
        let _ = tx.send(planned.into()).await;
        let started = tx.clone();
        let mut sink = ConsoleSink(tx.clone());
        let result = session::run(
            request,
            clock,
            ctl_rx,
            move |s| {
                if let Producer::Packer(g) = &s.producer {
                    terminal::set_active_group(g.pgid());
                }
                send_soon(&started, Event::Started(s.record_dir).into());
            },
            &mut sink,
        )
        .await;
        terminal::set_active_group(0);
        let _ = tx
            .send(Event::Ended(result.map_err(|e| format!("{e:#}"))).into())
            .await;
    });
    exec.jobs.insert(
        ViewId::Build,
        Job {
            signal: Box::new(move |s| {
                let _ = ctl_tx.send(match s {
                    JobSignal::Cancel => Control::Cancel,
                    JobSignal::Escalate => Control::Escalate,
                    JobSignal::Abandon => Control::Abandon,
                });
            }),
            done,
        },
    );
}
