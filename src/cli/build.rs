//! `kiln build --headless [--json]`: preflight, the start policy, then the build with its events
//! printed as they come; signals cancel (a second signal escalates). Every run ends with one
//! `build_finished`. Exit 0 succeeded, 1 failed, 2 preflight failed or FIPS refused, 130
//! cancelled.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;

use crate::bake::fips::FIPS_EXPLANATION;
use crate::bake::request::prepare;
use crate::bake::session;
use crate::bake::start::{StartDecision, decide};
use crate::clock::Clock;
use crate::settings::Settings;

use super::args::BuildArgs;
use super::events::EventPrinter;
use super::signals::SignalSet;

/// Runs a headless build. Returns the exit code.
pub async fn run(settings: &Settings, args: &BuildArgs, clock: Arc<dyn Clock>) -> Result<i32> {
    let prepared = prepare(settings, &args.choices(), clock.now());
    // In JSON mode stdout carries only events: the checklist and FIPS messages go to stderr.
    let mut notes: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let mut printer = EventPrinter::new(
        std::io::BufWriter::new(std::io::stdout()),
        args.json,
        &prepared.plan,
    );
    if settings.readonly {
        let why = "--readonly: starting a build is disabled (it creates a server and an image)";
        printer.never_started(None, why)?;
        bail!(why);
    }
    let report = if args.skip_preflight {
        None
    } else {
        let r = super::preflight::check(settings, &prepared, args.allow_unvalidated_fips).await;
        super::checklist::print_preflight(&mut notes, &r, false)?;
        printer.preflight(&r)?;
        Some(r)
    };
    let fips = match decide(
        report.as_ref(),
        args.fips,
        &prepared.source_image,
        args.allow_unvalidated_fips,
    ) {
        StartDecision::Blocked { failed } => {
            let first = failed.first().cloned().unwrap_or_default();
            printer.never_started(Some("preflight"), &format!("preflight failed: {first}"))?;
            return Ok(2);
        }
        StartDecision::NeedsAcknowledgement { reason } => {
            writeln!(notes, "FIPS: {FIPS_EXPLANATION}")?;
            writeln!(
                notes,
                "FIPS: refusing to start: {reason}. Pass --allow-unvalidated-fips to build an image that is NOT FIPS-validated."
            )?;
            printer.never_started(
                Some("preflight"),
                &format!("FIPS refused: {reason} (pass --allow-unvalidated-fips to build an image that is NOT FIPS-validated)"),
            )?;
            return Ok(2);
        }
        StartDecision::Start(fips) => fips,
    };
    if fips.requested {
        writeln!(notes, "FIPS: {FIPS_EXPLANATION}")?;
        if !fips.validated {
            writeln!(
                notes,
                "FIPS: acknowledged: this image will NOT be FIPS-validated ({})",
                fips.reason.as_deref().unwrap_or("not Ubuntu Pro")
            )?;
        }
    }
    drop(notes);
    let request = prepared.into_request(settings, fips, true);
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let signals = SignalSet::install().context("installing signal handlers")?;
    tokio::spawn(signals.forward(ctl_tx));
    match session::run(
        request,
        clock,
        ctl_rx,
        |started| log::info!(target: "kiln::build", "record: {:?}", started.record_dir),
        &mut printer,
    )
    .await
    {
        Ok(outcome) => Ok(outcome.status.exit_code()),
        Err(e) => {
            // packer missing or not startable: still one build_finished, and the reason.
            printer.never_started(None, &e.to_string())?;
            eprintln!("kiln: {e}");
            Ok(1)
        }
    }
}
