//! Headless output for CI and cron: build events as plain progress lines or JSON lines, and the
//! preflight checklist and history as text or JSON. Writers are passed in so tests capture them.

use std::io::Write;

use crate::build::events::{BuildEvent, StageStatus, Stream};
use crate::build::preflight::{CheckStatus, PreflightReport};
use crate::build::record::{BuildRecord, RecordError};
use crate::build::state::BuildState;

/// Prints build events as they come.
pub struct EventPrinter<W: Write> {
    out: W,
    json: bool,
    /// Stage names by id (grows with added stages).
    pub state: BuildState,
}

impl<W: Write> EventPrinter<W> {
    /// A printer over a state that knows the stage names.
    pub fn new(out: W, json: bool, state: BuildState) -> Self {
        EventPrinter { out, json, state }
    }

    /// Prints a batch. Write errors (a closed pipe) are returned so the caller can stop.
    pub fn print(&mut self, events: &[BuildEvent]) -> std::io::Result<()> {
        for e in events {
            self.state.apply(e);
            let name = |id: usize| {
                self.state
                    .stages
                    .get(id)
                    .map_or_else(|| "?".to_string(), |s| s.name.clone())
            };
            if self.json {
                if let Some(v) = e.to_json(&name) {
                    writeln!(self.out, "{v}")?;
                }
                continue;
            }
            match e {
                BuildEvent::StageStarted { stage, at } => {
                    writeln!(
                        self.out,
                        "==> {} started at {}",
                        name(*stage),
                        at.format("%H:%M:%S")
                    )?;
                }
                BuildEvent::StageFinished {
                    stage,
                    status,
                    seconds,
                } => {
                    let mark = if *status == StageStatus::Ok {
                        "ok"
                    } else {
                        status.as_str()
                    };
                    writeln!(self.out, "==> {} {mark} ({seconds:.1}s)", name(*stage))?;
                }
                BuildEvent::Log {
                    stage,
                    stream,
                    line,
                } => {
                    let tag = if *stream == Stream::Err { "!" } else { " " };
                    writeln!(self.out, "  {}{tag} {line}", name(*stage))?;
                }
                BuildEvent::Progress {
                    stage,
                    done,
                    total,
                    label,
                } => {
                    writeln!(
                        self.out,
                        "  {} progress {done}/{total} {label}",
                        name(*stage)
                    )?;
                }
                BuildEvent::Warning { stage, message } => {
                    writeln!(self.out, "  {} WARNING {message}", name(*stage))?;
                }
                BuildEvent::Finished(o) => {
                    writeln!(self.out, "build {} in {:.1}s", o.status.as_str(), o.seconds)?;
                    if let Some(n) = &o.image_name {
                        writeln!(self.out, "image: {n}")?;
                    }
                    if let Some(id) = &o.image_id {
                        writeln!(self.out, "image id: {id}")?;
                    }
                    if let Some(s) = o.failed_stage {
                        writeln!(self.out, "failed stage: {}", name(s))?;
                        for l in &o.explanation {
                            writeln!(self.out, "  {l}")?;
                        }
                    }
                }
                BuildEvent::StageAdded { .. }
                | BuildEvent::ImageName(_)
                | BuildEvent::ImageId(_) => {}
            }
        }
        self.out.flush()
    }
}

/// Prints the preflight checklist.
pub fn print_preflight(
    out: &mut dyn Write,
    report: &PreflightReport,
    json: bool,
) -> std::io::Result<()> {
    if json {
        let v = serde_json::json!({ "passed": report.passed(), "checks": report.checks });
        return writeln!(out, "{v}");
    }
    for c in &report.checks {
        let mark = match c.status {
            CheckStatus::Ok => "ok  ",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
        };
        writeln!(out, "{mark} {:<40} {}", c.name, c.detail)?;
        if let Some(fix) = &c.fix {
            writeln!(out, "     {:<40} fix: {fix}", "")?;
        }
    }
    let failed = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .count();
    writeln!(
        out,
        "{}",
        if failed == 0 {
            "preflight passed".to_string()
        } else {
            format!("preflight failed: {failed} check(s)")
        }
    )
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
