//! What every handler shares: the fleet, the state lock, the fault knobs, the clock, the users'
//! throwaway secrets, the event channel, the request log, the tests' gates and, in hybrid mode,
//! the external Keystone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::faults::{Faults, Service};
use super::fleet::Fleet;
use super::gate::Gates;
use super::hybrid::ExternalKeystone;
use super::state::{CloudState, Timings, Token};
use crate::clock::Clock;

/// Something that happened in the simulated cloud (for tests and the demo to wait on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// A server was created (`POST /servers`).
    ServerCreated {
        /// Server id.
        id: String,
        /// Server name.
        name: String,
    },
    /// A server was deleted.
    ServerDeleted {
        /// Server id.
        id: String,
    },
    /// An image was created (Glance create or Nova createImage).
    ImageCreated {
        /// Image id.
        id: String,
        /// Image name.
        name: String,
    },
    /// An image was deleted.
    ImageDeleted {
        /// Image id.
        id: String,
    },
}

/// One answered request, for tests that assert which calls a client made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The service it went to (None: the root or an unknown prefix).
    pub service: Option<Service>,
    /// Method.
    pub method: String,
    /// Path below the service prefix, e.g. `/v2/images`.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Status answered.
    pub status: u16,
}

/// A user's throwaway secrets for this run. (No `Debug`: never printed.)
#[derive(Clone)]
pub struct UserSecret {
    /// Password.
    pub password: String,
    /// Application credential (id, secret), scoped to the user's project.
    pub app_cred: (String, String),
}

/// The shared core of a running simulator.
pub struct Core {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The seeded fleet (never changes).
    pub fleet: Arc<Fleet>,
    /// State behind one lock.
    pub state: Mutex<CloudState>,
    /// Fault knobs.
    pub faults: Arc<Faults>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Timings of status changes.
    pub timings: Timings,
    /// Per user (same order as `fleet.users`).
    pub secrets: Vec<UserSecret>,
    /// Region name.
    pub region: String,
    /// Events.
    pub events: broadcast::Sender<SimEvent>,
    /// Answered requests (bounded).
    pub requests: Mutex<Vec<RequestRecord>>,
    /// Counter driving the injected 5xx draws.
    pub draws: AtomicU64,
    /// Requests tests hold.
    pub gates: Gates,
    /// Hybrid mode: the external Keystone that Nova and Cinder tokens come from.
    pub hybrid: Option<ExternalKeystone>,
}

/// The most requests kept in the log.
pub const REQUEST_LOG_MAX: usize = 200_000;

impl Core {
    /// The state, settled to now.
    pub fn lock(&self) -> MutexGuard<'_, CloudState> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.settle(self.clock.now());
        st
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Keystone's public URL.
    pub fn auth_url(&self) -> String {
        format!("{}/identity/v3", self.base)
    }

    /// Sends an event (nobody listening is fine).
    pub fn emit(&self, e: SimEvent) {
        let _ = self.events.send(e);
    }

    /// The token of `value`, when valid now: not expired, not revoked.
    pub fn token(&self, value: &str) -> Option<Token> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let t = st.tokens.get(value)?;
        (t.serial >= self.faults.revoked_before() && t.expires_at > self.now()).then(|| t.clone())
    }

    /// Records an answered request.
    pub fn record(&self, r: RequestRecord) {
        let mut log = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() < REQUEST_LOG_MAX {
            log.push(r);
        }
    }

    /// Draws whether this request gets an injected 5xx (deterministic sequence per run).
    pub fn draw_error(&self) -> Option<u16> {
        let ppm = self.faults.error_ppm();
        if ppm == 0 {
            return None;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let mut rng = super::rng::Rng::new(self.fleet.seed, 1000 + n);
        let roll = rng.below(1_000_000);
        (roll < ppm).then(|| [500, 502, 503, 504][(rng.below(4)) as usize])
    }

    /// The project id of `token`, or "" when it has none.
    pub fn project_id<'a>(&'a self, t: &'a Token) -> &'a str {
        if let Some(e) = &t.external {
            return &e.project_id;
        }
        t.project
            .map(|p| self.fleet.projects[p].id.as_str())
            .unwrap_or("")
    }

    /// The user id of `token`.
    pub fn user_id<'a>(&'a self, t: &'a Token) -> &'a str {
        match &t.external {
            Some(e) => &e.user_id,
            None => &self.fleet.users[t.user].id,
        }
    }
}
