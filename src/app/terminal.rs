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

/// Raw mode, the alternate screen, and mouse reports (the wheel scrolls). Set up by hand rather
/// than with `ratatui::init`, whose panic hook and restore print with `eprintln!`, which panics
/// (and aborts, skipping every cleanup) when the terminal has gone away.
pub fn init() -> Result<ratatui::DefaultTerminal> {
    crossterm::terminal::enable_raw_mode().context("setting up the terminal (raw mode)")?;
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture
    )
    .context("setting up the terminal (alternate screen)")?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
        .context("setting up the terminal")
}

/// Leaves raw mode and the alternate screen, stops mouse reports and shows the cursor. Safe to
/// call twice, and silent when the terminal is gone.
pub fn restore() {
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(out, crossterm::event::DisableMouseCapture);
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        out,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Lets go of a terminal without its drop, which prints with `eprintln!` when it cannot show the
/// cursor (a panic when the terminal is gone). The process is about to end.
pub fn release(mut terminal: ratatui::DefaultTerminal) {
    let _ = terminal.show_cursor();
    std::mem::forget(terminal);
}

/// True when the terminal hung up (stdin polls POLLHUP, POLLERR or POLLNVAL). A hung-up tty
/// gives crossterm's event stream nothing to yield, neither an event nor an error, so the event
/// loop asks this on its tick (a blocked or lost SIGHUP must not leave kiln running).
pub fn hung_up() -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        }),
        Err(_) => false,
    }
}

/// The terminal went away (a hangup, an I/O error drawing): stdout and stderr go to /dev/null so
/// nothing that prints on the way out can panic, and cleanup (packer, the demo's files) runs.
pub fn detach_outputs() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return;
    };
    for fd in [1, 2] {
        // SAFETY: fds 1 and 2 are open for the life of the process; `dup2` replaces them in
        // place and the OwnedFd is forgotten so they are never closed here.
        let mut target = unsafe { OwnedFd::from_raw_fd(fd) };
        let _ = nix::unistd::dup2(&null, &mut target);
        std::mem::forget(target);
    }
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
    let old = std::mem::replace(
        terminal,
        init().context("restoring the terminal after resume")?,
    );
    release(old);
    // A fresh Terminal redraws every cell; clear what the shell left without `Terminal::clear`,
    // which queries the cursor position and fails on terminals that do not answer.
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )
    .context("clearing the screen after resume")
}
