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
        "{:<19}  {:<9}  {:>9}  {:<5}  {:<28}  {:<36}  REASON",
        "STARTED (UTC)", "RESULT", "TIME", "FIPS", "IMAGE", "IMAGE ID"
    )?;
    for r in records {
        match r {
            Ok((_, rec)) => {
                let line = format!(
                    "{:<19}  {:<9}  {:>9}  {:<5}  {:<28}  {:<36}  {}",
                    rec.started_at.format("%Y-%m-%d %H:%M:%S"),
                    rec.result.as_str(),
                    rec.seconds
                        .map_or_else(|| "-".into(), crate::format::duration),
                    rec.fips_label(),
                    rec.image_name.as_deref().unwrap_or("-"),
                    rec.image_id.as_deref().unwrap_or("-"),
                    rec.reason().unwrap_or_default(),
                );
                // Records hold text from packer and its scripts: no escapes reach the terminal.
                writeln!(out, "{}", crate::format::plain(line.trim_end()))?;
            }
            Err(e) => writeln!(out, "(unreadable) {}", crate::format::plain(&e.to_string()))?,
        }
    }
    Ok(())
}
