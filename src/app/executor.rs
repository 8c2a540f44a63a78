//! The one executor of effects: the shell's own (quit, suspend, theme, panic) here, a view's
//! through `views::run_effect`. Long-running work (a build) is registered as a [`Job`] so quitting
//! can stop it and wait, bounded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::effect::AppEvent;
use super::views::ViewId;
use crate::bake::replay::Speed;
use crate::clock::Clock;
use crate::settings::Settings;
use crate::theme::Theme;

/// What the executor asks of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSignal {
    /// The operator's cancel.
    Cancel,
    /// The operator's second cancel.
    Escalate,
    /// kiln is going away: stop cleanly within the job's grace time.
    Abandon,
}

/// Long-running work of a view.
pub struct Job {
    /// Passes a signal to the work.
    pub signal: Box<dyn Fn(JobSignal) + Send>,
    /// Ends when the work is done.
    pub done: tokio::task::JoinHandle<()>,
}

/// What effects run with.
pub struct Exec {
    /// The settings of this run.
    pub settings: Settings,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Where background work reports (bounded: a flood waits instead of piling up).
    pub tx: mpsc::Sender<AppEvent>,
    /// Running jobs by view.
    pub jobs: HashMap<ViewId, Job>,
    /// The demo's replay speed.
    pub speed: Option<Speed>,
    /// The cloud: its credentials, and the client once connected (shared by background work).
    pub cloud: CloudAccess,
}

/// The console's way to the cloud: credentials resolved once, a client connected on first use
/// and kept (a token is reused until it expires).
#[derive(Clone)]
pub struct CloudAccess {
    source: Arc<crate::cloud::credentials::CredentialSource>,
    client: Arc<tokio::sync::Mutex<Option<crate::cloud::CloudClient>>>,
}

impl CloudAccess {
    /// Access with these credentials.
    pub fn new(source: crate::cloud::credentials::CredentialSource) -> Self {
        CloudAccess {
            source: Arc::new(source),
            client: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The credentials (what the status line and the audit file name).
    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The connected client (connecting first when needed).
    pub async fn client(&self) -> Result<crate::cloud::CloudClient, crate::cloud::CloudError> {
        let mut guard = self.client.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = crate::cloud::CloudClient::connect_source(&self.source, Default::default()).await?;
        *guard = Some(c.clone());
        Ok(c)
    }
}

impl Exec {
    /// True while a job of `view` runs.
    pub fn running(&mut self, view: ViewId) -> bool {
        self.jobs.retain(|_, j| !j.done.is_finished());
        self.jobs.contains_key(&view)
    }

    /// Signals the job of `view`, if any.
    pub fn signal(&self, view: ViewId, s: JobSignal) {
        if let Some(j) = self.jobs.get(&view) {
            (j.signal)(s);
        }
    }

    /// Sends an event from async work.
    pub fn sender(&self) -> mpsc::Sender<AppEvent> {
        self.tx.clone()
    }

    /// Asks every job to stop and waits for each, at most `limit`.
    pub async fn stop_all(&mut self, limit: Duration) {
        for (view, job) in self.jobs.drain() {
            (job.signal)(JobSignal::Abandon);
            if tokio::time::timeout(limit, job.done).await.is_err() {
                log::error!(target: "kiln::app", "{view:?} work did not stop within {limit:?}");
            }
        }
    }

    /// Loads a theme off the UI thread (a user theme is a file).
    pub fn load_theme(&self, name: String) {
        let (dir, no_color, tx) = (
            self.settings.paths.config_dir.join("themes"),
            self.settings.no_color,
            self.tx.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let loaded = Theme::load(&name, &dir, no_color).map_err(|e| {
                log::warn!(target: "kiln::app", "{e}");
                e.to_string()
            });
            let _ = tx.blocking_send(AppEvent::Theme(loaded));
        });
    }
}

/// Sends an event from a synchronous callback: at once when there is room, else from a task.
pub fn send_soon(tx: &mpsc::Sender<AppEvent>, event: AppEvent) {
    if let Err(mpsc::error::TrySendError::Full(event)) = tx.try_send(event) {
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(event).await;
        });
    }
}
