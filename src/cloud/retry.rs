//! When to try a read again: exponential backoff with deterministic jitter, bounded by a number
//! of attempts and by a total time budget per call. Pure; the session sleeps with tokio's clock,
//! so tests run it under paused time.

use std::time::Duration;

/// The retry policy of reads (GET): 5xx answers, timeouts and connection errors are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// The first wait.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Total time a call may take, waits included; no attempt starts that could not finish.
    pub budget: Duration,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(4),
            budget: Duration::from_secs(90),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries (writes).
    pub fn once(attempt_timeout: Duration) -> Self {
        RetryPolicy {
            max_attempts: 1,
            attempt_timeout,
            budget: attempt_timeout,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `next` (2, 3, ...) after `elapsed` so far, or None to give up.
    /// The wait doubles from `base_delay` up to `max_delay`, with up to 25% jitter drawn from
    /// `salt` (so concurrent calls spread out, and tests are repeatable).
    pub fn delay(&self, next: u32, elapsed: Duration, salt: u64) -> Option<Duration> {
        if next > self.max_attempts || next < 2 {
            return None;
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (next - 2).min(16))
            .min(self.max_delay);
        let jitter_pct = (salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) % 26; // 0..=25
        let wait = exp + exp * jitter_pct as u32 / 100;
        // Give up when waiting and one more attempt could overrun the budget.
        let needed = elapsed + wait + self.attempt_timeout.min(self.budget / 4);
        (needed <= self.budget).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_cap_and_stop() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            budget: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(1),
        };
        let w: Vec<Duration> = (2..=5)
            .map(|n| p.delay(n, Duration::ZERO, 0).unwrap())
            .collect();
        assert_eq!(w, [100, 200, 300, 300].map(Duration::from_millis));
        assert_eq!(p.delay(6, Duration::ZERO, 0), None, "attempts spent");
        assert_eq!(p.delay(1, Duration::ZERO, 0), None);
        assert_eq!(p.delay(2, Duration::from_secs(59), 0), None, "budget spent");
        for salt in 0..50 {
            let d = p.delay(2, Duration::ZERO, salt).unwrap();
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(125),
                "{d:?}"
            );
        }
        assert_eq!(
            RetryPolicy::once(Duration::from_secs(1)).delay(2, Duration::ZERO, 0),
            None
        );
    }
}
