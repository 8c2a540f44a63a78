//! The History view's work: reading the build records, and a packer.log, off the UI thread.

use super::{Event, HistoryEffect, Loaded};
use crate::app::executor::Exec;
use crate::bake::record::RecordStore;

/// Runs one of the History view's effects.
pub fn run(effect: HistoryEffect, exec: &mut Exec) {
    match effect {
        HistoryEffect::Load => {
            let store = RecordStore::new(exec.settings.paths.builds_dir());
            let tx = exec.sender();
            tokio::task::spawn_blocking(move || {
                let loaded = match store.list() {
                    Ok(records) => {
                        let typical = crate::bake::record::typical_seconds(&records);
                        let stages = crate::bake::record::typical_stage_seconds(&records);
                        let bad = records.iter().filter(|r| r.is_err()).count();
                        log::debug!(target: "kiln::history", "{} build records in {} ({bad} unreadable)", records.len(), store.root().display());
                        Ok(Loaded {
                            entries: records
                                .into_iter()
                                .map(|r| r.map_err(|e| e.to_string()))
                                .collect(),
                            typical,
                            stages,
                        })
                    }
                    Err(e) => {
                        log::warn!(target: "kiln::history", "{e}");
                        Err(format!("could not read the records: {e}"))
                    }
                };
                let _ = tx.blocking_send(Event::Loaded(loaded).into());
            });
        }
        HistoryEffect::ReadLog(path) => {
            let tx = exec.sender();
            tokio::task::spawn_blocking(move || {
                let read = super::pager::read_tail(&path)
                    .map_err(|e| format!("could not read {}: {e}", path.display()));
                let _ = tx.blocking_send(Event::LogRead(path, read).into());
            });
        }
    }
}
