//! Writing one build's record: [`RecordFile`] appends packer's lines to packer.log and rewrites
//! build.json atomically; [`RecordTask`] does that on its own thread so a slow or full disk
//! never stalls the build session. Write errors come back on a channel: the build goes on.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::{BUILD_JSON, BuildRecord, PACKER_LOG, RecordError, io};

/// A record directory being written.
#[derive(Debug)]
pub struct RecordFile {
    dir: PathBuf,
    log: BufWriter<File>,
    /// The summary, rewritten by [`RecordFile::save`].
    pub record: BuildRecord,
}

impl RecordFile {
    /// Opens packer.log in a fresh directory and writes the first build.json.
    pub fn create(dir: PathBuf, record: BuildRecord) -> Result<RecordFile, RecordError> {
        let log_path = dir.join(PACKER_LOG);
        let log = File::create(&log_path).map_err(io("creating", &log_path))?;
        let file = RecordFile {
            dir,
            log: BufWriter::new(log),
            record,
        };
        file.save()?;
        Ok(file)
    }

    /// The record's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends raw packer lines (its bytes as written, scrubbed) to packer.log and flushes them.
    pub fn append_raw<'a>(
        &mut self,
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), RecordError> {
        let path = self.dir.join(PACKER_LOG);
        for line in lines {
            self.log
                .write_all(line)
                .and_then(|()| self.log.write_all(b"\n"))
                .map_err(io("writing", &path))?;
        }
        self.log.flush().map_err(io("writing", &path))
    }

    /// Rewrites build.json atomically (a temp file of this process, then rename), so a crash
    /// never leaves half a file.
    pub fn save(&self) -> Result<(), RecordError> {
        let path = self.dir.join(BUILD_JSON);
        let tmp = self
            .dir
            .join(format!(".build.json.{}.tmp", std::process::id()));
        let text =
            serde_json::to_string_pretty(&self.record).map_err(|source| RecordError::Parse {
                path: path.clone(),
                cause: source,
            })?;
        fs::write(&tmp, text + "\n").map_err(io("writing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("renaming into", &path))
    }
}

enum Job {
    Lines(Vec<Vec<u8>>),
    Save(Box<BuildRecord>),
}

/// A [`RecordFile`] written on its own thread.
#[derive(Debug)]
pub struct RecordTask {
    dir: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Jobs queued before the session waits for the writer (bounded: memory stays flat).
const QUEUE: usize = 64;

impl RecordTask {
    /// Starts the writer thread. Errors arrive on the returned receiver (each distinct kind of
    /// failure once, so a full disk is reported, not repeated for every line).
    pub fn start(
        file: RecordFile,
    ) -> std::io::Result<(RecordTask, mpsc::UnboundedReceiver<RecordError>)> {
        let (jobs, mut rx) = mpsc::channel::<Job>(QUEUE);
        let (err_tx, err_rx) = mpsc::unbounded_channel();
        let dir = file.dir.clone();
        let thread = std::thread::Builder::new()
            .name("kiln-record".into())
            .spawn(move || {
                let mut file = file;
                let (mut log_failed, mut save_failed) = (false, false);
                while let Some(job) = rx.blocking_recv() {
                    let (result, failed) = match job {
                        Job::Lines(lines) => (
                            file.append_raw(lines.iter().map(Vec::as_slice)),
                            &mut log_failed,
                        ),
                        Job::Save(record) => {
                            file.record = *record;
                            (file.save(), &mut save_failed)
                        }
                    };
                    match result {
                        Err(e) if !*failed => {
                            *failed = true;
                            let _ = err_tx.send(e);
                        }
                        Err(_) => {}
                        Ok(()) => *failed = false,
                    }
                }
            })?;
        Ok((
            RecordTask {
                dir,
                jobs: Some(jobs),
                thread: Some(thread),
            },
            err_rx,
        ))
    }

    /// The record's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues lines for packer.log (waits while the queue is full).
    pub async fn append(&self, lines: Vec<Vec<u8>>) {
        if let Some(j) = &self.jobs {
            let _ = j.send(Job::Lines(lines)).await;
        }
    }

    /// Queues a rewrite of build.json.
    pub async fn save(&self, record: BuildRecord) {
        if let Some(j) = &self.jobs {
            let _ = j.send(Job::Save(Box::new(record))).await;
        }
    }

    /// Writes the final build.json and waits for everything queued to be on disk.
    pub async fn finish(mut self, record: BuildRecord) {
        self.save(record).await;
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BuildRecord, FipsRecord};
    use super::*;

    fn record() -> BuildRecord {
        BuildRecord::started(
            chrono::Utc::now(),
            Path::new("t.pkr.hcl"),
            &[],
            FipsRecord::default(),
            &crate::secrets::Secrets::default(),
        )
    }

    #[tokio::test]
    async fn a_full_disk_is_reported_once_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        // packer.log on a device that is always full.
        std::os::unix::fs::symlink("/dev/full", dir.path().join(PACKER_LOG)).unwrap();
        let file = RecordFile::create(dir.path().to_path_buf(), record()).unwrap();
        let (task, mut errors) = RecordTask::start(file).unwrap();
        for _ in 0..5 {
            task.append(vec![b"line".to_vec(); 1000]).await;
        }
        let mut done = record();
        done.result = super::super::RecordResult::Succeeded;
        task.finish(done).await;
        let first = errors.recv().await.expect("the failure is reported");
        assert!(
            first.to_string().contains("No space left on device"),
            "{first}"
        );
        assert!(
            errors.try_recv().is_err(),
            "reported once, not for every batch"
        );
        // build.json, on a working disk, still got the final record.
        let saved = super::super::load(dir.path()).unwrap();
        assert_eq!(saved.result, super::super::RecordResult::Succeeded);
    }
}
