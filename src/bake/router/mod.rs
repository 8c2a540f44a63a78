//! The router that attributes every packer line to a stage and turns lines into
//! [`BuildEvent`]s: stage changes from packer's own announcements, progress and warnings from
//! the scripts' `kiln:` lines (and packer's own `Warning:`s), and the build's outcome once packer
//! exits (`explain` keeps the lines that explain a failure).

mod explain;

use chrono::{DateTime, Utc};

use super::events::{BuildEvent, BuildOutcome, BuildStatus, StageId, StageStatus, Stream};
use super::machine_readable::{Record, UiLevel, parse_line};
use super::plan::{LAUNCH, SNAPSHOT, StagePlan, UPLOAD, stage_name_for_script};
use super::script_output::{ScriptLine, classify};
use crate::clock::seconds_between;
use explain::Explanation;

/// What checking a cancelled build's leftovers means, when packer could not finish its cleanup.
pub const CLEANUP_HINT: &str = "packer's cleanup may be incomplete: look for servers and keypairs named packer_* in the project (openstack server list --name packer_; openstack keypair list)";

/// Turns packer lines into build events, tracking the current stage.
#[derive(Debug)]
pub struct StageRouter {
    plan: StagePlan,
    status: Vec<StageStatus>,
    started_at: Vec<Option<DateTime<Utc>>>,
    current: Option<StageId>,
    build_started: DateTime<Utc>,
    /// A line of the build itself (`==> openstack.rke2: ...`) was seen: packer got past the
    /// template.
    build_seen: bool,
    image_name: Option<String>,
    image_id: Option<String>,
    artifact_builder: Option<String>,
    errored: bool,
    cancelled: bool,
    failed_stage: Option<StageId>,
    explanation: Explanation,
    finished: bool,
}

/// How kiln ended the build, for [`StageRouter::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ending {
    /// packer's exit code, or None when a signal ended it.
    pub exit_code: Option<i32>,
    /// kiln asked packer to cancel.
    pub cancel_requested: bool,
    /// kiln had to escalate (SIGTERM or SIGKILL): packer's cleanup may be incomplete.
    pub escalated: bool,
}

impl StageRouter {
    /// A router for a plan, with the build starting at `start`.
    pub fn new(plan: StagePlan, start: DateTime<Utc>) -> Self {
        let n = plan.len();
        StageRouter {
            plan,
            status: vec![StageStatus::Pending; n],
            started_at: vec![None; n],
            current: None,
            build_started: start,
            build_seen: false,
            image_name: None,
            image_id: None,
            artifact_builder: None,
            errored: false,
            cancelled: false,
            failed_stage: None,
            explanation: Explanation::default(),
            finished: false,
        }
    }

    /// The stage under way, if any.
    pub fn current(&self) -> Option<StageId> {
        self.current
    }

    /// The plan, including stages discovered so far.
    pub fn plan(&self) -> &StagePlan {
        &self.plan
    }

    /// Routes one line from packer's stdout.
    pub fn route_stdout(&mut self, raw: &str, at: DateTime<Utc>, out: &mut Vec<BuildEvent>) {
        let line = parse_line(raw);
        match line.record {
            Record::Ui { level, text } => self.route_ui(level, &text, at, out),
            Record::Artifact { key, value, .. } => {
                let value = value.into_owned();
                match key {
                    "builder-id" => self.artifact_builder = Some(value),
                    "id" if !self.artifact_is_null() => {
                        self.enter(SNAPSHOT, at, out);
                        self.image_id = Some(value.clone());
                        out.push(BuildEvent::ImageId(value));
                    }
                    _ => {}
                }
            }
            Record::Error(text) => {
                self.errored = true;
                self.explanation.packer_error(&text);
            }
            Record::ErrorCount(n) if n > 0 => self.errored = true,
            Record::ArtifactCount(_) | Record::ErrorCount(_) => {}
            Record::Other { kind, data } => {
                // A type this kiln does not know: kept as a log line, never dropped.
                let stage = self.ensure_stage(at, out);
                out.push(BuildEvent::Log {
                    stage,
                    stream: Stream::Out,
                    line: format!("{kind},{data}"),
                });
            }
            Record::Unparsed(text) => {
                let stage = self.ensure_stage(at, out);
                self.explanation.stage_line(text);
                // A plugin crash banner is the whole story of the failure: keep it.
                if text.contains("PACKER CRASH") || text.starts_with("panic:") {
                    self.errored = true;
                    self.explanation.packer_error(text);
                }
                out.push(BuildEvent::Log {
                    stage,
                    stream: Stream::Out,
                    line: text.to_string(),
                });
            }
        }
    }

    /// Routes one line packer wrote to its stderr (rare: packer writes errors to stdout too).
    pub fn route_stderr(&mut self, raw: &str, at: DateTime<Utc>, out: &mut Vec<BuildEvent>) {
        let stage = self.ensure_stage(at, out);
        self.explanation.stage_line(raw);
        out.push(BuildEvent::Log {
            stage,
            stream: Stream::Err,
            line: raw.to_string(),
        });
    }

    fn artifact_is_null(&self) -> bool {
        self.artifact_builder
            .as_deref()
            .is_some_and(|b| b.contains("null"))
    }

    fn route_ui(
        &mut self,
        level: UiLevel,
        text: &str,
        at: DateTime<Utc>,
        out: &mut Vec<BuildEvent>,
    ) {
        if level != UiLevel::Message {
            self.observe_step(text, at, out);
        }
        let stage = self.ensure_stage(at, out);
        let stream = if level == UiLevel::Error {
            Stream::Err
        } else {
            Stream::Out
        };
        let mut first = true;
        for piece in text.split('\n') {
            let prefixed = build_prefixed(piece);
            self.build_seen |= prefixed;
            let shown = strip_build_prefix(if first {
                piece
            } else {
                piece.trim_start_matches(' ')
            });
            let shown = shown.rsplit('\r').next().unwrap_or(shown);
            first = false;
            // `\n==> Wait completed`: the empty piece is packer's spacing, not a script line.
            if shown.is_empty() && text.contains('\n') {
                continue;
            }
            if stream == Stream::Err {
                self.explanation.stage_line(shown);
            }
            match classify(shown) {
                ScriptLine::Progress { done, total, label } => out.push(BuildEvent::Progress {
                    stage,
                    done,
                    total,
                    label: label.to_string(),
                }),
                ScriptLine::Warning(message) => out.push(BuildEvent::Warning {
                    stage,
                    message: message.to_string(),
                }),
                ScriptLine::Plain => {
                    // Packer's own warnings (its announcements, never a script's stderr).
                    if level == UiLevel::Say
                        && let Some(message) = packer_warning(shown)
                    {
                        out.push(BuildEvent::Warning {
                            stage,
                            message: message.to_string(),
                        });
                    }
                }
            }
            out.push(BuildEvent::Log {
                stage,
                stream,
                line: shown.to_string(),
            });
        }
    }

    /// Looks at packer's own announcements for stage changes and the build's end.
    fn observe_step(&mut self, text: &str, at: DateTime<Utc>, out: &mut Vec<BuildEvent>) {
        let body = strip_build_prefix(text);
        if let Some(path) = body
            .strip_prefix("Provisioning with shell script: ")
            .or_else(|| body.strip_prefix("Running local shell script: "))
        {
            let name = stage_name_for_script(path);
            // Inline scripts (`/tmp/packer-shell123`) belong to the stage they run in.
            if !name.starts_with("packer-shell") {
                if self.plan.id(&name).is_none() {
                    let id = self.plan.insert_before_snapshot(&name);
                    self.status.push(StageStatus::Pending);
                    self.started_at.push(None);
                    out.push(BuildEvent::StageAdded {
                        stage: id,
                        name: name.clone(),
                    });
                }
                self.enter(&name, at, out);
            }
        } else if body.starts_with("Uploading ") && body.contains(" => ") {
            self.enter(UPLOAD, at, out);
        } else if let Some(name) = body.strip_prefix("Creating the image: ") {
            self.enter(SNAPSHOT, at, out);
            let name = name.trim().to_string();
            self.image_name = Some(name.clone());
            out.push(BuildEvent::ImageName(name));
        } else if body.starts_with("Stopping server") || body.starts_with("Waiting for image") {
            self.enter(SNAPSHOT, at, out);
        } else if body.starts_with("Provisioning step had errors") {
            // Cleanup (server termination) follows; the failure belongs to the stage running now.
            self.failed_stage = self.failed_stage.or(self.current);
        } else if body.contains("Cleanly cancelled builds after being interrupted") {
            self.cancelled = true;
        } else if text.starts_with("Build '") && text.contains("' errored") {
            self.errored = true;
            self.failed_stage = self.failed_stage.or(self.current);
            self.explanation.packer_error(text);
        }
    }

    fn ensure_stage(&mut self, at: DateTime<Utc>, out: &mut Vec<BuildEvent>) -> StageId {
        match self.current {
            Some(stage) => stage,
            None => self.enter(LAUNCH, at, out),
        }
    }

    /// Makes `name` the current stage, finishing the previous one as ok.
    fn enter(&mut self, name: &str, at: DateTime<Utc>, out: &mut Vec<BuildEvent>) -> StageId {
        let Some(id) = self.plan.id(name) else {
            return self.current.unwrap_or(0);
        };
        if self.current == Some(id) || self.finished || self.failed_stage.is_some() {
            return self.current.unwrap_or(id);
        }
        if let Some(prev) = self.current {
            self.close(prev, StageStatus::Ok, at, out);
        }
        self.status[id] = StageStatus::Running;
        self.started_at[id] = Some(at);
        self.current = Some(id);
        self.explanation.new_stage(name);
        out.push(BuildEvent::StageStarted { stage: id, at });
        id
    }

    fn close(
        &mut self,
        stage: StageId,
        status: StageStatus,
        at: DateTime<Utc>,
        out: &mut Vec<BuildEvent>,
    ) {
        if self.status[stage] != StageStatus::Running {
            return;
        }
        self.status[stage] = status;
        let seconds = self.started_at[stage].map_or(0.0, |s| seconds_between(s, at));
        out.push(BuildEvent::StageFinished {
            stage,
            status,
            seconds,
        });
    }

    /// Ends the build once packer has exited.
    pub fn finish(
        &mut self,
        ending: Ending,
        at: DateTime<Utc>,
        out: &mut Vec<BuildEvent>,
    ) -> BuildOutcome {
        let exit_code = ending.exit_code;
        let no_image = exit_code == Some(0)
            && !self.errored
            && self.image_id.is_none()
            && !self.artifact_is_null();
        let status = if self.cancelled || (ending.cancel_requested && exit_code != Some(0)) {
            BuildStatus::Cancelled
        } else if exit_code == Some(0) && !self.errored && !no_image {
            BuildStatus::Succeeded
        } else {
            BuildStatus::Failed
        };
        // Packer failed before any build step: the template (or a variable) is at fault.
        let template_error = status == BuildStatus::Failed && !self.build_seen && !no_image;
        let failed_stage = match status {
            BuildStatus::Succeeded => None,
            _ if template_error => None,
            _ => self.failed_stage.or(self.current),
        };
        if let Some(current) = self.current {
            let stage_status = match status {
                BuildStatus::Succeeded => StageStatus::Ok,
                BuildStatus::Cancelled => StageStatus::Cancelled,
                BuildStatus::Failed => StageStatus::Failed,
            };
            self.close(current, stage_status, at, out);
        }
        for s in self.status.iter_mut() {
            if *s == StageStatus::Pending {
                *s = StageStatus::Skipped;
            }
        }
        let mut explanation = Vec::new();
        if status == BuildStatus::Failed {
            explanation = self.explanation.lines();
            if no_image {
                explanation.push("packer exited 0 but reported no image (no artifact id): the build made nothing to boot from".into());
            } else if let Some(code) = exit_code.filter(|c| *c != 0) {
                explanation.push(format!("packer exited with status {code}"));
            } else if exit_code.is_none() {
                explanation.push("packer was killed by a signal".to_string());
            }
        }
        if status == BuildStatus::Cancelled && ending.escalated {
            explanation.push(CLEANUP_HINT.to_string());
        }
        let error = match status {
            BuildStatus::Succeeded => None,
            BuildStatus::Cancelled if ending.escalated => {
                Some(format!("cancelled; {CLEANUP_HINT}"))
            }
            BuildStatus::Cancelled => Some("cancelled".to_string()),
            BuildStatus::Failed if no_image => explanation.last().cloned(),
            BuildStatus::Failed => {
                // the failed script's own verdict (`<stage>: why`), else the first line that
                // explains the failure
                let first = self
                    .explanation
                    .verdict()
                    .filter(|_| failed_stage.is_some())
                    .or_else(|| {
                        explanation
                            .iter()
                            .find(|l| !l.trim().is_empty())
                            .map(String::as_str)
                    })
                    .map(|l| l.lines().next().unwrap_or(l).trim().to_string())
                    .unwrap_or_else(|| "packer failed".to_string());
                Some(if template_error {
                    format!("template error: {first}")
                } else {
                    first
                })
            }
        };
        self.finished = true;
        let outcome = BuildOutcome {
            status,
            image_id: self.image_id.clone(),
            image_name: self.image_name.clone(),
            failed_stage,
            explanation,
            error,
            seconds: seconds_between(self.build_started, at),
        };
        out.push(BuildEvent::Finished(outcome.clone()));
        outcome
    }

    /// The status of each stage, by id.
    pub fn statuses(&self) -> &[StageStatus] {
        &self.status
    }
}

/// `Warning: ...` in packer's own announcements.
fn packer_warning(body: &str) -> Option<&str> {
    let lower = body.get(..8)?.to_ascii_lowercase();
    (lower == "warning:").then(|| body[8..].trim())
}

/// True for `==> build.name: ...` and `    build.name: ...`: a line of a build, not of packer's
/// template handling.
fn build_prefixed(text: &str) -> bool {
    let rest = text
        .strip_prefix("==> ")
        .or_else(|| text.strip_prefix("--> "))
        .unwrap_or_else(|| text.trim_start_matches(' '));
    let name = rest.split(':').next().unwrap_or("");
    rest.contains(':')
        && !name.is_empty()
        && !name.contains(char::is_whitespace)
        && name.contains('.')
}

/// Strips packer's `==> build.name: ` or `    build.name: ` prefix from a ui line.
pub fn strip_build_prefix(text: &str) -> &str {
    let rest = text
        .strip_prefix("==> ")
        .or_else(|| text.strip_prefix("--> "))
        .unwrap_or_else(|| text.trim_start_matches(' '));
    match rest.split_once(": ") {
        Some((name, body))
            if !name.is_empty() && !name.contains(char::is_whitespace) && name.contains('.') =>
        {
            body
        }
        _ => {
            // `    build.name:` with nothing after it (an empty script line).
            match rest.strip_suffix(':') {
                Some(name) if !name.contains(char::is_whitespace) && name.contains('.') => "",
                _ => rest,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(
            strip_build_prefix("==> openstack.rke2: Launching server..."),
            "Launching server..."
        );
        assert_eq!(
            strip_build_prefix("    openstack.rke2: hello: world"),
            "hello: world"
        );
        assert_eq!(strip_build_prefix("    null.rke2:"), "");
        assert_eq!(
            strip_build_prefix("Build 'x' errored: y"),
            "Build 'x' errored: y"
        );
    }
}
