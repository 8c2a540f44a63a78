//! Deleting the images retention allows, safely: one at a time; right before each delete the
//! listing (the image and every usage) is fetched again and the image judged again, and it is
//! skipped unless it is still eligible; every attempt is in the audit file before and after the
//! call. A stop request is honoured between two deletes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::audit::{Actor, AuditError, AuditLog, Entry};
use super::fetch::fetch;
use crate::clock::Clock;
use crate::cloud::{CloudClient, CloudError};
use crate::retention::{Policy, Verdict};

/// One image to delete, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Glance id.
    pub id: String,
    /// Its name (for the audit file and the screen).
    pub name: String,
}

/// What happened to one planned image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Deleted.
    Deleted,
    /// Not deleted: no longer eligible (the reasons), or gone.
    Skipped(String),
    /// The delete failed (Glance's answer).
    Failed(String),
}

/// Progress of a run: the image, its position, and its outcome once known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 0-based position in the plan.
    pub index: usize,
    /// How many planned.
    pub total: usize,
    /// The image.
    pub image: Planned,
    /// None while it is being checked and deleted.
    pub outcome: Option<Outcome>,
}

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// The cloud could not be asked (a re-check failed): nothing more is deleted.
    #[error("re-checking before a delete failed, nothing more was deleted: {0}")]
    Cloud(#[from] CloudError),
    /// The audit file could not be written: nothing is deleted without its record.
    #[error("{0}; nothing more was deleted")]
    Audit(#[from] AuditError),
}

/// Deletes the planned images that are still eligible. Returns each outcome, in plan order
/// (shorter than the plan when `stop` was set).
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    client: &CloudClient,
    plan: &[Planned],
    policy: Policy,
    clock: Arc<dyn Clock>,
    audit: &mut AuditLog,
    actor: &Actor,
    stop: &AtomicBool,
    mut progress: impl FnMut(Step),
) -> Result<Vec<Outcome>, DeleteError> {
    let mut outcomes = Vec::new();
    for (index, p) in plan.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let step = |outcome| Step {
            index,
            total: plan.len(),
            image: p.clone(),
            outcome,
        };
        progress(step(None));
        let now = clock.now();
        let inventory = fetch(client, false, policy, now).await?;
        let outcome = match inventory.image(&p.id) {
            None => {
                let why = "gone: it is no longer in Glance".to_string();
                audit.append(
                    now,
                    actor,
                    (&p.id, &p.name),
                    &[],
                    &Entry::Skipped(why.clone()),
                )?;
                Outcome::Skipped(why)
            }
            Some(img) if img.verdict != Verdict::Eligible => {
                let why = format!(
                    "no longer eligible: {}",
                    img.reasons
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                audit.append(
                    now,
                    actor,
                    (&p.id, &p.name),
                    &img.reasons,
                    &Entry::Skipped(why.clone()),
                )?;
                Outcome::Skipped(why)
            }
            Some(_) => {
                audit.append(now, actor, (&p.id, &p.name), &[], &Entry::Started)?;
                let result = client.delete_image(&p.id).await;
                let at = clock.now();
                match result {
                    Ok(()) => {
                        audit.append(at, actor, (&p.id, &p.name), &[], &Entry::Deleted)?;
                        Outcome::Deleted
                    }
                    Err(e) => {
                        // An error does not prove nothing happened (a gateway may time out
                        // after Glance deleted it): ask, so the audit says what was done.
                        let after = client.image(&p.id).await;
                        let (entry, outcome) = match after {
                            Ok(None) => (Entry::DeletedDespite(e.to_string()), Outcome::Deleted),
                            Ok(Some(_)) => {
                                let why = e.to_string();
                                (Entry::Failed(why.clone()), Outcome::Failed(why))
                            }
                            Err(check) => {
                                let why = format!(
                                    "{e}; whether it went is unknown: asking Glance afterwards failed too ({check})"
                                );
                                (Entry::Failed(why.clone()), Outcome::Failed(why))
                            }
                        };
                        audit.append(clock.now(), actor, (&p.id, &p.name), &[], &entry)?;
                        outcome
                    }
                }
            }
        };
        progress(step(Some(outcome.clone())));
        outcomes.push(outcome);
    }
    Ok(outcomes)
}
