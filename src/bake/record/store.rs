//! The directory of build records: creating a record's directory (atomically, so two builds
//! started in the same second never share one), listing records newest first, and the typical
//! build time for the ETA.

use std::fs;
use std::path::{Path, PathBuf};

use super::writer::RecordFile;
use super::{BUILD_JSON, BuildRecord, RecordError, RecordResult, io};

/// Every record found: each a directory and its build.json, or why it could not be read.
pub type Listing = Vec<Result<(PathBuf, BuildRecord), RecordError>>;

/// The directory all records live in.
#[derive(Debug, Clone)]
pub struct RecordStore {
    root: PathBuf,
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

    /// Creates the directory for a new build (`<stamp>-<image>`, then `-2`, `-3`, ... when taken:
    /// `create_dir` fails on an existing directory, so the claim is atomic) and writes the first
    /// build.json.
    pub fn create(&self, record: BuildRecord, image_name: &str) -> Result<RecordFile, RecordError> {
        fs::create_dir_all(&self.root).map_err(io("creating", &self.root))?;
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
        let mut n = 1;
        let dir = loop {
            let name = if n == 1 {
                format!("{stamp}-{safe}")
            } else {
                format!("{stamp}-{safe}-{n}")
            };
            let dir = self.root.join(name);
            match fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => n += 1,
                Err(e) => return Err(io("creating", &dir)(e)),
            }
        };
        RecordFile::create(dir, record)
    }

    /// Every record, newest first; unreadable ones are errors in place. A store that does not
    /// exist yet has no records; one that cannot be read is an error.
    pub fn list(&self) -> Result<Listing, RecordError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading", &self.root)(e)),
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join(BUILD_JSON).is_file())
            .collect();
        dirs.sort();
        dirs.reverse();
        Ok(dirs.into_iter().map(|d| load(&d).map(|r| (d, r))).collect())
    }
}

/// The expected duration of a build: the median of the last 20 successful builds.
pub fn typical_seconds(records: &[Result<(PathBuf, BuildRecord), RecordError>]) -> Option<f64> {
    let mut secs: Vec<f64> = records
        .iter()
        .filter_map(|r| r.as_ref().ok())
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

/// The typical time of each stage: the median over the last 20 successful builds that ran it.
pub fn typical_stage_seconds(
    records: &[Result<(PathBuf, BuildRecord), RecordError>],
) -> std::collections::BTreeMap<String, f64> {
    let mut times: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for (_, r) in records
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|(_, r)| r.result == RecordResult::Succeeded)
        .take(20)
    {
        for s in &r.stages {
            if let Some(secs) = s.seconds {
                times.entry(s.name.clone()).or_default().push(secs);
            }
        }
    }
    times
        .into_iter()
        .map(|(name, mut v)| {
            v.sort_by(f64::total_cmp);
            (name, v[v.len() / 2])
        })
        .collect()
}

/// Reads one record directory's build.json.
pub fn load(dir: &Path) -> Result<BuildRecord, RecordError> {
    let path = dir.join(BUILD_JSON);
    let text = fs::read_to_string(&path).map_err(io("reading", &path))?;
    serde_json::from_str(&text).map_err(|source| RecordError::Parse {
        path,
        cause: source,
    })
}

#[cfg(test)]
mod tests {
    use super::super::FipsRecord;
    use super::*;
    use chrono::TimeZone;

    fn record(at: i64) -> BuildRecord {
        BuildRecord::started(
            chrono::Utc.timestamp_opt(at, 0).single().unwrap(),
            Path::new("t.pkr.hcl"),
            &[],
            FipsRecord::default(),
            &crate::secrets::Secrets::default(),
        )
    }

    #[test]
    fn two_builds_in_the_same_second_get_two_directories() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecordStore::new(dir.path().join("builds"));
        let a = store
            .create(record(1_800_000_000), "rke2-node-v1.28-x")
            .unwrap();
        let b = store
            .create(record(1_800_000_000), "rke2-node-v1.28-x")
            .unwrap();
        assert_ne!(a.dir(), b.dir());
        assert!(b.dir().display().to_string().ends_with("-2"));
        assert_eq!(store.list().unwrap().len(), 2);
    }

    #[test]
    fn a_missing_store_is_empty_and_an_unreadable_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            RecordStore::new(dir.path().join("none"))
                .list()
                .unwrap()
                .is_empty()
        );
        let file = dir.path().join("a-file");
        fs::write(&file, b"not a directory").unwrap();
        let err = RecordStore::new(&file).list().unwrap_err().to_string();
        assert!(err.contains("a-file"), "{err}");
    }

    #[test]
    fn typical_time_is_the_median_of_successes() {
        let ok = |s: f64| {
            let mut r = record(0);
            r.result = RecordResult::Succeeded;
            r.seconds = Some(s);
            Ok((PathBuf::from("x"), r))
        };
        let mut failed = record(0);
        failed.result = RecordResult::Failed;
        failed.seconds = Some(1.0);
        let list = vec![
            ok(700.0),
            Ok((PathBuf::from("y"), failed)),
            ok(900.0),
            ok(800.0),
        ];
        assert_eq!(typical_seconds(&list), Some(800.0));
        assert_eq!(typical_seconds(&[]), None);
    }
}
