//! The Retention view's work: the deletes, one at a time with a re-check before each, every
//! attempt in the audit file, progress reported as it goes; a stop request ends the run after
//! the delete under way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Event, RetentionEffect};
use crate::app::executor::{Exec, Job, JobSignal, send_soon};
use crate::app::views::ViewId;
use crate::inventory::audit::{Actor, AuditLog};
use crate::inventory::delete::apply;

/// Runs one of the Retention view's effects.
pub fn run(effect: RetentionEffect, exec: &mut Exec) {
    match effect {
        RetentionEffect::Delete(plan) => {
            if exec.running(ViewId::Retention) {
                return;
            }
            let (cloud, tx, clock) = (exec.cloud.clone(), exec.sender(), exec.clock.clone());
            let policy = exec.settings.config.retention.policy();
            let audit_path = exec.settings.paths.state_dir.join("audit.jsonl");
            let stop = Arc::new(AtomicBool::new(false));
            let stopper = stop.clone();
            let done = tokio::spawn(async move {
                let result = async {
                    let mut audit = AuditLog::open(&audit_path).map_err(|e| e.to_string())?;
                    let client = cloud.client().await.map_err(|e| e.to_string())?;
                    let actor = Actor {
                        user: crate::cli::retention::os_user(),
                        cloud: cloud.describe(),
                    };
                    let progress_tx = tx.clone();
                    apply(
                        &client,
                        &plan,
                        policy,
                        clock,
                        &mut audit,
                        &actor,
                        &stop,
                        |step| {
                            if let Some(o) = &step.outcome {
                                log::info!(
                                    target: "kiln::retention",
                                    "{} ({}): {o:?}; recorded in {}",
                                    step.image.name,
                                    step.image.id,
                                    audit_path.display()
                                );
                            }
                            send_soon(&progress_tx, Event::Step(step).into());
                        },
                    )
                    .await
                    .map_err(|e| e.to_string())
                }
                .await;
                let _ = tx.send(Event::Done(result).into()).await;
            });
            exec.jobs.insert(
                ViewId::Retention,
                Job {
                    signal: Box::new(move |_: JobSignal| stopper.store(true, Ordering::SeqCst)),
                    done,
                },
            );
        }
        RetentionEffect::Stop => exec.signal(ViewId::Retention, JobSignal::Cancel),
    }
}
