//! Replaying a recorded packer transcript as if packer were running: the lines come out at their
//! recorded pace divided by an adjustable speed factor, and a cancel ends the replay the way
//! packer ends a cancelled build. Used by `kiln demo` and fast tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::runner::PackerOutput;

/// A speed factor shared between the UI (which changes it) and the replay task.
#[derive(Debug, Clone)]
pub struct Speed(Arc<AtomicU64>);

impl Speed {
    /// A speed of `factor` (1 = real time).
    pub fn new(factor: f64) -> Self {
        Speed(Arc::new(AtomicU64::new(clamp(factor).to_bits())))
    }

    /// The current factor.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Sets the factor (clamped to 0.1 ..= 1e6).
    pub fn set(&self, factor: f64) {
        self.0.store(clamp(factor).to_bits(), Ordering::Relaxed);
    }
}

fn clamp(f: f64) -> f64 {
    if f.is_finite() {
        f.clamp(0.1, 1e6)
    } else {
        1.0
    }
}

/// A recorded build.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// What it shows (`success`, `failed`).
    pub name: String,
    /// The raw lines.
    pub lines: Vec<String>,
    /// Packer's exit code at the end.
    pub exit_code: i32,
}

impl Transcript {
    /// A transcript from text.
    pub fn new(name: &str, text: &str, exit_code: i32) -> Self {
        Transcript {
            name: name.to_string(),
            lines: text.lines().map(str::to_string).collect(),
            exit_code,
        }
    }

    /// Each line's delay after the previous one, at speed 1. Lines sharing a packer timestamp
    /// are spread evenly over that second.
    pub fn delays(&self) -> Vec<Duration> {
        let stamps: Vec<Option<i64>> = self
            .lines
            .iter()
            .map(|l| l.split(',').next().and_then(|t| t.parse().ok()))
            .collect();
        let mut out = Vec::with_capacity(stamps.len());
        let mut prev: Option<i64> = None;
        let mut i = 0;
        while i < stamps.len() {
            let ts = stamps[i].or(prev);
            let mut j = i + 1;
            while j < stamps.len() && stamps[j].or(ts) == ts {
                j += 1;
            }
            let group = j - i;
            let gap = match (prev, ts) {
                (Some(p), Some(t)) if t > p => (t - p) as f64,
                _ => 0.0,
            };
            let step = 1.0 / group as f64;
            for k in 0..group {
                let d = if k == 0 {
                    (gap - 1.0 + step).max(0.0)
                } else {
                    step
                };
                out.push(Duration::from_secs_f64(if prev.is_none() && k == 0 {
                    0.0
                } else {
                    d
                }));
            }
            prev = ts;
            i = j;
        }
        out
    }
}

/// Starts a replay. Returns the output channel and a cancel trigger.
pub fn start(transcript: Transcript, speed: Speed) -> (mpsc::Receiver<PackerOutput>, Arc<Notify>) {
    let (tx, rx) = mpsc::channel(4096);
    let cancel = Arc::new(Notify::new());
    let cancelled = cancel.clone();
    tokio::spawn(async move {
        let delays = transcript.delays();
        for (line, delay) in transcript.lines.into_iter().zip(delays) {
            let wait = delay.div_f64(speed.get());
            if !wait.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = cancelled.notified() => {
                        let ts = line.split(',').next().unwrap_or("0").to_string();
                        for l in [
                            format!("{ts},,ui,error,Cancelling build after receiving interrupt"),
                            format!("{ts},,ui,say,Cleanly cancelled builds after being interrupted."),
                        ] {
                            let _ = tx.send(PackerOutput::Stdout(l.into_bytes())).await;
                        }
                        let _ = tx.send(PackerOutput::Exited(Some(1))).await;
                        return;
                    }
                }
            }
            if tx
                .send(PackerOutput::Stdout(line.into_bytes()))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = tx
            .send(PackerOutput::Exited(Some(transcript.exit_code)))
            .await;
    });
    (rx, cancel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_timestamps_and_spread_within_a_second() {
        let t = Transcript::new(
            "t",
            "10,,ui,say,a\n10,,ui,say,b\n12,,ui,say,c\nnot csv\n",
            0,
        );
        let d: Vec<f64> = t.delays().iter().map(Duration::as_secs_f64).collect();
        assert_eq!(d.len(), 4);
        assert_eq!(d[0], 0.0);
        assert!((d[1] - 0.5).abs() < 1e-9);
        let total: f64 = d.iter().sum();
        assert!((total - 2.5).abs() < 1e-9, "{d:?}");
    }

    #[test]
    fn speed_is_clamped() {
        let s = Speed::new(0.0);
        assert_eq!(s.get(), 0.1);
        s.set(f64::NAN);
        assert_eq!(s.get(), 1.0);
    }
}
