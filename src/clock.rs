//! Time, injected: logic takes a [`Clock`] so tests and snapshots are deterministic.

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Seconds from `a` to `b` (never negative).
pub fn seconds_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    let micros = (b - a).num_microseconds().unwrap_or(i64::MAX).max(0);
    micros as f64 / 1_000_000.0
}
