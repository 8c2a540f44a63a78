//! One command on a node: a session channel on the node's connection, its stdout and stderr
//! kept up to a bound (the channel is closed once stdout passes it), its exit status, all within
//! the command timeout (then the command is signalled and the channel closed).

use std::time::Duration;

use russh::{ChannelMsg, Sig};

use super::connect::Connection;

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// stdout, at most the bound.
    pub stdout: Vec<u8>,
    /// stderr, at most the bound.
    pub stderr: Vec<u8>,
    /// The exit status (None: killed by a signal, or cut before it came).
    pub exit: Option<u32>,
    /// The output was longer than the bound and was cut.
    pub truncated: bool,
}

impl CommandOutput {
    /// stderr as one line, for messages.
    pub fn stderr_line(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        crate::format::cut_chars(&crate::format::plain(&line), 300)
    }
}

/// A command that could not run to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecError {
    /// It did not finish in time.
    TimedOut(Duration),
    /// The channel could not be opened or broke.
    Channel(String),
}

/// Runs `command` (through the login shell, as sshd does).
pub async fn run(
    conn: &Connection,
    command: &str,
    timeout: Duration,
    max_output: usize,
) -> Result<CommandOutput, ExecError> {
    let mut channel = tokio::time::timeout(timeout, conn.channel_open_session())
        .await
        .map_err(|_| ExecError::TimedOut(timeout))?
        .map_err(|e| ExecError::Channel(format!("no session channel: {e}")))?;
    channel
        .exec(true, command)
        .await
        .map_err(|e| ExecError::Channel(format!("exec refused: {e}")))?;
    let mut out = CommandOutput::default();
    let read = async {
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } if keep(&mut out.stdout, &data, max_output) => {
                    out.truncated = true;
                    return Ok(());
                }
                ChannelMsg::ExtendedData { data, .. }
                    if keep(&mut out.stderr, &data, max_output) =>
                {
                    out.truncated = true;
                }
                ChannelMsg::ExitStatus { exit_status } => out.exit = Some(exit_status),
                ChannelMsg::Failure => {
                    return Err(ExecError::Channel(
                        "the server refused to run the command".into(),
                    ));
                }
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        Ok(())
    };
    let result = tokio::time::timeout(timeout, read).await;
    match result {
        Ok(Ok(())) => {
            let _ = channel.close().await;
            Ok(out)
        }
        Ok(Err(e)) => {
            let _ = channel.close().await;
            Err(e)
        }
        Err(_) => {
            let _ = channel.signal(Sig::TERM).await;
            let _ = channel.close().await;
            Err(ExecError::TimedOut(timeout))
        }
    }
}

/// Appends up to the bound; true when something had to be cut.
fn keep(buf: &mut Vec<u8>, data: &[u8], max: usize) -> bool {
    let room = max.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
    data.len() > room
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_kept_up_to_the_bound() {
        let mut b = Vec::new();
        assert!(!keep(&mut b, b"abc", 5));
        assert!(keep(&mut b, b"defg", 5));
        assert_eq!(b, b"abcde");
        assert!(keep(&mut b, b"h", 5));
        assert_eq!(b.len(), 5);
    }
}
