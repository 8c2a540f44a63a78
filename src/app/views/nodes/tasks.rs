//! The Nodes view's work: inspections over SSH off the UI thread, at most `[ssh] parallel` at
//! once, each node's report sent as soon as it is in (with its image's Glance properties among
//! the expectations), unknown host keys put to the operator, and a stop that drops the
//! connections under way.

use std::sync::Arc;

use super::{Event, HostKeyAnswer, HostKeyQuestion, NodeTarget, NodesEffect};
use crate::app::effect::AppEvent;
use crate::app::executor::{Exec, Job, JobSignal, send_soon};
use crate::app::views::ViewId;
use crate::manifest::Expectations;
use crate::node::hostkey::DecisionFuture;
use crate::node::{HostKeyDecision, HostKeyPolicy, InspectOptions, Progress, UnknownHostKey};

/// The console's host-key policy: ask the operator (through the view) and wait.
struct AskTheOperator {
    node: String,
    tx: tokio::sync::mpsc::Sender<AppEvent>,
}

impl HostKeyPolicy for AskTheOperator {
    fn decide<'a>(&'a self, key: &'a UnknownHostKey) -> DecisionFuture<'a> {
        Box::pin(async move {
            let (answer, rx) = HostKeyAnswer::new();
            let q = HostKeyQuestion {
                node: self.node.clone(),
                key: key.clone(),
                answer,
            };
            if self.tx.send(Event::HostKey(q).into()).await.is_err() {
                return HostKeyDecision::Refuse;
            }
            // The view gone, or the run stopped: refuse.
            rx.await.unwrap_or(HostKeyDecision::Refuse)
        })
    }
}

/// What nodes are checked against besides their manifests: the template's pinned list and
/// version, or nothing when the template is not here (with a note saying so).
fn expectations(template: &std::path::Path) -> Result<(Expectations, Option<String>), String> {
    if !template.exists() {
        return Ok((
            Expectations::default(),
            Some(format!(
                "{} not found: nodes are checked against their own manifests only",
                template.display()
            )),
        ));
    }
    Expectations::from_template(template)
        .map(|e| (e, None))
        .map_err(|e| e.to_string())
}

async fn inspect_all(
    targets: Vec<NodeTarget>,
    options: InspectOptions,
    template: std::path::PathBuf,
    tx: tokio::sync::mpsc::Sender<AppEvent>,
) -> Result<(), String> {
    let (base, note) = tokio::task::spawn_blocking(move || expectations(&template))
        .await
        .map_err(|e| e.to_string())??;
    if let Some(note) = note {
        let _ = tx.send(Event::Note(note).into()).await;
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(options.parallel.max(1)));
    let options = Arc::new(options);
    let mut set = tokio::task::JoinSet::new();
    for t in targets {
        let (slots, options, tx) = (slots.clone(), options.clone(), tx.clone());
        let mut expect = base.clone();
        expect.glance_properties = Some(t.glance_properties.clone());
        set.spawn(async move {
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            let policy = Arc::new(AskTheOperator {
                node: t.name.clone(),
                tx: tx.clone(),
            });
            let (progress_tx, id) = (tx.clone(), t.server_id.clone());
            let progress = Arc::new(move |p: Progress| {
                send_soon(
                    &progress_tx,
                    Event::Progress {
                        server_id: id.clone(),
                        stage: p.stage,
                    }
                    .into(),
                );
            });
            let reports =
                crate::node::inspect(std::slice::from_ref(&t.target), &options, &expect, policy, progress)
                    .await;
            if let Some(report) = reports.into_iter().next() {
                log::info!(target: "kiln::nodes", "{}: {}", t.name, if report.ok { format!("{} finding(s)", report.drift.len()) } else { report.error.clone().unwrap_or_default() });
                let _ = tx
                    .send(
                        Event::Report {
                            server_id: t.server_id,
                            report: Box::new(report),
                        }
                        .into(),
                    )
                    .await;
            }
        });
    }
    while set.join_next().await.is_some() {}
    Ok(())
}

/// Runs one of the Nodes view's effects.
pub fn run(effect: NodesEffect, exec: &mut Exec) {
    match effect {
        NodesEffect::Inspect(targets) => {
            if exec.running(ViewId::Nodes) {
                return;
            }
            let env = |k: &str| std::env::var(k).ok();
            let options = crate::cli::inspect::configured(&exec.settings, &env);
            let template = exec.settings.template.clone();
            let tx = exec.sender();
            let stop = Arc::new(tokio::sync::Notify::new());
            let stopper = stop.clone();
            let done = tokio::spawn(async move {
                tokio::select! {
                    result = inspect_all(targets, options, template, tx.clone()) => {
                        let _ = tx.send(Event::Finished(result).into()).await;
                    }
                    _ = stop.notified() => {
                        let _ = tx.send(Event::Stopped.into()).await;
                    }
                }
            });
            exec.jobs.insert(
                ViewId::Nodes,
                Job {
                    signal: Box::new(move |_: JobSignal| stopper.notify_one()),
                    done,
                },
            );
        }
        NodesEffect::Stop => exec.signal(ViewId::Nodes, JobSignal::Cancel),
    }
}
