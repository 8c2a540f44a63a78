//! Signals during a headless build: SIGINT, SIGTERM and SIGHUP each ask the build to cancel
//! (the session escalates on the second).

use tokio::sync::mpsc;

use crate::bake::session::Control;

/// The signals a headless build listens to, installed before packer starts so no signal falls
/// between the two.
pub struct SignalSet {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl SignalSet {
    /// Installs the handlers.
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(SignalSet {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Turns every signal into a cancel request until the build is gone.
    pub async fn forward(mut self, tx: mpsc::UnboundedSender<Control>) {
        loop {
            tokio::select! {
                _ = self.int.recv() => {},
                _ = self.term.recv() => {},
                _ = self.hup.recv() => {},
            }
            if tx.send(Control::Cancel).is_err() {
                return;
            }
        }
    }
}
