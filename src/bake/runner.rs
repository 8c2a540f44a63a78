//! Spawning `packer build -machine-readable` in its own process group, reading its output line by
//! line, and signalling the whole group (design §2: SIGINT to packer's pid alone is ignored).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackerInvocation {
    /// The packer executable (found on PATH when a bare name).
    pub program: PathBuf,
    /// The template file.
    pub template: PathBuf,
    /// `-var key=value` pairs, in order.
    pub vars: Vec<(String, String)>,
    /// `-var-file` paths.
    pub var_files: Vec<PathBuf>,
}

impl PackerInvocation {
    /// The argument list after the program name.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["build".to_string(), "-machine-readable".to_string()];
        for (k, v) in &self.vars {
            args.push("-var".into());
            args.push(format!("{k}={v}"));
        }
        for f in &self.var_files {
            args.push("-var-file".into());
            args.push(f.display().to_string());
        }
        args.push(self.template.display().to_string());
        args
    }
}

impl PackerInvocation {
    /// The arguments as logged: secret-named `-var` values redacted.
    pub fn shown_args(&self) -> Vec<String> {
        self.args()
            .into_iter()
            .map(|a| match a.split_once('=') {
                Some((k, _)) if crate::secrets::is_secret_name(k) => {
                    format!("{k}={}", crate::secrets::REDACTED)
                }
                _ => a,
            })
            .collect()
    }
}

/// A line or the end of the packer process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackerOutput {
    /// A line packer printed on stdout (machine-readable).
    Stdout(String),
    /// A line packer printed on stderr.
    Stderr(String),
    /// Packer exited: its exit code, or None when a signal ended it.
    Exited(Option<i32>),
}

/// Errors starting or signalling packer.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The executable could not be started.
    #[error("could not start `{program}`: {source} (is packer installed and on PATH?)")]
    Spawn {
        /// What we tried to run.
        program: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Signalling the process group failed.
    #[error("could not send {signal} to packer's process group {pgid}: {source}")]
    Signal {
        /// The signal.
        signal: Signal,
        /// The group.
        pgid: i32,
        /// Why.
        source: nix::Error,
    },
}

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
                source,
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

/// Starts packer in a new process group. Output arrives on the returned channel, ending with
/// [`PackerOutput::Exited`] once both pipes are drained and the process is reaped.
pub fn spawn(
    invocation: &PackerInvocation,
) -> Result<(GroupHandle, mpsc::Receiver<PackerOutput>), RunnerError> {
    let mut command = Command::new(&invocation.program);
    command
        .args(invocation.args())
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    // Packer must be interruptible whatever kiln inherited: a job started from a non-interactive
    // shell has SIGINT ignored, and an ignored signal stays ignored across exec. Reset the
    // dispositions packer relies on for a clean cancel.
    // SAFETY: only async-signal-safe calls (signal(2)) run between fork and exec.
    unsafe {
        command.pre_exec(|| {
            use nix::sys::signal::{SigHandler, Signal, signal};
            for sig in [
                Signal::SIGINT,
                Signal::SIGTERM,
                Signal::SIGHUP,
                Signal::SIGQUIT,
                Signal::SIGPIPE,
            ] {
                signal(sig, SigHandler::SigDfl).map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|source| RunnerError::Spawn {
        program: invocation.program.display().to_string(),
        source,
    })?;
    let pgid = child.id().map_or(0, |id| id as i32);
    let (tx, rx) = mpsc::channel(4096);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    tokio::spawn(pump(child, stdout, stderr, tx));
    Ok((GroupHandle { pgid }, rx))
}

async fn pump(
    mut child: Child,
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
    tx: mpsc::Sender<PackerOutput>,
) {
    let out = stdout.map(|s| tokio::spawn(read_lines(s, tx.clone(), PackerOutput::Stdout)));
    let err = stderr.map(|s| tokio::spawn(read_lines(s, tx.clone(), PackerOutput::Stderr)));
    for task in [out, err].into_iter().flatten() {
        if let Err(e) = task.await {
            log::error!(target: "kiln::runner", "packer output reader failed: {e}");
        }
    }
    let code = match child.wait().await {
        Ok(status) => status.code(),
        Err(e) => {
            log::error!(target: "kiln::runner", "waiting for packer failed: {e}");
            None
        }
    };
    // The receiver may be gone (the UI quit): nothing more to tell.
    let _ = tx.send(PackerOutput::Exited(code)).await;
}

async fn read_lines<R: AsyncRead + Unpin>(
    reader: R,
    tx: mpsc::Sender<PackerOutput>,
    wrap: fn(String) -> PackerOutput,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) => break,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                let line = String::from_utf8_lossy(&buf).into_owned();
                if tx.send(wrap(line)).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                log::warn!(target: "kiln::runner", "reading packer output failed: {e}");
                break;
            }
        }
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
