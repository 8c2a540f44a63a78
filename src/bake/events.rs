//! The typed events a build produces, and their JSON-lines form (`kiln build --headless --json`).
//!
//! The JSON field names are a published contract: CI pipelines parse them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

/// Index of a stage in a [`super::stage::StagePlan`].
pub type StageId = usize;

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output of a script, or packer's own announcements.
    Out,
    /// Standard error of a script, or a packer error.
    Err,
}

impl Stream {
    /// The contract name: `out` or `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Out => "out",
            Stream::Err => "err",
        }
    }
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Not reached yet.
    Pending,
    /// Under way.
    Running,
    /// Finished without error.
    Ok,
    /// Failed.
    Failed,
    /// Interrupted by a cancel.
    Cancelled,
    /// Never ran because the build ended first (or the builder has no such step).
    Skipped,
}

impl StageStatus {
    /// Lower-case name, as used in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::Running => "running",
            StageStatus::Ok => "ok",
            StageStatus::Failed => "failed",
            StageStatus::Cancelled => "cancelled",
            StageStatus::Skipped => "skipped",
        }
    }
}

/// How a whole build ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    /// Packer exited 0 and reported no error.
    Succeeded,
    /// Packer reported an error, crashed, or exited non-zero.
    Failed,
    /// The operator (or a signal) cancelled the build.
    Cancelled,
}

impl BuildStatus {
    /// Lower-case name, as used in JSON and on screen.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
            BuildStatus::Cancelled => "cancelled",
        }
    }

    /// The exit code of `kiln build --headless` for this result.
    pub fn exit_code(self) -> i32 {
        match self {
            BuildStatus::Succeeded => 0,
            BuildStatus::Failed => 1,
            BuildStatus::Cancelled => 130,
        }
    }
}

/// The summary of a finished build.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOutcome {
    /// The result.
    pub status: BuildStatus,
    /// The Glance image id, from the artifact `id` line.
    pub image_id: Option<String>,
    /// The image name, from `Creating the image: <name>`.
    pub image_name: Option<String>,
    /// The stage that failed (or was interrupted).
    pub failed_stage: Option<StageId>,
    /// The lines that explain a failure: the failed stage's last errors and packer's error report.
    pub explanation: Vec<String>,
    /// The first line of what went wrong (None on success).
    pub error: Option<String>,
    /// Wall time of the whole build.
    pub seconds: f64,
}

/// One thing that happened during a build.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// A stage began.
    StageStarted { stage: StageId, at: DateTime<Utc> },
    /// A stage ended.
    StageFinished {
        stage: StageId,
        status: StageStatus,
        seconds: f64,
    },
    /// A line of output, attributed to a stage.
    Log {
        stage: StageId,
        stream: Stream,
        line: String,
    },
    /// A `kiln:progress <done>/<total> <label>` line.
    Progress {
        stage: StageId,
        done: u64,
        total: u64,
        label: String,
    },
    /// A `kiln:warn <message>` line.
    Warning { stage: StageId, message: String },
    /// A stage that was not in the plan appeared (a new script); it sits before `before`.
    StageAdded { stage: StageId, name: String },
    /// The image name became known.
    ImageName(String),
    /// The Glance image id became known.
    ImageId(String),
    /// The build ended.
    Finished(BuildOutcome),
}

impl BuildEvent {
    /// The JSON-lines form, or None for events that are internal (image name/id, plan changes).
    pub fn to_json(&self, stage_name: &dyn Fn(StageId) -> String) -> Option<serde_json::Value> {
        Some(match self {
            BuildEvent::StageStarted { stage, at } => json!({
                "event": "stage_started",
                "stage": stage_name(*stage),
                "at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            }),
            BuildEvent::StageFinished {
                stage,
                status,
                seconds,
            } => json!({
                "event": "stage_finished",
                "stage": stage_name(*stage),
                "status": status.as_str(),
                "seconds": round_ms(*seconds),
            }),
            BuildEvent::Log {
                stage,
                stream,
                line,
            } => json!({
                "event": "log",
                "stage": stage_name(*stage),
                "stream": stream.as_str(),
                "line": line,
            }),
            BuildEvent::Progress {
                stage,
                done,
                total,
                label,
            } => json!({
                "event": "progress",
                "stage": stage_name(*stage),
                "done": done,
                "total": total,
                "label": label,
            }),
            BuildEvent::Warning { stage, message } => json!({
                "event": "warning",
                "stage": stage_name(*stage),
                "message": message,
            }),
            BuildEvent::Finished(outcome) => json!({
                "event": "build_finished",
                "status": outcome.status.as_str(),
                "image_id": outcome.image_id,
                "image_name": outcome.image_name,
                "failed_stage": outcome.failed_stage.map(stage_name),
                "error": outcome.error,
                "seconds": round_ms(outcome.seconds),
            }),
            BuildEvent::StageAdded { .. } | BuildEvent::ImageName(_) | BuildEvent::ImageId(_) => {
                return None;
            }
        })
    }
}

/// Rounds to milliseconds so JSON output stays readable.
pub fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}
