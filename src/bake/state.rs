//! The state of one build as the views see it: every stage's status, timing, progress, warnings
//! and a bounded log, folded from [`BuildEvent`]s. No I/O here.

use chrono::{DateTime, Utc};

use super::events::{BuildEvent, BuildOutcome, StageId, StageStatus};
use super::plan::StagePlan;
use crate::bake::log_ring::LogRing;
use crate::clock::seconds_between;

/// Lines kept in memory per stage.
pub const STAGE_LOG_LINES: usize = 2000;
/// Lines kept in memory for the whole build (100 stages cannot hold 100 x 2000).
pub const BUILD_LOG_LINES: usize = 20_000;
/// Bytes of log text kept in memory for the whole build.
pub const BUILD_LOG_BYTES: usize = 16 << 20;

/// The latest `kiln:progress` of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Units done.
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// What the script said it is doing.
    pub label: String,
}

/// One stage as shown in the strip.
#[derive(Debug, Clone)]
pub struct StageView {
    /// Stage name (script name without `.sh`, or launch/upload/snapshot).
    pub name: String,
    /// Where it is.
    pub status: StageStatus,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// How long it took, once finished.
    pub seconds: Option<f64>,
    /// The latest progress report.
    pub progress: Option<Progress>,
    /// `kiln:warn` lines and packer's own warnings (the JSON `warning` events).
    pub warnings: u32,
    /// The stage's last lines.
    pub log: LogRing,
}

impl StageView {
    fn new(name: &str) -> Self {
        StageView {
            name: name.to_string(),
            status: StageStatus::Pending,
            started_at: None,
            seconds: None,
            progress: None,
            warnings: 0,
            log: LogRing::new(STAGE_LOG_LINES),
        }
    }

    /// Elapsed seconds: final when finished, else up to `now`.
    pub fn elapsed(&self, now: DateTime<Utc>) -> Option<f64> {
        self.seconds
            .or_else(|| self.started_at.map(|s| seconds_between(s, now)))
    }
}

/// A build in progress or finished.
#[derive(Debug, Clone)]
pub struct BuildState {
    /// Stages by id.
    pub stages: Vec<StageView>,
    /// Display order of stage ids.
    pub order: Vec<StageId>,
    /// When the build started.
    pub started_at: DateTime<Utc>,
    /// Image name once known.
    pub image_name: Option<String>,
    /// Glance image id once known.
    pub image_id: Option<String>,
    /// Set when the build ended.
    pub outcome: Option<BuildOutcome>,
    /// Lines seen in all.
    pub lines: u64,
    /// The stage a log line arrived for last (the one under way).
    pub active: Option<StageId>,
    /// Whether log lines are kept (the session's own summary state keeps none).
    keep_logs: bool,
    /// Log lines held across stages.
    held_lines: usize,
    /// Log bytes held across stages.
    held_bytes: usize,
}

impl BuildState {
    /// A fresh build over a plan.
    pub fn new(plan: &StagePlan, started_at: DateTime<Utc>) -> Self {
        BuildState {
            stages: (0..plan.len())
                .map(|id| StageView::new(plan.name(id)))
                .collect(),
            order: plan.ordered().to_vec(),
            started_at,
            image_name: None,
            image_id: None,
            outcome: None,
            lines: 0,
            active: None,
            keep_logs: true,
            held_lines: 0,
            held_bytes: 0,
        }
    }

    /// A state that keeps stage status and timing but no log lines (for the build record).
    pub fn summary(plan: &StagePlan, started_at: DateTime<Utc>) -> Self {
        BuildState {
            keep_logs: false,
            ..BuildState::new(plan, started_at)
        }
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &BuildEvent) {
        match event {
            BuildEvent::StageStarted { stage, at } => {
                if let Some(s) = self.stages.get_mut(*stage) {
                    s.status = StageStatus::Running;
                    s.started_at = Some(*at);
                }
                self.active = Some(*stage);
            }
            BuildEvent::StageFinished {
                stage,
                status,
                seconds,
            } => {
                if let Some(s) = self.stages.get_mut(*stage) {
                    s.status = *status;
                    s.seconds = Some(*seconds);
                }
            }
            BuildEvent::Log {
                stage,
                stream,
                line,
            } => {
                self.lines += 1;
                if self.keep_logs
                    && let Some(s) = self.stages.get_mut(*stage)
                {
                    let (lines, bytes) = (s.log.len(), s.log.bytes());
                    s.log.push(*stream, line.clone());
                    self.held_lines = self.held_lines + s.log.len() - lines;
                    self.held_bytes = self.held_bytes + s.log.bytes() - bytes;
                    self.enforce_budget();
                }
            }
            BuildEvent::Progress {
                stage,
                done,
                total,
                label,
            } => {
                if let Some(s) = self.stages.get_mut(*stage) {
                    s.progress = Some(Progress {
                        done: *done,
                        total: *total,
                        label: label.clone(),
                    });
                }
            }
            BuildEvent::Warning { stage, .. } => {
                if let Some(s) = self.stages.get_mut(*stage) {
                    s.warnings += 1;
                }
            }
            BuildEvent::StageAdded { stage, name } => {
                while self.stages.len() <= *stage {
                    self.stages.push(StageView::new(name));
                }
                let at = self
                    .order
                    .iter()
                    .position(|&s| self.stages[s].name == super::plan::SNAPSHOT)
                    .unwrap_or(self.order.len());
                self.order.insert(at, *stage);
            }
            BuildEvent::ImageName(name) => self.image_name = Some(name.clone()),
            BuildEvent::ImageId(id) => self.image_id = Some(id.clone()),
            BuildEvent::Finished(outcome) => {
                for s in &mut self.stages {
                    if s.status == StageStatus::Pending {
                        s.status = StageStatus::Skipped;
                    }
                }
                self.outcome = Some(outcome.clone());
            }
        }
    }

    /// Drops the oldest lines of the stage holding most until the build is within its budget.
    fn enforce_budget(&mut self) {
        while self.held_lines > BUILD_LOG_LINES || self.held_bytes > BUILD_LOG_BYTES {
            let Some(fattest) = self.stages.iter_mut().max_by_key(|s| s.log.len()) else {
                return;
            };
            if fattest.log.is_empty() {
                return;
            }
            self.held_bytes -= fattest.log.pop_oldest();
            self.held_lines -= 1;
        }
    }

    /// Log lines held in memory, across stages.
    pub fn held_lines(&self) -> usize {
        self.held_lines
    }

    /// Whole-build elapsed seconds at `now` (final once finished).
    pub fn elapsed(&self, now: DateTime<Utc>) -> f64 {
        self.outcome
            .as_ref()
            .map_or_else(|| seconds_between(self.started_at, now), |o| o.seconds)
    }

    /// True while the build has not ended.
    pub fn is_running(&self) -> bool {
        self.outcome.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bake::events::Stream;
    use crate::bake::plan::StagePlan;

    #[test]
    fn many_stages_share_one_budget_and_the_fattest_gives_way() {
        let scripts: Vec<String> = (0..100).map(|i| format!("{i:03}-stage.sh")).collect();
        let plan = StagePlan::new(&scripts);
        let mut state = BuildState::new(&plan, chrono::Utc::now());
        for id in 0..plan.len() {
            for n in 0..STAGE_LOG_LINES {
                state.apply(&BuildEvent::Log {
                    stage: id,
                    stream: Stream::Out,
                    line: format!("stage {id} line {n}"),
                });
            }
        }
        assert_eq!(state.held_lines(), BUILD_LOG_LINES);
        let held: usize = state.stages.iter().map(|s| s.log.len()).sum();
        assert_eq!(held, BUILD_LOG_LINES, "the counter matches the rings");
        // The last stage to log keeps its newest lines.
        let last = state.stages.last().unwrap();
        assert!(
            last.log
                .iter()
                .last()
                .unwrap()
                .text
                .ends_with(&format!("line {}", STAGE_LOG_LINES - 1))
        );
    }

    #[test]
    fn a_summary_state_keeps_timing_but_no_lines() {
        let plan = StagePlan::new(&["a.sh"]);
        let mut state = BuildState::summary(&plan, chrono::Utc::now());
        state.apply(&BuildEvent::Log {
            stage: 2,
            stream: Stream::Err,
            line: "x".into(),
        });
        assert_eq!(state.held_lines(), 0);
        assert_eq!(state.lines, 1);
        assert_eq!(state.stages[2].warnings, 0, "stderr is not a warning");
    }
}
