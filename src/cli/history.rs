//! `kiln history`: past builds as a table or a JSON array.

use std::io::Write;

use anyhow::Context;

use crate::bake::record::{BuildRecord, RecordError, RecordStore};
use crate::settings::Settings;

use super::args::HistoryArgs;

/// `kiln history [--json]`.
pub fn run(settings: &Settings, args: &HistoryArgs) -> anyhow::Result<i32> {
    let store = RecordStore::new(settings.paths.builds_dir());
    let records = store.list().context("could not read the build records")?;
    print_history(&mut std::io::stdout(), &records, args.json).context("writing the history")?;
    Ok(0)
}

/// Prints the build history.
pub fn print_history(
    out: &mut dyn Write,
    records: &[Result<(std::path::PathBuf, BuildRecord), RecordError>],
    json: bool,
) -> std::io::Result<()> {
    if json {
        let list: Vec<serde_json::Value> = records
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|(dir, rec)| {
                let mut v = serde_json::to_value(rec).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("dir".into(), dir.display().to_string().into());
                }
                v
            })
            .collect();
        return writeln!(out, "{}", serde_json::Value::Array(list));
    }
    if records.is_empty() {
        return writeln!(out, "no builds recorded yet");
    }
    writeln!(
        out,
        "{:<22} {:<10} {:>8}  {:<5} {:<28} IMAGE ID",
        "STARTED (UTC)", "RESULT", "TIME", "FIPS", "IMAGE"
    )?;
    for r in records {
        match r {
            Ok((_, rec)) => {
                let fips = match (rec.fips.requested, rec.fips.validated) {
                    (false, _) => "-",
                    (true, true) => "yes",
                    (true, false) => "UNVAL",
                };
                writeln!(
                    out,
                    "{:<22} {:<10} {:>8}  {:<5} {:<28} {}",
                    rec.started_at.format("%Y-%m-%d %H:%M:%S"),
                    rec.result.as_str(),
                    rec.seconds
                        .map_or_else(|| "-".into(), crate::format::duration),
                    fips,
                    rec.image_name.as_deref().unwrap_or("-"),
                    rec.image_id.as_deref().unwrap_or("-"),
                )?;
            }
            Err(e) => writeln!(out, "(unreadable) {e}")?,
        }
    }
    Ok(())
}
