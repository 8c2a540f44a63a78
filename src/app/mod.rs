//! The interactive console: terminal setup and restore (also on panic, SIGTERM and SIGHUP),
//! Ctrl-Z suspend, and the event loop. Background tasks (packer, preflight, history) send
//! [`AppEvent`]s into one channel; the loop drains every queued input and event, folds them into
//! [`App`], and draws only when something changed, at most ~60 frames a second.

pub mod build_view;
pub mod draw;
pub mod history_view;
pub mod keymap;
pub mod log_view;
pub mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use crate::build::fips::judge_source_image;
use crate::build::preflight;
use crate::build::record::{FipsRecord, RecordStore};
use crate::build::replay::Speed;
use crate::build::request::{BuildChoices, Prepared, preflight_input, prepare};
use crate::build::runner::wait_group_gone;
use crate::build::session::{self, Control, Producer};
use crate::build::state::BuildState;
use crate::cli::{BuildArgs, DemoArgs};
use crate::clock::Clock;
use crate::settings::Settings;
use crate::theme::Theme;
use state::{App, AppEvent, BuildView, DemoState, Effect};

/// Which view the console opens on.
#[derive(Debug)]
pub enum StartView {
    /// The Build view, with the form prefilled from `kiln build` flags.
    Build(Box<BuildArgs>),
    /// The demo.
    Demo(DemoArgs),
}

/// The packer process group of the running build, for the panic hook (0 = none).
static ACTIVE_GROUP: AtomicI32 = AtomicI32::new(0);

const FRAME: Duration = Duration::from_millis(16);

/// Runs the console until the operator quits. Returns the exit code.
pub async fn run_console(
    mut settings: Settings,
    start: StartView,
    clock: Arc<dyn Clock>,
) -> Result<i32> {
    let theme = Theme::load(
        &settings.theme,
        &settings.paths.config_dir.join("themes"),
        settings.no_color,
    )
    .context("loading the theme")?;
    let (args, demo) = match start {
        StartView::Build(a) => (*a, None),
        StartView::Demo(d) => (BuildArgs::default(), Some(d)),
    };
    // `kiln build --template/--var-file` apply to every build started from this console.
    if let Some(t) = &args.template {
        settings.template = t.clone();
    }
    settings
        .config
        .var_files
        .extend(args.var_files.iter().cloned());
    let mut app = App::new(
        theme,
        settings.readonly,
        form_from(&settings, &args, clock.as_ref()),
        None,
    );
    app.allow_panic = std::env::var("KILN_ALLOW_PANIC_COMMAND").is_ok_and(|v| v == "1");
    app.skip_preflight = args.skip_preflight;
    let mut speed = None;
    if let Some(d) = &demo {
        let s = d.speed.unwrap_or(settings.demo_speed);
        speed = Some(Speed::new(s));
        let names = crate::demo::transcripts()
            .into_iter()
            .map(|t| t.name)
            .collect();
        app.demo = Some(DemoState {
            speed: s,
            names,
            next: 0,
        });
        app.build.template = "(demo) recorded builds".into();
    }
    log::info!(
        target: "kiln::app",
        "console started: theme {}, template {}, records in {}{}",
        app.theme.name,
        app.build.template,
        settings.paths.builds_dir().display(),
        if settings.readonly { ", read-only" } else { "" }
    );
    install_panic_hook(settings.cleanup_grace);
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let result = event_loop(&mut terminal, &mut app, &settings, clock, speed).await;
    restore_terminal();
    result.map(|()| 0)
}

fn form_from(settings: &Settings, args: &BuildArgs, clock: &dyn Clock) -> BuildView {
    let choices = BuildChoices {
        vars: args.vars.clone(),
        var_files: args.var_files.clone(),
        fips: args.fips,
        template: args.template.clone(),
    };
    let p = prepare(
        settings,
        &choices,
        FipsRecord::default(),
        clock.now(),
        false,
    );
    BuildView {
        vars: p
            .request
            .invocation
            .vars
            .iter()
            .filter(|(k, _)| k != "fips_enabled")
            .cloned()
            .collect(),
        fips: args.fips,
        template: p.request.invocation.template.display().to_string(),
        expected_image: p.expected_image,
        source_image: p.source_image,
        ..BuildView::default()
    }
}

fn install_panic_hook(grace: Duration) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        let pgid = ACTIVE_GROUP.swap(0, Ordering::SeqCst);
        if pgid > 0 {
            eprintln!(
                "kiln: interrupting packer (process group {pgid}) and waiting for its cleanup..."
            );
            stop_group_blocking(pgid, grace.min(Duration::from_secs(60)));
        }
        previous(info);
    }));
}

/// Leaves raw mode and the alternate screen and shows the cursor. Safe to call twice.
fn restore_terminal() {
    ratatui::restore();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
}

/// SIGINT to a group, wait (bounded) for it to go, then SIGKILL. For paths that cannot await.
fn stop_group_blocking(pgid: i32, limit: Duration) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let group = Pid::from_raw(pgid);
    let _ = killpg(group, Signal::SIGINT);
    let deadline = std::time::Instant::now() + limit;
    while killpg(group, None).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = killpg(group, Signal::SIGKILL);
}

struct Running {
    control: mpsc::UnboundedSender<Control>,
    done: tokio::task::JoinHandle<()>,
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    settings: &Settings,
    clock: Arc<dyn Clock>,
    speed: Option<Speed>,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut input = EventStream::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<AppEvent>();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut running: Option<Running> = None;
    let mut dirty = true;
    let mut last_draw = tokio::time::Instant::now() - FRAME;
    let mut effects = vec![Effect::LoadHistory];
    if app.demo.is_some() {
        effects.extend(app.on_action(keymap::Action::Start));
    }
    loop {
        for effect in effects.drain(..) {
            dirty = true;
            match effect {
                Effect::Quit => {
                    if let Some(r) = running.take() {
                        stop_build(r, settings.cleanup_grace).await;
                    }
                    return Ok(());
                }
                Effect::Suspend => {
                    restore_terminal();
                    nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP)
                        .context("suspending")?;
                    *terminal =
                        ratatui::try_init().context("restoring the terminal after resume")?;
                    // A fresh Terminal redraws every cell; clear what the shell left without
                    // `Terminal::clear`, which queries the cursor position and fails on terminals
                    // that do not answer.
                    crossterm::execute!(
                        std::io::stdout(),
                        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
                    )
                    .context("clearing the screen after resume")?;
                }
                Effect::Panic => {
                    panic!("deliberate panic requested with :panic (KILN_ALLOW_PANIC_COMMAND=1)")
                }
                other => {
                    running = apply_effect(
                        other,
                        app,
                        settings,
                        &clock,
                        &tx,
                        running.take(),
                        speed.as_ref(),
                    )
                }
            }
        }
        if running.as_ref().is_some_and(|r| r.done.is_finished()) {
            running = None;
            ACTIVE_GROUP.store(0, Ordering::SeqCst);
        }
        if dirty {
            let wait = FRAME.saturating_sub(last_draw.elapsed());
            if wait.is_zero() {
                let now = clock.now();
                terminal
                    .draw(|f| draw::draw(app, f, now))
                    .context("drawing")?;
                last_draw = tokio::time::Instant::now();
                dirty = false;
            }
        }
        let frame_due = if dirty { Some(last_draw + FRAME) } else { None };
        tokio::select! {
            ev = input.next() => {
                let mut next = ev;
                while let Some(item) = next.take() {
                    match item {
                        Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => { effects.extend(app.on_key(k)); dirty = true; }
                        Ok(Event::Resize(..)) => dirty = true,
                        Ok(_) => {}
                        Err(e) => log::warn!(target: "kiln::app", "terminal input error: {e}"),
                    }
                    next = input.next().now_or_never().flatten();
                }
            }
            Some(ev) = rx.recv() => {
                effects.extend(app.on_event(ev));
                while let Ok(ev) = rx.try_recv() {
                    effects.extend(app.on_event(ev));
                }
                dirty = true;
            }
            _ = tick.tick() => if app.ticking() { dirty = true },
            () = sleep_until(frame_due) => {}
            _ = term.recv() => { log::warn!(target: "kiln::app", "SIGTERM: quitting"); effects.push(Effect::Quit); }
            _ = hup.recv() => { log::warn!(target: "kiln::app", "SIGHUP: quitting"); effects.push(Effect::Quit); }
        }
    }
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

async fn stop_build(r: Running, grace: Duration) {
    let _ = r.control.send(Control::Abandon);
    // The session escalates to SIGTERM and SIGKILL itself; bound our wait beyond that.
    if tokio::time::timeout(grace + Duration::from_secs(15), r.done)
        .await
        .is_err()
    {
        let pgid = ACTIVE_GROUP.load(Ordering::SeqCst);
        if pgid > 0 {
            let group = crate::build::runner::GroupHandle::from_pgid(pgid);
            let _ = group.signal(nix::sys::signal::Signal::SIGKILL);
            let _ = wait_group_gone(group, Duration::from_secs(2)).await;
        }
    }
    ACTIVE_GROUP.store(0, Ordering::SeqCst);
}

fn apply_effect(
    effect: Effect,
    app: &mut App,
    settings: &Settings,
    clock: &Arc<dyn Clock>,
    tx: &mpsc::UnboundedSender<AppEvent>,
    running: Option<Running>,
    speed: Option<&Speed>,
) -> Option<Running> {
    match effect {
        Effect::RunPreflight { fips } => {
            let choices = BuildChoices {
                vars: app.build.vars.clone(),
                fips,
                ..Default::default()
            };
            let (settings, now) = (settings.clone(), clock.now());
            let tx2 = tx.clone();
            let last = std::sync::Mutex::new(0u64);
            let progress: Arc<preflight::HashProgress<'static>> =
                Arc::new(move |file: &str, done: u64, total: u64| {
                    let pct = (done * 100).checked_div(total).unwrap_or(100);
                    if let Ok(mut l) = last.lock()
                        && (pct != *l || done == total)
                    {
                        *l = pct;
                        let _ = tx2.send(AppEvent::HashProgress {
                            file: file.to_string(),
                            done,
                            total,
                        });
                    }
                });
            let tx = tx.clone();
            tokio::spawn(async move {
                // Reads the template: off the UI thread. The console asks for the FIPS
                // acknowledgement itself, so preflight only warns about a non-Pro image.
                let input = preflight_input(&settings, &choices, true, now);
                let mut report = preflight::run(&input, progress).await;
                if fips && report.fips_verdict.is_none() {
                    report.fips_verdict = Some(judge_source_image(&input.source_image, None));
                }
                for c in report
                    .checks
                    .iter()
                    .filter(|c| c.status != preflight::CheckStatus::Ok)
                {
                    log::warn!(target: "kiln::preflight", "{:?} {}: {}", c.status, c.name, c.detail);
                }
                log::info!(target: "kiln::preflight", "preflight {}", if report.passed() { "passed" } else { "failed" });
                let _ = tx.send(AppEvent::Preflight(report));
            });
            running
        }
        Effect::StartBuild { fips } => {
            if running.is_some() {
                return running;
            }
            let choices = BuildChoices {
                vars: app.build.vars.clone(),
                fips: fips.requested,
                ..Default::default()
            };
            let (settings, now) = (settings.clone(), clock.now());
            Some(spawn_session(
                move || prepare(&settings, &choices, fips, now, true),
                clock,
                tx,
            ))
        }
        Effect::StartReplay(i) => {
            if running.is_some() {
                return running;
            }
            let transcript = crate::demo::transcripts().into_iter().nth(i)?;
            let speed = speed
                .cloned()
                .unwrap_or_else(|| Speed::new(settings.demo_speed));
            let settings = settings.clone();
            Some(spawn_session(
                move || crate::demo::prepared(transcript, speed, &settings),
                clock,
                tx,
            ))
        }
        Effect::Cancel | Effect::Escalate => {
            if let Some(r) = &running {
                let _ = r.control.send(if effect == Effect::Cancel {
                    Control::Cancel
                } else {
                    Control::Escalate
                });
            }
            running
        }
        Effect::LoadHistory => {
            let store = RecordStore::new(settings.paths.builds_dir());
            let tx = tx.clone();
            tokio::task::spawn_blocking(move || {
                let records: Vec<_> = store
                    .list()
                    .into_iter()
                    .map(|r| r.map_err(|e| e.to_string()))
                    .collect();
                let bad = records.iter().filter(|r| r.is_err()).count();
                log::debug!(target: "kiln::history", "{} build records in {} ({bad} unreadable)", records.len(), store.root().display());
                let _ = tx.send(AppEvent::History(records, store.typical_seconds()));
            });
            running
        }
        Effect::SetTheme(name) => {
            // A user theme is a file: read it off the UI thread.
            let (dir, no_color, tx) = (
                settings.paths.config_dir.join("themes"),
                settings.no_color,
                tx.clone(),
            );
            tokio::task::spawn_blocking(move || {
                let loaded = Theme::load(&name, &dir, no_color).map_err(|e| {
                    log::warn!(target: "kiln::app", "{e}");
                    e.to_string()
                });
                let _ = tx.send(AppEvent::Theme(loaded));
            });
            running
        }
        Effect::SetSpeed(s) => {
            if let Some(sp) = speed {
                sp.set(s);
            }
            running
        }
        Effect::Logger(e) => {
            app.logger.transition(e);
            running
        }
        Effect::Quit | Effect::Suspend | Effect::Panic => running,
    }
}

/// Starts a build off the UI thread: `make` (which reads the template) runs on a blocking
/// thread, the console gets the plan, then the session's events.
fn spawn_session(
    make: impl FnOnce() -> Prepared + Send + 'static,
    clock: &Arc<dyn Clock>,
    tx: &mpsc::UnboundedSender<AppEvent>,
) -> Running {
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let planned = tx.clone();
    let events = tx.clone();
    let started = tx.clone();
    let ended = tx.clone();
    let clock = clock.clone();
    let done = tokio::spawn(async move {
        let prepared = match tokio::task::spawn_blocking(make).await {
            Ok(p) => p,
            Err(e) => {
                let _ = ended.send(AppEvent::BuildEnded(Err(format!(
                    "preparing the build failed: {e}"
                ))));
                return;
            }
        };
        let request = prepared.request;
        let _ = planned.send(AppEvent::BuildPlanned {
            state: BuildState::new(&request.plan, clock.now()),
            fips: request
                .record
                .as_ref()
                .map(|(_, r, _)| r.fips.clone())
                .unwrap_or_default(),
            expected_image: prepared.expected_image,
        });
        let result = session::run(
            request,
            clock,
            ctl_rx,
            move |s| {
                if let Producer::Packer(g) = &s.producer {
                    ACTIVE_GROUP.store(g.pgid(), Ordering::SeqCst);
                }
                let _ = started.send(AppEvent::BuildStarted(s.record_dir));
            },
            move |batch| {
                let _ = events.send(AppEvent::Build(batch.to_vec()));
            },
        )
        .await;
        ACTIVE_GROUP.store(0, Ordering::SeqCst);
        let _ = ended.send(AppEvent::BuildEnded(result.map_err(|e| format!("{e:#}"))));
    });
    Running {
        control: ctl_tx,
        done,
    }
}
