//! Headless build output for CI and cron: events as plain progress lines or JSON lines (one
//! object a line). The printer keeps only the stage names, never a copy of the log. Every run
//! ends with one `build_finished`, also when the build never started (preflight, FIPS, packer
//! missing). Plain output is stripped of terminal escapes and prints each progress and warning
//! once.

use std::io::Write;

use crate::bake::events::{BuildEvent, StageStatus, Stream};
use crate::bake::plan::StagePlan;
use crate::bake::preflight::PreflightReport;
use crate::bake::script_output::{ScriptLine, classify};
use crate::bake::session::{RECORD_WARNING, Sink};
use crate::format::plain;

/// Prints build events as they come.
pub struct EventPrinter<W: Write> {
    out: W,
    json: bool,
    /// Stage names by id (grows with added stages).
    names: Vec<String>,
    /// Set once writing failed (a closed pipe): the build goes on, the output stops.
    closed: bool,
}

impl<W: Write> EventPrinter<W> {
    /// A printer that names stages from `plan`.
    pub fn new(out: W, json: bool, plan: &StagePlan) -> Self {
        EventPrinter {
            out,
            json,
            names: (0..plan.len()).map(|i| plan.name(i).to_string()).collect(),
            closed: false,
        }
    }

    /// Prints a batch. Write errors (a closed pipe) are returned so the caller can stop.
    pub fn print(&mut self, events: &[BuildEvent]) -> std::io::Result<()> {
        for e in events {
            if let BuildEvent::StageAdded { stage, name } = e {
                if self.names.len() <= *stage {
                    self.names.resize(*stage + 1, "?".to_string());
                }
                self.names[*stage] = name.clone();
            }
            let names = &self.names;
            let name = |id: usize| names.get(id).cloned().unwrap_or_else(|| "?".to_string());
            if self.json {
                if let Some(v) = e.to_json(&name) {
                    writeln!(self.out, "{v}")?;
                }
                // A record that cannot be written is told on stderr too: stdout may be a pipe
                // that nobody reads until the end.
                if let BuildEvent::Warning { message, .. } = e
                    && message.starts_with(RECORD_WARNING)
                {
                    eprintln!("kiln: warning: {}", plain(message));
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
                    // `kiln:progress` and `kiln:warn` lines print once, as progress / WARNING.
                    if classify(line) == ScriptLine::Plain {
                        let tag = if *stream == Stream::Err { "!" } else { " " };
                        writeln!(self.out, "  {}{tag} {}", name(*stage), plain(line))?;
                    }
                }
                BuildEvent::Progress {
                    stage,
                    done,
                    total,
                    label,
                } => {
                    writeln!(
                        self.out,
                        "  {} progress {done}/{total} {}",
                        name(*stage),
                        plain(label)
                    )?;
                }
                BuildEvent::Warning { stage, message } => {
                    writeln!(self.out, "  {} WARNING {}", name(*stage), plain(message))?;
                }
                BuildEvent::Finished(o) => {
                    writeln!(self.out, "build {} in {:.1}s", o.status.as_str(), o.seconds)?;
                    if let Some(n) = &o.image_name {
                        writeln!(self.out, "image: {}", plain(n))?;
                    }
                    if let Some(id) = &o.image_id {
                        writeln!(self.out, "image id: {}", plain(id))?;
                    }
                    if let Some(s) = o.failed_stage {
                        writeln!(self.out, "failed stage: {}", name(s))?;
                    }
                    for l in &o.explanation {
                        writeln!(self.out, "  {}", plain(l))?;
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

impl<W: Write> EventPrinter<W> {
    /// The checklist as one `preflight` event (JSON mode only; plain mode prints the checklist).
    pub fn preflight(&mut self, report: &PreflightReport) -> std::io::Result<()> {
        if self.json {
            let v = serde_json::json!({ "event": "preflight", "checks": report.checks });
            writeln!(self.out, "{v}")?;
        }
        self.out.flush()
    }

    /// The end of a build that never started: `build_finished` with status `failed`.
    pub fn never_started(
        &mut self,
        failed_stage: Option<&str>,
        error: &str,
    ) -> std::io::Result<()> {
        if self.json {
            let v = serde_json::json!({
                "event": "build_finished",
                "status": "failed",
                "image_id": null,
                "image_name": null,
                "failed_stage": failed_stage,
                "error": error,
                "seconds": 0.0,
            });
            writeln!(self.out, "{v}")?;
        } else {
            writeln!(self.out, "build failed: {}", plain(error))?;
        }
        self.out.flush()
    }
}

impl<W: Write + Send> Sink for EventPrinter<W> {
    async fn deliver(&mut self, events: Vec<BuildEvent>) {
        if !self.closed && self.print(&events).is_err() {
            self.closed = true;
        }
    }
}
