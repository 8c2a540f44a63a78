//! `kiln demo`: the console on built-in data, no cloud and no packer. The Build view replays
//! recorded builds (a success and a failure, recorded with packer 1.6.6 and given the openstack
//! builder's launch and snapshot lines; see tests/data/packer/README.md).

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::build::record::FipsRecord;
use crate::build::replay::{Speed, Transcript};
use crate::build::request::{BuildChoices, Prepared, prepare};
use crate::build::session;
use crate::build::stage::{PIPELINE_SCRIPTS, StagePlan};
use crate::build::state::BuildState;
use crate::cli::DemoArgs;
use crate::clock::{Clock, SystemClock};
use crate::headless::EventPrinter;
use crate::settings::Settings;

const SUCCESS: &str = include_str!("../tests/data/packer/demo-success.log");
const FAILED: &str = include_str!("../tests/data/packer/demo-failed.log");

/// The recorded builds, in the order the demo plays them.
pub fn transcripts() -> Vec<Transcript> {
    vec![
        Transcript::new("success", SUCCESS, 0),
        Transcript::new("failed", FAILED, 1),
    ]
}

/// A build that replays `transcript` at `speed`. Nothing is recorded on disk.
pub fn prepared(transcript: Transcript, speed: Speed, settings: &Settings) -> Prepared {
    let mut prepared = prepare(
        settings,
        &BuildChoices::default(),
        FipsRecord::default(),
        SystemClock.now(),
        false,
    );
    prepared.request.plan = StagePlan::new(PIPELINE_SCRIPTS);
    prepared.request.replay = Some((transcript, speed));
    prepared
}

/// `kiln demo --headless [--json]`: one recorded build's events, printed.
pub async fn run_headless(settings: &Settings, args: &DemoArgs) -> Result<i32> {
    let transcript = transcripts()
        .into_iter()
        .find(|t| t.name == args.replay)
        .with_context(|| {
            format!(
                "no recorded build `{}` (there are: success, failed)",
                args.replay
            )
        })?;
    let speed = Speed::new(args.speed.unwrap_or(settings.demo_speed));
    let req = prepared(transcript, speed, settings).request;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut printer = EventPrinter::new(
        std::io::stdout().lock(),
        args.json,
        BuildState::new(&req.plan, clock.now()),
    );
    let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = session::run(
        req,
        clock,
        rx,
        |_| {},
        |events| {
            // A closed stdout (piped into `head`) just ends the output.
            let _ = printer.print(events);
        },
    )
    .await?;
    Ok(outcome.status.exit_code())
}
