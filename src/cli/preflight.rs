//! `kiln preflight`, and the checklist run before a headless build: prepare the build once,
//! gather and judge, print progress of the artifact hashing on a terminal.

use std::io::IsTerminal;
use std::sync::Arc;

use crate::bake::preflight::{self, FipsAck, HashProgress, PreflightReport};
use crate::bake::request::{BuildChoices, Prepared, prepare};
use crate::clock::Clock;
use crate::settings::Settings;

use super::args::PreflightArgs;
use super::{env, env_names};

/// Hashing progress on stderr, only when it is a terminal.
pub fn hash_progress() -> Arc<HashProgress<'static>> {
    let tty = std::io::stderr().is_terminal();
    Arc::new(move |file: &str, done: u64, total: u64| {
        if tty && total > 0 {
            let pct = done * 100 / total;
            eprint!(
                "\r  hashing {file}: {pct:>3}% ({} of {} MiB)\x1b[K",
                done >> 20,
                total >> 20
            );
            if done == total {
                eprint!("\r\x1b[K");
            }
        }
    })
}

/// Runs the checklist for a prepared build.
pub async fn check(
    settings: &Settings,
    prepared: &Prepared,
    allow_unvalidated_fips: bool,
) -> PreflightReport {
    let ack = if allow_unvalidated_fips {
        FipsAck::Acknowledged
    } else {
        FipsAck::Refused
    };
    let input = prepared.preflight_input(settings, ack, &env, &env_names());
    preflight::run(&input, hash_progress()).await
}

/// `kiln preflight`: prints the checklist; exit 0 when nothing fails, 2 otherwise.
pub async fn run(
    settings: &Settings,
    args: &PreflightArgs,
    clock: &dyn Clock,
) -> anyhow::Result<i32> {
    use anyhow::Context;
    let choices = BuildChoices {
        vars: args.vars.clone(),
        template: args.template.clone(),
        fips: args.fips,
        ..Default::default()
    };
    let prepared = prepare(settings, &choices, clock.now());
    let report = check(settings, &prepared, args.allow_unvalidated_fips).await;
    super::checklist::print_preflight(&mut std::io::stdout(), &report, args.json)
        .context("writing the checklist")?;
    Ok(report.exit_code())
}
