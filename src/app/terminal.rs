//! The terminal: raw mode and the alternate screen on, restored on every way out (return, panic,
//! signals), Ctrl-Z suspend and resume, and the emergency stop of a running packer group from
//! the panic hook.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};

/// The packer process group of the running build, for the panic hook (0 = none).
static ACTIVE_GROUP: AtomicI32 = AtomicI32::new(0);

/// Records the process group a panic must stop (0: none).
pub fn set_active_group(pgid: i32) {
    ACTIVE_GROUP.store(pgid, Ordering::SeqCst);
}

/// Raw mode, the alternate screen, and mouse reports (the wheel scrolls).
pub fn init() -> Result<ratatui::DefaultTerminal> {
    let terminal = ratatui::try_init().context("setting up the terminal")?;
    crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)
        .context("enabling the mouse")?;
    Ok(terminal)
}

/// Leaves raw mode and the alternate screen, stops mouse reports and shows the cursor. Safe to
/// call twice.
pub fn restore() {
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableMouseCapture);
    ratatui::restore();
    let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Show);
}

/// Restores the terminal on a panic, and stops a running packer group (bounded wait for its
/// cleanup) before the panic message.
pub fn install_panic_hook(grace: Duration) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
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

/// Gives the terminal back, stops kiln (SIGTSTP) and takes the terminal again on SIGCONT.
pub fn suspend(terminal: &mut ratatui::DefaultTerminal) -> Result<()> {
    restore();
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGTSTP).context("suspending")?;
    *terminal = init().context("restoring the terminal after resume")?;
    // A fresh Terminal redraws every cell; clear what the shell left without `Terminal::clear`,
    // which queries the cursor position and fails on terminals that do not answer.
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )
    .context("clearing the screen after resume")
}
