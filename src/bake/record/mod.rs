//! Build records on disk: `$XDG_STATE_HOME/kiln/builds/<UTC time>-<image name>/` holding
//! `packer.log` (raw lines, flushed as they come) and `build.json` (the summary). This file has
//! the record's types; `store` finds and creates records, `writer` writes one on its own thread.

mod store;
mod writer;

pub use store::{Listing, RecordStore, load, typical_seconds, typical_stage_seconds};
pub use writer::{RecordFile, RecordTask};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{BuildStatus, StageStatus};
use super::state::BuildState;

/// File name of the raw packer output in a record directory.
pub const PACKER_LOG: &str = "packer.log";
/// File name of the summary in a record directory.
pub const BUILD_JSON: &str = "build.json";

/// Errors reading or writing build records.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A file could not be written or read.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Which file.
        path: PathBuf,
        /// Why it failed.
        cause: std::io::Error,
    },
    /// build.json is not what kiln writes.
    #[error("{path} is not a kiln build record: {cause}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// What is wrong, with line and column.
        cause: serde_json::Error,
    },
}

pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> RecordError + 'a {
    move |source| RecordError::Io {
        action,
        path: path.to_path_buf(),
        cause: source,
    }
}

/// What the operator asked of FIPS and what the build can claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FipsRecord {
    /// `fips_enabled=true` was passed to packer.
    pub requested: bool,
    /// The source image is Ubuntu Pro, so the result can be FIPS-validated.
    pub validated: bool,
    /// The operator acknowledged that the image will NOT be FIPS-validated.
    pub acknowledged_unvalidated: bool,
    /// Why kiln judged the source image as it did.
    pub reason: Option<String>,
}

/// One stage's line in build.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Stage name.
    pub name: String,
    /// How it ended.
    pub status: StageStatus,
    /// How long it took, when it ran.
    pub seconds: Option<f64>,
}

/// The result field: a build still running has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordResult {
    /// Written at start; a record left like this means kiln died mid-build.
    Running,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl From<BuildStatus> for RecordResult {
    fn from(s: BuildStatus) -> Self {
        match s {
            BuildStatus::Succeeded => RecordResult::Succeeded,
            BuildStatus::Failed => RecordResult::Failed,
            BuildStatus::Cancelled => RecordResult::Cancelled,
        }
    }
}

impl RecordResult {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordResult::Running => "running",
            RecordResult::Succeeded => "succeeded",
            RecordResult::Failed => "failed",
            RecordResult::Cancelled => "cancelled",
        }
    }
}

/// build.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// Format version of this file.
    pub schema_version: u32,
    /// When the build started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Wall time.
    pub seconds: Option<f64>,
    /// The template built.
    pub template: String,
    /// `-var` values passed, secrets redacted.
    pub vars: BTreeMap<String, String>,
    /// FIPS request and validation.
    pub fips: FipsRecord,
    /// Per-stage results in order.
    pub stages: Vec<StageRecord>,
    /// The result.
    pub result: RecordResult,
    /// Glance image id.
    pub image_id: Option<String>,
    /// Image name.
    pub image_name: Option<String>,
    /// The stage that failed.
    pub failed_stage: Option<String>,
    /// The lines that explain a failure.
    pub error: Option<String>,
}

impl BuildRecord {
    /// A record for a build starting now.
    pub fn started(
        started_at: DateTime<Utc>,
        template: &Path,
        vars: &[(String, String)],
        fips: FipsRecord,
        secrets: &crate::secrets::Secrets,
    ) -> Self {
        BuildRecord {
            schema_version: 1,
            started_at,
            finished_at: None,
            seconds: None,
            template: template.display().to_string(),
            vars: secrets.redact_vars(vars),
            fips,
            stages: Vec::new(),
            result: RecordResult::Running,
            image_id: None,
            image_name: None,
            failed_stage: None,
            error: None,
        }
    }

    /// Why the build did not succeed, in one line: the failed stage and the first line of the
    /// error (None for a success).
    pub fn reason(&self) -> Option<String> {
        let first = self
            .error
            .as_deref()
            .and_then(|e| e.lines().find(|l| !l.trim().is_empty()))
            .map(str::trim);
        match self.result {
            RecordResult::Succeeded => None,
            RecordResult::Running => {
                Some("no result: kiln stopped during the build (or it still runs)".into())
            }
            RecordResult::Cancelled => Some(match first {
                Some(e) if e != "cancelled" => e.to_string(),
                _ => "cancelled".to_string(),
            }),
            RecordResult::Failed => Some(match (&self.failed_stage, first) {
                (Some(stage), Some(e)) => format!("{stage}: {e}"),
                (Some(stage), None) => format!("failed in {stage}"),
                (None, Some(e)) => e.to_string(),
                (None, None) => "failed".to_string(),
            }),
        }
    }

    /// FIPS in one word: `-` not asked, `yes` validated, `UNVAL` acknowledged as not validated.
    pub fn fips_label(&self) -> &'static str {
        match (self.fips.requested, self.fips.validated) {
            (false, _) => "-",
            (true, true) => "yes",
            (true, false) => "UNVAL",
        }
    }

    /// Copies stage timings and the outcome from a build state.
    pub fn update_from(&mut self, state: &BuildState, now: DateTime<Utc>) {
        self.stages = state
            .order
            .iter()
            .filter_map(|&id| state.stages.get(id))
            .map(|s| StageRecord {
                name: s.name.clone(),
                status: s.status,
                seconds: s.seconds.map(super::events::round_ms),
            })
            .collect();
        self.image_id = state.image_id.clone();
        self.image_name = state.image_name.clone();
        if let Some(outcome) = &state.outcome {
            self.result = outcome.status.into();
            self.finished_at = Some(now);
            self.seconds = Some(super::events::round_ms(outcome.seconds));
            self.failed_stage = outcome
                .failed_stage
                .and_then(|id| state.stages.get(id))
                .map(|s| s.name.clone());
            self.error = if outcome.explanation.is_empty() {
                outcome.error.clone()
            } else {
                Some(outcome.explanation.join("\n"))
            };
        }
    }
}
