//! One build from start to end: runs packer (or a replay), routes its lines into events, hands
//! the record to its writer thread, gives event batches to a [`Sink`] (the console or the
//! headless printer), and obeys cancel requests. Lines are handled in batches: everything queued
//! is drained before the sink runs, and a sink that falls behind slows the reading of packer's
//! output (backpressure) instead of growing a queue.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::events::{BuildEvent, BuildOutcome};
use super::plan::StagePlan;
use super::record::{BuildRecord, RecordError, RecordStore, RecordTask};
use super::router::{Ending, StageRouter};
use super::runner::{self, GroupHandle, PackerInvocation, PackerOutput, RunnerError};
use super::state::BuildState;
use crate::clock::Clock;

/// Most lines handled before the sink sees a batch (keeps a flood from starving the UI).
const MAX_BATCH: usize = 2048;
/// How long packer has after SIGTERM before its group is killed.
const TERM_GRACE: Duration = Duration::from_secs(5);
/// Warnings about the build record start with this (the console and the CLI tell them apart).
pub const RECORD_WARNING: &str = "build record:";

/// What the operator can ask of a running build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// First time: SIGINT to packer's group (clean cancel). Again: SIGTERM.
    Cancel,
    /// SIGTERM to the group now.
    Escalate,
    /// kiln is going away: interrupt, then SIGTERM and SIGKILL if cleanup outlasts the grace time.
    Abandon,
}

/// Where a build's events go.
pub trait Sink: Send {
    /// Takes a batch; may wait while the consumer is behind.
    fn deliver(&mut self, events: Vec<BuildEvent>) -> impl Future<Output = ()> + Send;
}

/// Everything needed to run one build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The packer command.
    pub invocation: PackerInvocation,
    /// The expected stages.
    pub plan: StagePlan,
    /// The image name kiln expects (packer says the real one when it creates it).
    pub expected_image: String,
    /// The record to write (FIPS decision, vars); None when no record is wanted.
    pub record: Option<(RecordStore, BuildRecord, String)>,
    /// How long packer may clean up after an interrupt when kiln is quitting.
    pub cleanup_grace: Duration,
    /// Secret values (Ubuntu Pro token, passwords) to scrub from every line before it is shown,
    /// logged or written to packer.log.
    pub secrets: crate::secrets::Secrets,
    /// Replay this transcript instead of running packer (the demo).
    pub replay: Option<(super::replay::Transcript, super::replay::Speed)>,
}

/// What produces the lines: a packer process group, or a replay.
#[derive(Debug, Clone)]
pub enum Producer {
    /// Real packer.
    Packer(GroupHandle),
    /// A recorded transcript.
    Replay(Arc<tokio::sync::Notify>),
}

impl Producer {
    fn interrupt(&self) {
        match self {
            Producer::Packer(g) => signal_logged(g.interrupt()),
            Producer::Replay(n) => n.notify_one(),
        }
    }
    fn terminate(&self) {
        match self {
            Producer::Packer(g) => signal_logged(g.terminate()),
            Producer::Replay(n) => n.notify_one(),
        }
    }
    fn kill(&self) {
        match self {
            Producer::Packer(g) => signal_logged(g.signal(nix::sys::signal::Signal::SIGKILL)),
            Producer::Replay(n) => n.notify_one(),
        }
    }
}

/// Errors that stop a build before packer runs.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Packer could not be started.
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

/// What a sink is told about a starting build.
#[derive(Debug, Clone)]
pub struct Started {
    /// Packer's process group, or the replay.
    pub producer: Producer,
    /// The record directory, when recording.
    pub record_dir: Option<std::path::PathBuf>,
}

/// Runs a build to its end. `on_start` runs once packer is up; `sink` gets every batch of events.
pub async fn run<S: Sink>(
    request: BuildRequest,
    clock: Arc<dyn Clock>,
    mut control: mpsc::UnboundedReceiver<Control>,
    on_start: impl FnOnce(Started),
    sink: &mut S,
) -> Result<BuildOutcome, SessionError> {
    let started_at = clock.now();
    let mut router = StageRouter::new(request.plan.clone(), started_at);
    let mut state = BuildState::summary(&request.plan, started_at);
    let mut events = Vec::with_capacity(MAX_BATCH);
    let (mut writer, mut record_errors) = open_record(request.record, &mut router, &mut events);
    let spawned = match request.replay.clone() {
        Some((transcript, speed)) => {
            let (rx, cancel) = super::replay::start(transcript, speed);
            Ok((Producer::Replay(cancel), rx))
        }
        None => runner::spawn(&request.invocation).map(|(g, rx)| (Producer::Packer(g), rx)),
    };
    let (producer, mut rx) = match spawned {
        Ok(ok) => ok,
        Err(e) => {
            if let Some((w, mut record)) = writer {
                record.result = super::record::RecordResult::Failed;
                record.error = Some(e.to_string());
                record.finished_at = Some(clock.now());
                w.finish(record).await;
            }
            return Err(e.into());
        }
    };
    if let Producer::Packer(g) = &producer {
        log::info!(target: "kiln::build", "packer started, process group {}: {} {}", g.pgid(), request.invocation.program.display(), request.invocation.args().join(" "));
    }
    on_start(Started {
        producer: producer.clone(),
        record_dir: writer.as_ref().map(|(w, _)| w.dir().to_path_buf()),
    });

    let mut raw: Vec<Vec<u8>> = Vec::with_capacity(MAX_BATCH);
    let mut cancel_requested = false;
    let mut escalated = false;
    let mut control_open = true;
    let mut deadline: Option<(tokio::time::Instant, Step)> = None;

    let outcome = loop {
        let sleep_until = deadline.map(|(d, _)| d);
        tokio::select! {
            biased;
            ctl = control.recv(), if control_open => match ctl {
                // First cancel: packer cleans up, for at most the grace time.
                Some(Control::Cancel | Control::Abandon) if !cancel_requested => {
                    cancel_requested = true;
                    producer.interrupt();
                    deadline = Some((tokio::time::Instant::now() + request.cleanup_grace, Step::Terminate));
                }
                // Asked again: SIGTERM now, SIGKILL if that is ignored too.
                Some(Control::Cancel | Control::Escalate) => {
                    cancel_requested = true;
                    escalated = true;
                    log::warn!(target: "kiln::build", "cancel escalated: SIGTERM to packer's group");
                    producer.terminate();
                    deadline = Some((tokio::time::Instant::now() + TERM_GRACE, Step::Kill));
                }
                Some(Control::Abandon) => {}
                None => control_open = false,
            },
            Some(e) = recv_or_never(&mut record_errors) => {
                record_warning(&router, &e, &mut events);
                sink.deliver(std::mem::take(&mut events)).await;
            }
            () = sleep_or_never(sleep_until) => {
                escalated = true;
                match deadline.map(|(_, step)| step) {
                    Some(Step::Terminate) => {
                        log::warn!(target: "kiln::build", "packer still cleaning up after {:?}: SIGTERM", request.cleanup_grace);
                        producer.terminate();
                        deadline = Some((tokio::time::Instant::now() + TERM_GRACE, Step::Kill));
                    }
                    Some(Step::Kill) => {
                        log::error!(target: "kiln::build", "packer did not stop: SIGKILL to its group");
                        producer.kill();
                        deadline = None;
                    }
                    None => {}
                }
            },
            first = rx.recv() => {
                let mut next = first;
                let mut exit: Option<Option<i32>> = None;
                let mut handled = 0;
                while let Some(output) = next.take() {
                    let now = clock.now();
                    match output {
                        PackerOutput::Stdout(bytes) => {
                            let bytes = request.secrets.scrub_bytes(&bytes).into_owned();
                            router.route_stdout(&shown(&bytes, &request.secrets), now, &mut events);
                            raw.push(bytes);
                        }
                        PackerOutput::Stderr(bytes) => {
                            let bytes = request.secrets.scrub_bytes(&bytes).into_owned();
                            router.route_stderr(&shown(&bytes, &request.secrets), now, &mut events);
                            raw.push(bytes);
                        }
                        PackerOutput::Exited(code) => exit = Some(code),
                    }
                    handled += 1;
                    if exit.is_some() || handled >= MAX_BATCH {
                        break;
                    }
                    next = rx.try_recv().ok();
                }
                if handled == 0 && exit.is_none() {
                    // The channel closed without an exit report (the pump died): treat as killed.
                    exit = Some(None);
                }
                let finished = exit.map(|exit_code| {
                    let ending = Ending { exit_code, cancel_requested, escalated };
                    router.finish(ending, clock.now(), &mut events)
                });
                for e in &events {
                    state.apply(e);
                }
                if let Some((w, record)) = writer.as_mut() {
                    w.append(std::mem::take(&mut raw)).await;
                    if events.iter().any(|e| matches!(e, BuildEvent::StageFinished { .. })) {
                        record.update_from(&state, clock.now());
                        w.save(record.clone()).await;
                    }
                }
                raw.clear();
                sink.deliver(std::mem::take(&mut events)).await;
                if let Some(outcome) = finished {
                    break outcome;
                }
            }
        }
    };
    // Packer may exit before its children (a SIGTERM leaves the running script behind): sweep
    // the group so nothing of the build outlives it.
    if let Producer::Packer(group) = producer
        && group.is_alive()
        && !runner::wait_group_gone(group, Duration::from_secs(3)).await
    {
        log::warn!(target: "kiln::build", "processes left in packer's group after it exited: SIGKILL");
        signal_logged(group.signal(nix::sys::signal::Signal::SIGKILL));
    }
    if let Some((w, mut record)) = writer {
        record.update_from(&state, clock.now());
        w.finish(record).await;
    }
    log::info!(target: "kiln::build", "build {}", outcome.status.as_str());
    Ok(outcome)
}

type Writer = Option<(RecordTask, BuildRecord)>;

/// Creates the record and its writer thread. A record that cannot be created is a warning: the
/// build itself goes on.
fn open_record(
    wanted: Option<(RecordStore, BuildRecord, String)>,
    router: &mut StageRouter,
    events: &mut Vec<BuildEvent>,
) -> (Writer, Option<mpsc::UnboundedReceiver<RecordError>>) {
    let Some((store, record, name)) = wanted else {
        return (None, None);
    };
    let file = match store.create(record.clone(), &name) {
        Ok(f) => f,
        Err(e) => {
            record_warning(router, &e, events);
            return (None, None);
        }
    };
    match RecordTask::start(file) {
        Ok((task, errors)) => (Some((task, record)), Some(errors)),
        Err(e) => {
            log::error!(target: "kiln::build", "cannot start the record writer: {e}");
            (None, None)
        }
    }
}

/// A record write failure, told to the operator as a warning of the stage under way.
fn record_warning(router: &StageRouter, e: &RecordError, events: &mut Vec<BuildEvent>) {
    log::error!(target: "kiln::build", "{e}");
    events.push(BuildEvent::Warning {
        stage: router.current().unwrap_or(0),
        message: format!("{RECORD_WARNING} {e} (the build goes on; its record may be incomplete)"),
    });
}

/// A line as text, scrubbed again after decoding (the bytes were scrubbed already; decoding
/// cannot make a secret appear, this only guards the invariant cheaply).
fn shown(bytes: &[u8], secrets: &crate::secrets::Secrets) -> String {
    let text = String::from_utf8_lossy(bytes);
    secrets.scrub(&text).into_owned()
}

/// The next escalation step when a deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// SIGTERM to the group.
    Terminate,
    /// SIGKILL to the group.
    Kill,
}

fn signal_logged(result: Result<(), RunnerError>) {
    if let Err(e) = result {
        log::error!(target: "kiln::build", "{e}");
    }
}

async fn recv_or_never<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(r) => match r.recv().await {
            Some(v) => Some(v),
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

async fn sleep_or_never(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
