//! When to try a read again: exponential backoff with deterministic jitter, bounded by a number
//! of attempts and by a total time budget per call ([`RetryPolicy::delay`], pure), and the loop
//! that applies it ([`run`]) on tokio's clock, so tests drive it under paused time.

use std::future::Future;
use std::time::Duration;

use super::error::{Attempt, CloudError};

/// How one attempt failed.
#[derive(Debug)]
pub enum Failure {
    /// Worth another attempt (5xx, timeout, connection error) if the policy allows.
    Retry(Attempt),
    /// Final (4xx, bad configuration, ...).
    Fatal(CloudError),
}

/// Why [`run`] stopped without a value.
#[derive(Debug)]
pub enum Stop {
    /// An attempt failed for good.
    Fatal(CloudError),
    /// The policy was spent: every attempt's outcome and the time taken.
    Spent(Vec<Attempt>, Duration),
}

/// Runs `attempt` until it succeeds, fails for good, or the policy is spent. Each attempt is
/// bounded by `policy.attempt_timeout`; waits follow [`RetryPolicy::delay`] with `salt`.
pub async fn run<T, F, Fut>(policy: &RetryPolicy, salt: u64, attempt: F) -> Result<T, Stop>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let start = tokio::time::Instant::now();
    let mut attempts: Vec<Attempt> = Vec::new();
    loop {
        let outcome = match tokio::time::timeout(policy.attempt_timeout, attempt()).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(Failure::Fatal(e))) => return Err(Stop::Fatal(e)),
            Ok(Err(Failure::Retry(a))) => a,
            Err(_) => Attempt::Timeout,
        };
        attempts.push(outcome);
        let elapsed = start.elapsed();
        let next = attempts.len() as u32 + 1;
        match policy.delay(next, elapsed, salt.wrapping_add(next as u64)) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return Err(Stop::Spent(attempts, elapsed)),
        }
    }
}

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
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(2),
            budget: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_backs_off_on_tokio_time_and_succeeds() {
        let tries = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let v = run(&policy(), 0, || async {
            match tries.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(Failure::Retry(Attempt::Status(503))),
                _ => Ok("listed"),
            }
        })
        .await
        .unwrap();
        assert_eq!(v, "listed");
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        // Waits of 1 s then 2 s (plus up to 25% jitter), on the paused clock.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(3) && took <= Duration::from_millis(3750),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn timeouts_count_as_attempts_and_the_policy_is_spent() {
        let start = tokio::time::Instant::now();
        let r: Result<(), Stop> = run(&policy(), 0, || async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .await;
        let Err(Stop::Spent(attempts, elapsed)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(attempts, vec![Attempt::Timeout; 4]);
        // 4 attempts of 5 s and waits of 1 + 2 + 2 s (plus up to 25% jitter).
        assert!(
            elapsed >= Duration::from_secs(25) && elapsed <= Duration::from_millis(26_250),
            "{elapsed:?}"
        );
        assert_eq!(start.elapsed(), elapsed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_failure_is_not_retried() {
        let tries = AtomicU32::new(0);
        let r: Result<(), Stop> = run(&policy(), 0, || async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(Failure::Fatal(CloudError::Config("bad".into())))
        })
        .await;
        assert!(matches!(r, Err(Stop::Fatal(CloudError::Config(_)))));
        assert_eq!(tries.load(Ordering::SeqCst), 1);
    }

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
