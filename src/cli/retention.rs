//! `kiln retention plan [--json]` (never deletes) and `kiln retention apply --yes` (deletes the
//! images still eligible when each is re-checked, one at a time, every attempt in the audit
//! file). Exit 0 success, 1 a delete failed, 2 auth or connection failure (or no `--yes`).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::clock::Clock;
use crate::inventory::audit::{Actor, AuditLog};
use crate::inventory::delete::{Outcome, Planned, apply};
use crate::retention::Verdict;
use crate::settings::Settings;

use super::args::RetentionAction;
use super::images::{connect, print_table};

/// The OS user, for the audit file.
pub fn os_user() -> String {
    super::env("USER")
        .or_else(|| super::env("LOGNAME"))
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
}

/// Runs `kiln retention`.
pub async fn run(
    settings: &Settings,
    action: &RetentionAction,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<i32> {
    let (json, yes, applying) = match action {
        RetentionAction::Plan { json } => (*json, false, false),
        RetentionAction::Apply { yes, json } => (*json, *yes, true),
    };
    if applying && settings.readonly {
        eprintln!("kiln: --readonly: deleting images is disabled");
        return Ok(2);
    }
    if applying && !yes {
        eprintln!(
            "kiln: retention apply deletes images: run `kiln retention plan` to see which, then `kiln retention apply --yes`"
        );
        return Ok(2);
    }
    let client = match connect(settings).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kiln: {e}");
            return Ok(2);
        }
    };
    let policy = settings.config.retention.policy();
    let inventory = match crate::inventory::fetch::fetch(&client, false, policy, clock.now()).await
    {
        Ok(i) => i,
        Err(e) => {
            eprintln!("kiln: listing the images failed: {e}");
            return Ok(2);
        }
    };
    let mut out = std::io::stdout().lock();
    if !applying {
        let mut ordered: Vec<_> = inventory.eligible().collect();
        ordered.extend(
            inventory
                .images
                .iter()
                .filter(|i| i.verdict == Verdict::Keep),
        );
        if json {
            writeln!(out, "{}", serde_json::to_string(&ordered)?)?;
        } else {
            print_table(&mut out, &inventory, ordered.iter().copied())?;
            writeln!(
                out,
                "{} of {} images may be deleted (kiln retention apply --yes)",
                inventory.eligible().count(),
                inventory.images.len()
            )?;
        }
        return Ok(0);
    }
    let plan: Vec<Planned> = inventory
        .eligible()
        .map(|i| Planned {
            id: i.id.clone(),
            name: i.name.clone(),
        })
        .collect();
    let audit_path = settings.paths.state_dir.join("audit.jsonl");
    let mut audit = AuditLog::open(&audit_path)?;
    let actor = Actor {
        user: os_user(),
        cloud: settings.credentials(&super::env).describe(),
    };
    let stop = AtomicBool::new(false);
    let outcomes = apply(
        &client,
        &plan,
        policy,
        clock,
        &mut audit,
        &actor,
        &stop,
        |step| {
            if let (Some(o), false) = (&step.outcome, json) {
                let (word, why) = match o {
                    Outcome::Deleted => ("deleted", String::new()),
                    Outcome::Skipped(w) => ("skipped", format!(": {w}")),
                    Outcome::Failed(w) => ("FAILED", format!(": {w}")),
                };
                println!(
                    "[{}/{}] {word} {}{why}",
                    step.index + 1,
                    step.total,
                    step.image.name
                );
            }
        },
    )
    .await;
    let outcomes = match outcomes {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kiln: {e} (audit: {})", audit_path.display());
            return Ok(2);
        }
    };
    if json {
        for (p, o) in plan.iter().zip(&outcomes) {
            let (result, detail) = match o {
                Outcome::Deleted => ("deleted", None),
                Outcome::Skipped(w) => ("skipped", Some(w)),
                Outcome::Failed(w) => ("failed", Some(w)),
            };
            writeln!(
                out,
                "{}",
                serde_json::json!({"id": p.id, "name": p.name, "result": result, "detail": detail})
            )?;
        }
    } else {
        writeln!(
            out,
            "{} deleted, {} skipped, {} failed; audit: {}",
            outcomes.iter().filter(|o| **o == Outcome::Deleted).count(),
            outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Skipped(_)))
                .count(),
            outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Failed(_)))
                .count(),
            audit_path.display()
        )?;
    }
    Ok(
        if outcomes.iter().any(|o| matches!(o, Outcome::Failed(_))) {
            1
        } else {
            0
        },
    )
}
