//! The audit file of image deletes, `$XDG_STATE_HOME/kiln/audit.jsonl`: one JSON object a line,
//! appended and fsync'd before the next step, so a kiln killed between two deletes (or during
//! one) leaves a file that says exactly what was done. A delete is written as `started` before
//! the call and as its result after it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::retention::Reason;

/// Who deletes, where: the same for every entry of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The OS user running kiln.
    pub user: String,
    /// The cloud (auth URL and project, no secrets).
    pub cloud: String,
}

/// What happened to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The delete call is about to be made.
    Started,
    /// Glance deleted it.
    Deleted,
    /// The delete call failed (this error), yet the image is gone when asked afterwards: Glance
    /// deleted it and the answer was lost. Written as `deleted`, the error as its detail.
    DeletedDespite(String),
    /// It was no longer eligible when re-checked (or is gone): not deleted.
    Skipped(String),
    /// The delete failed.
    Failed(String),
}

impl Entry {
    fn result(&self) -> &'static str {
        match self {
            Entry::Started => "started",
            Entry::Deleted | Entry::DeletedDespite(_) => "deleted",
            Entry::Skipped(_) => "skipped",
            Entry::Failed(_) => "failed",
        }
    }
}

/// Errors writing the audit file. A delete is never made without its `started` line on disk.
#[derive(Debug, thiserror::Error)]
#[error("audit file {path}: {cause}")]
pub struct AuditError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub cause: std::io::Error,
}

/// The audit file, open for appending.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
}

impl AuditLog {
    /// Opens (creating) the file, its directory too.
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let err = |cause| AuditError {
            path: path.to_path_buf(),
            cause,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        crate::settings::files::ensure_regular(path).map_err(err)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and waits until it is on disk.
    pub fn append(
        &mut self,
        at: DateTime<Utc>,
        actor: &Actor,
        image: (&str, &str),
        reasons: &[Reason],
        entry: &Entry,
    ) -> Result<(), AuditError> {
        let detail = match entry {
            Entry::Skipped(d) | Entry::Failed(d) | Entry::DeletedDespite(d) => Some(d.as_str()),
            _ => None,
        };
        let line = json!({
            "time": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "user": actor.user,
            "cloud": actor.cloud,
            "image_id": image.0,
            "image_name": image.1,
            "reasons": reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "result": entry.result(),
            "detail": detail,
        });
        let err = |cause| AuditError {
            path: self.path.clone(),
            cause,
        };
        self.file
            .write_all(format!("{line}\n").as_bytes())
            .map_err(err)?;
        self.file.sync_data().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_appended_one_json_object_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/kiln/audit.jsonl");
        let actor = Actor {
            user: "op".into(),
            cloud: "http://keystone/v3 project platform".into(),
        };
        let at = Utc::now();
        let mut log = AuditLog::open(&path).unwrap();
        log.append(
            at,
            &actor,
            ("id-1", "rke2-node-v1.28-20260101"),
            &[],
            &Entry::Started,
        )
        .unwrap();
        log.append(
            at,
            &actor,
            ("id-1", "rke2-node-v1.28-20260101"),
            &[],
            &Entry::Deleted,
        )
        .unwrap();
        drop(log);
        let mut log = AuditLog::open(&path).unwrap();
        log.append(
            at,
            &actor,
            ("id-2", "x"),
            &[Reason::InUse],
            &Entry::Skipped("now in use".into()),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "reopening appends");
        assert_eq!(lines[1]["result"], "deleted");
        assert_eq!(lines[2]["reasons"][0], "in_use");
        assert_eq!(lines[2]["detail"], "now in use");
        assert_eq!(lines[0]["user"], "op");
    }
}
