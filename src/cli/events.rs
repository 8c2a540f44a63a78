//! Headless build output for CI and cron: events as plain progress lines or JSON lines (one
//! object a line). The printer keeps only the stage names, never a copy of the log.

use std::io::Write;

use crate::bake::events::{BuildEvent, StageStatus, Stream};
use crate::bake::plan::StagePlan;
use crate::bake::session::Sink;

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

impl<W: Write + Send> Sink for EventPrinter<W> {
    async fn deliver(&mut self, events: Vec<BuildEvent>) {
        if !self.closed && self.print(&events).is_err() {
            self.closed = true;
        }
    }
}
