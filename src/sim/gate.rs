//! Holding requests for tests: a [`Gate`] catches the requests that match it (service, method,
//! path) and keeps each one waiting, before it is answered, until the test lets it through. A
//! test can then act at an exact point between two calls of a client (e.g. boot a server after
//! `kiln retention apply` made its plan and before it re-checks an image) without sleeping.
//! Dropping the gate lets everything through; no request waits longer than [`HOLD_MAX`].

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::faults::Service;

/// The longest a request is held, even when the test never lets it go.
pub const HOLD_MAX: Duration = Duration::from_secs(60);

struct Entry {
    service: Service,
    method: String,
    path: String,
    caught: mpsc::UnboundedSender<Held>,
}

/// The gates of a simulator.
#[derive(Default)]
pub struct Gates {
    entries: Mutex<Vec<Entry>>,
}

/// A gate: the requests it caught, in arrival order.
pub struct Gate {
    caught: mpsc::UnboundedReceiver<Held>,
}

/// A request held at a gate. Dropping it (or [`Held::release`]) lets it through.
pub struct Held {
    /// Its method.
    pub method: String,
    /// Its path below the service prefix, e.g. `/v2.1/servers/detail`.
    pub path: String,
    _go: oneshot::Sender<()>,
}

impl Held {
    /// Lets the request through.
    pub fn release(self) {}
}

impl Gate {
    /// The next request caught, or None when none arrives within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Held> {
        tokio::time::timeout(timeout, self.caught.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Gates {
    /// A gate for `method` `path` (exact, below the service prefix) of `service`.
    pub fn add(&self, service: Service, method: &str, path: &str) -> Gate {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().push(Entry {
            service,
            method: method.to_string(),
            path: path.to_string(),
            caught: tx,
        });
        Gate { caught: rx }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits while a gate holds this request (at most [`HOLD_MAX`]); returns at once when no
    /// gate matches.
    pub async fn pass(&self, service: Service, method: &str, path: &str) {
        let (go, gone) = oneshot::channel();
        let held = Held {
            method: method.to_string(),
            path: path.to_string(),
            _go: go,
        };
        let caught = {
            let mut entries = self.lock();
            entries.retain(|e| !e.caught.is_closed());
            match entries
                .iter()
                .find(|e| e.service == service && e.method == method && e.path == path)
            {
                Some(e) => e.caught.send(held).is_ok(),
                None => false,
            }
        };
        if caught {
            // Released, or the gate and the held request dropped: either way, go on.
            let _ = tokio::time::timeout(HOLD_MAX, gone).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gate_holds_what_matches_until_released_and_nothing_after_it_is_dropped() {
        let gates = std::sync::Arc::new(Gates::default());
        let mut gate = gates.add(Service::Compute, "GET", "/v2.1/servers/detail");
        // Not matching: passes at once.
        gates.pass(Service::Compute, "POST", "/v2.1/servers").await;
        gates
            .pass(Service::Volume, "GET", "/v2.1/servers/detail")
            .await;
        let g = gates.clone();
        let waiting = tokio::spawn(async move {
            g.pass(Service::Compute, "GET", "/v2.1/servers/detail")
                .await
        });
        let held = gate.next(Duration::from_secs(5)).await.expect("caught");
        assert_eq!(held.path, "/v2.1/servers/detail");
        assert!(!waiting.is_finished());
        held.release();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        drop(gate);
        tokio::time::timeout(
            Duration::from_secs(5),
            gates.pass(Service::Compute, "GET", "/v2.1/servers/detail"),
        )
        .await
        .expect("a dropped gate holds nothing");
        assert!(gates.lock().is_empty());
    }
}
