//! Spawning `packer build -machine-readable` in its own process group (design §2: SIGINT to
//! packer's pid alone is ignored), with secret variables in its environment rather than on its
//! command line, and reading its output: bounded lines (`lines`), and an end that does not wait
//! for a leftover process still holding packer's pipes. Signalling the group is in `group`.

mod group;
mod lines;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub use group::{GroupHandle, wait_group_gone};
pub use lines::MAX_LINE;

/// How long packer's output may still arrive after packer exited (a leftover process holding
/// the pipes is not waited for longer).
pub const DRAIN: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackerInvocation {
    /// The packer executable (found on PATH when a bare name).
    pub program: PathBuf,
    /// The template file.
    pub template: PathBuf,
    /// Variables, in order: secret-named ones go to packer's environment as `PKR_VAR_<name>`
    /// (readable by no other user, unlike argv), the rest as `-var key=value`.
    pub vars: Vec<(String, String)>,
    /// `-var-file` paths.
    pub var_files: Vec<PathBuf>,
}

impl PackerInvocation {
    /// The argument list after the program name.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["build".to_string(), "-machine-readable".to_string()];
        for (k, v) in self
            .vars
            .iter()
            .filter(|(k, _)| !crate::secrets::is_secret_name(k))
        {
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
    /// The secret variables, as packer's environment (`PKR_VAR_<name>`).
    pub fn env(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter(|(k, _)| crate::secrets::is_secret_name(k))
            .map(|(k, v)| (format!("PKR_VAR_{k}"), v.clone()))
            .collect()
    }
}

/// A line or the end of the packer process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackerOutput {
    /// A line packer printed on stdout (machine-readable), as written.
    Stdout(Vec<u8>),
    /// A line packer printed on stderr, as written.
    Stderr(Vec<u8>),
    /// Packer exited: its exit code, or None when a signal ended it.
    Exited(Option<i32>),
}

/// Errors starting or signalling packer.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The executable could not be started.
    #[error("could not start `{program}`: {cause} (is packer installed and on PATH?)")]
    Spawn {
        /// What we tried to run.
        program: String,
        /// Why it failed.
        cause: std::io::Error,
    },
    /// Signalling the process group failed.
    #[error("could not send {signal} to packer's process group {pgid}: {cause}")]
    Signal {
        /// The signal.
        signal: Signal,
        /// The group.
        pgid: i32,
        /// Why.
        cause: nix::Error,
    },
}

/// Starts packer in a new process group. Output arrives on the returned channel, ending with
/// [`PackerOutput::Exited`] once both pipes are drained and the process is reaped.
pub fn spawn(
    invocation: &PackerInvocation,
) -> Result<(GroupHandle, mpsc::Receiver<PackerOutput>), RunnerError> {
    let mut command = Command::new(&invocation.program);
    command
        .args(invocation.args())
        .envs(invocation.env())
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
        cause: source,
    })?;
    let pgid = child.id().map_or(0, |id| id as i32);
    let (tx, rx) = mpsc::channel(4096);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    tokio::spawn(pump(child, stdout, stderr, tx));
    Ok((GroupHandle::from_pgid(pgid), rx))
}

async fn pump(
    mut child: Child,
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
    tx: mpsc::Sender<PackerOutput>,
) {
    let readers: Vec<tokio::task::JoinHandle<()>> = [
        stdout.map(|s| tokio::spawn(lines::read_lines(s, tx.clone(), PackerOutput::Stdout))),
        stderr.map(|s| tokio::spawn(lines::read_lines(s, tx.clone(), PackerOutput::Stderr))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let aborts: Vec<_> = readers.iter().map(|r| r.abort_handle()).collect();
    let code = match child.wait().await {
        Ok(status) => status.code(),
        Err(e) => {
            log::error!(target: "kiln::runner", "waiting for packer failed: {e}");
            None
        }
    };
    // What packer wrote before it exited is still in the pipes: read it. A process packer left
    // behind may hold the pipes open for ever: that is not waited for.
    let drained = tokio::time::timeout(DRAIN, async {
        for r in readers {
            if let Err(e) = r.await {
                log::error!(target: "kiln::runner", "packer output reader failed: {e}");
            }
        }
    })
    .await;
    if drained.is_err() {
        log::warn!(target: "kiln::runner", "packer exited but something it started still holds its output open; not waiting for it");
        for a in aborts {
            a.abort();
        }
    }
    // The receiver may be gone (the UI quit): nothing more to tell.
    let _ = tx.send(PackerOutput::Exited(code)).await;
}
