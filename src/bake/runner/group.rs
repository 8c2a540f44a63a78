//! Packer's process group: signalling every process in it, and waiting for it to be gone.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::RunnerError;

/// A handle that signals packer's process group. Cheap to clone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupHandle {
    pgid: i32,
}

impl GroupHandle {
    /// A handle for a known group id.
    pub fn from_pgid(pgid: i32) -> Self {
        GroupHandle { pgid }
    }

    /// The process group id (packer's pid).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    /// Sends `signal` to every process in the group.
    pub fn signal(&self, signal: Signal) -> Result<(), RunnerError> {
        match killpg(Pid::from_raw(self.pgid), signal) {
            Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
            Err(source) => Err(RunnerError::Signal {
                signal,
                pgid: self.pgid,
                cause: source,
            }),
        }
    }

    /// SIGINT to the group: packer cancels cleanly and cleans up.
    pub fn interrupt(&self) -> Result<(), RunnerError> {
        self.signal(Signal::SIGINT)
    }

    /// SIGTERM to the group: the escalation after an interrupt.
    pub fn terminate(&self) -> Result<(), RunnerError> {
        self.signal(Signal::SIGTERM)
    }

    /// True while any process of the group is alive.
    pub fn is_alive(&self) -> bool {
        killpg(Pid::from_raw(self.pgid), None).is_ok()
    }
}

/// Waits for the group to disappear, up to `limit`. Returns true when it is gone.
pub async fn wait_group_gone(handle: GroupHandle, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        if !handle.is_alive() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tick.tick().await;
    }
}
