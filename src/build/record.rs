//! Build records on disk: `$XDG_STATE_HOME/kiln/builds/<UTC time>-<image name>/` holding
//! `packer.log` (raw lines, flushed as they come) and `build.json` (the summary).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{BuildStatus, StageStatus};
use super::state::BuildState;
use crate::secrets::redact_vars;

/// File name of the raw packer output in a record directory.
pub const PACKER_LOG: &str = "packer.log";
/// File name of the summary in a record directory.
pub const BUILD_JSON: &str = "build.json";

/// Errors reading or writing build records.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// A file could not be written or read.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Which file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// build.json is not what kiln writes.
    #[error("{path} is not a kiln build record: {source}")]
    Parse {
        /// Which file.
        path: PathBuf,
        /// What is wrong, with line and column.
        source: serde_json::Error,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> RecordError + 'a {
    move |source| RecordError::Io {
        action,
        path: path.to_path_buf(),
        source,
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
    ) -> Self {
        BuildRecord {
            schema_version: 1,
            started_at,
            finished_at: None,
            seconds: None,
            template: template.display().to_string(),
            vars: redact_vars(vars),
            fips,
            stages: Vec::new(),
            result: RecordResult::Running,
            image_id: None,
            image_name: None,
            failed_stage: None,
            error: None,
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
            self.error = (!outcome.explanation.is_empty()).then(|| outcome.explanation.join("\n"));
        }
    }
}

/// The directory all records live in.
#[derive(Debug, Clone)]
pub struct RecordStore {
    root: PathBuf,
}

/// A record being written.
#[derive(Debug)]
pub struct RecordWriter {
    dir: PathBuf,
    log: BufWriter<File>,
    /// The summary, rewritten by [`RecordWriter::save`].
    pub record: BuildRecord,
}

impl RecordStore {
    /// A store rooted at `root` (normally `$XDG_STATE_HOME/kiln/builds`).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RecordStore { root: root.into() }
    }

    /// Where the records are.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates the directory for a new build and writes the first build.json.
    pub fn create(
        &self,
        record: BuildRecord,
        image_name: &str,
    ) -> Result<RecordWriter, RecordError> {
        let stamp = record.started_at.format("%Y%m%dT%H%M%SZ");
        let safe: String = image_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut dir = self.root.join(format!("{stamp}-{safe}"));
        let mut n = 1;
        while dir.exists() {
            n += 1;
            dir = self.root.join(format!("{stamp}-{safe}-{n}"));
        }
        fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        let log_path = dir.join(PACKER_LOG);
        let log = File::create(&log_path).map_err(io("creating", &log_path))?;
        let writer = RecordWriter {
            dir,
            log: BufWriter::new(log),
            record,
        };
        writer.save()?;
        Ok(writer)
    }

    /// Every record, newest first. Unreadable ones are returned as errors in place.
    pub fn list(&self) -> Vec<Result<(PathBuf, BuildRecord), RecordError>> {
        let Ok(entries) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join(BUILD_JSON).is_file())
            .collect();
        dirs.sort();
        dirs.reverse();
        dirs.into_iter().map(|d| load(&d).map(|r| (d, r))).collect()
    }

    /// The expected duration of a build: the median of past successful builds.
    pub fn typical_seconds(&self) -> Option<f64> {
        let mut secs: Vec<f64> = self
            .list()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|(_, r)| r.result == RecordResult::Succeeded)
            .filter_map(|(_, r)| r.seconds)
            .take(20)
            .collect();
        if secs.is_empty() {
            return None;
        }
        secs.sort_by(f64::total_cmp);
        Some(secs[secs.len() / 2])
    }
}

/// Reads one record directory's build.json.
pub fn load(dir: &Path) -> Result<BuildRecord, RecordError> {
    let path = dir.join(BUILD_JSON);
    let text = fs::read_to_string(&path).map_err(io("reading", &path))?;
    serde_json::from_str(&text).map_err(|source| RecordError::Parse { path, source })
}

impl RecordWriter {
    /// The record's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends raw packer lines to packer.log and flushes them.
    pub fn append_raw<'a>(
        &mut self,
        lines: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), RecordError> {
        let path = self.dir.join(PACKER_LOG);
        for line in lines {
            self.log
                .write_all(line.as_bytes())
                .and_then(|()| self.log.write_all(b"\n"))
                .map_err(io("writing", &path))?;
        }
        self.log.flush().map_err(io("writing", &path))
    }

    /// Rewrites build.json atomically (temp file + rename), so a crash never leaves half a file.
    pub fn save(&self) -> Result<(), RecordError> {
        let path = self.dir.join(BUILD_JSON);
        let tmp = self.dir.join(".build.json.tmp");
        let text =
            serde_json::to_string_pretty(&self.record).map_err(|source| RecordError::Parse {
                path: path.clone(),
                source,
            })?;
        fs::write(&tmp, text + "\n").map_err(io("writing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("renaming into", &path))
    }
}
