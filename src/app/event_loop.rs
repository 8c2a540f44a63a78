//! The event loop: drains every queued key and background event, folds them into the [`App`],
//! runs the effects, and draws only when something changed, at most one frame every 16 ms (a
//! log flood never delays a keypress). SIGTERM, SIGINT, SIGQUIT and SIGHUP quit the way `:q!`
//! does: running work is stopped and waited for.

use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use super::effect::{AppEvent, Effect};
use super::executor::Exec;
use super::shell::App;
use super::{chrome, terminal, views};

const FRAME: Duration = Duration::from_millis(16);
/// Events queued from background work before senders wait.
pub const QUEUE: usize = 1024;

/// Runs until the operator quits.
pub async fn run(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    exec: &mut Exec,
    mut rx: mpsc::Receiver<AppEvent>,
    first: Vec<Effect>,
) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut stops = [
        ("SIGTERM", SignalKind::terminate()),
        ("SIGINT", SignalKind::interrupt()),
        ("SIGQUIT", SignalKind::quit()),
        ("SIGHUP", SignalKind::hangup()),
    ]
    .into_iter()
    .map(|(name, kind)| {
        signal(kind)
            .map(|s| (name, s))
            .with_context(|| format!("installing the {name} handler"))
    })
    .collect::<Result<Vec<_>>>()?;
    let mut input = EventStream::new();
    // False once the terminal's input failed for good (hung up): it is no longer polled.
    let mut input_open = true;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut dirty = true;
    let mut last_draw = tokio::time::Instant::now() - FRAME;
    let mut effects = first;
    loop {
        for effect in effects.drain(..) {
            dirty = true;
            match effect {
                Effect::Quit => {
                    exec.stop_all(exec.settings.cleanup_grace + Duration::from_secs(15))
                        .await;
                    return Ok(());
                }
                Effect::Suspend => terminal::suspend(terminal)?,
                Effect::Panic => {
                    panic!("deliberate panic requested with :panic (KILN_ALLOW_PANIC_COMMAND=1)")
                }
                Effect::LoadTheme(name) => exec.load_theme(name),
                Effect::Bell => {
                    use std::io::Write;
                    let mut out = std::io::stdout();
                    let _ = out.write_all(b"\x07").and_then(|()| out.flush());
                }
                Effect::View(e) => views::run_effect(e, exec),
            }
        }
        if dirty {
            let wait = FRAME.saturating_sub(last_draw.elapsed());
            if wait.is_zero() {
                let now = exec.clock.now();
                app.shared.now = now;
                if let Err(e) = terminal.draw(|f| chrome::draw(app, f, now)) {
                    // The terminal is gone: stop what runs, then leave quietly.
                    log::error!(target: "kiln::app", "drawing failed, quitting: {e}");
                    terminal::detach_outputs();
                    exec.stop_all(exec.settings.cleanup_grace + Duration::from_secs(15))
                        .await;
                    return Err(e).context("drawing");
                }
                last_draw = tokio::time::Instant::now();
                dirty = false;
            }
        }
        let frame_due = dirty.then_some(last_draw + FRAME);
        let stop = async {
            let waits = stops.iter_mut().map(|(name, s)| {
                Box::pin(async move {
                    s.recv().await;
                    *name
                })
            });
            futures_util::future::select_all(waits).await.0
        };
        tokio::select! {
            ev = input.next(), if input_open => {
                app.shared.now = exec.clock.now();
                let mut gone = ev.is_none().then(|| "the input ended".to_string());
                let mut next = ev;
                while let Some(item) = next.take() {
                    match item {
                        Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => effects.extend(app.on_key(k)),
                        Ok(Event::Resize(..)) => {}
                        Ok(Event::Mouse(m)) => app.on_mouse(m),
                        Ok(_) => {}
                        Err(e) if is_transient(&e) => {}
                        Err(e) => {
                            // A hung-up terminal fails every read: stop reading (it would spin
                            // here forever, before the SIGHUP branch ever runs) and quit.
                            gone = Some(e.to_string());
                            break;
                        }
                    }
                    next = input.next().now_or_never().flatten();
                }
                if let Some(why) = gone {
                    log::warn!(target: "kiln::app", "terminal input failed ({why}): quitting");
                    input_open = false;
                    terminal::detach_outputs();
                    effects.push(Effect::Quit);
                }
                dirty = true;
            }
            Some(ev) = rx.recv() => {
                app.shared.now = exec.clock.now();
                effects.extend(app.on_event(ev));
                while let Ok(ev) = rx.try_recv() {
                    effects.extend(app.on_event(ev));
                }
                dirty = true;
            }
            _ = tick.tick() => {
                if input_open && terminal::hung_up() {
                    log::warn!(target: "kiln::app", "the terminal hung up: quitting");
                    input_open = false;
                    terminal::detach_outputs();
                    effects.push(Effect::Quit);
                }
                if app.ticking() {
                    dirty = true;
                }
            }
            () = sleep_until(frame_due) => {}
            name = stop => {
                log::warn!(target: "kiln::app", "{name}: quitting");
                if name == "SIGHUP" {
                    // The terminal hung up: nothing can be shown any more.
                    terminal::detach_outputs();
                }
                effects.push(Effect::Quit);
            }
        }
    }
}

/// An input error worth reading again after (a signal interrupted the read).
fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
    )
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
