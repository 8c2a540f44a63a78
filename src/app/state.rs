//! The console's state and its update function: keys and background events go in, state changes
//! and [`Effect`]s (work for the event loop) come out. No I/O here, so it is driven directly by
//! tests and snapshot tests.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keymap::{Action, View, action_for};
use crate::build::events::{BuildEvent, BuildOutcome, StageId};
use crate::build::fips::ProVerdict;
use crate::build::preflight::PreflightReport;
use crate::build::record::{BuildRecord, FipsRecord};
use crate::build::state::BuildState;
use crate::theme::Theme;

/// An overlay or prompt on top of the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// Nothing.
    None,
    /// The `?` key list.
    Help,
    /// The `:` command line, with what was typed.
    Command(String),
    /// The `/` filter being typed.
    Filter,
    /// "Quit while a build runs?"
    ConfirmQuit,
    /// "Cancel the build?"
    ConfirmCancel,
    /// FIPS requested on a non-Pro image: the build waits for an explicit acknowledgement.
    FipsAck {
        /// Why the image is not Ubuntu Pro.
        reason: String,
    },
}

/// Work the event loop does for the state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Run preflight (FIPS checks included when asked).
    RunPreflight {
        /// Check FIPS needs.
        fips: bool,
    },
    /// Start packer with this FIPS decision.
    StartBuild {
        /// What the record says of FIPS.
        fips: FipsRecord,
    },
    /// Demo: replay the recorded build with this index.
    StartReplay(usize),
    /// First cancel: SIGINT to packer's group.
    Cancel,
    /// Second cancel: SIGTERM.
    Escalate,
    /// Reload the build history.
    LoadHistory,
    /// Switch theme.
    SetTheme(String),
    /// Demo: set the replay speed.
    SetSpeed(f64),
    /// Suspend to the shell.
    Suspend,
    /// Leave (the loop interrupts a running build and waits for cleanup).
    Quit,
    /// Forward a key to the tui-logger widget.
    Logger(tui_logger::TuiWidgetEvent),
    /// Deliberate panic (only with KILN_ALLOW_PANIC_COMMAND=1), to test terminal restore.
    Panic,
}

/// What background tasks report.
#[derive(Debug, Clone)]
pub enum AppEvent {
    /// A batch of build events.
    Build(Vec<BuildEvent>),
    /// A build was prepared (template read): the state to fold its events into.
    BuildPlanned {
        /// The empty state over the build's stage plan.
        state: BuildState,
        /// The FIPS decision recorded.
        fips: FipsRecord,
        /// The image name kiln expects.
        expected_image: String,
    },
    /// The build started; its record directory.
    BuildStarted(Option<PathBuf>),
    /// The build ended (or could not start).
    BuildEnded(Result<BuildOutcome, String>),
    /// Artifact hashing progress.
    HashProgress {
        /// File.
        file: String,
        /// Bytes done.
        done: u64,
        /// Bytes in all.
        total: u64,
    },
    /// Preflight finished.
    Preflight(PreflightReport),
    /// History loaded, with the typical successful build time.
    History(Vec<Result<(PathBuf, BuildRecord), String>>, Option<f64>),
    /// A theme was loaded (or could not be).
    Theme(Result<Theme, String>),
    /// A message for the status bar.
    Status(String),
}

/// The Build view's state.
#[derive(Debug, Clone, Default)]
pub struct BuildView {
    /// Vars for the next build (KEY, VALUE), shown in the form.
    pub vars: Vec<(String, String)>,
    /// FIPS toggle.
    pub fips: bool,
    /// The template path shown.
    pub template: String,
    /// The image name kiln expects.
    pub expected_image: String,
    /// The source image the build uses.
    pub source_image: String,
    /// The last checklist.
    pub preflight: Option<PreflightReport>,
    /// Preflight under way.
    pub preflight_running: bool,
    /// Current hashing progress.
    pub hashing: Option<(String, u64, u64)>,
    /// Start the build when preflight passes.
    pub start_after_preflight: bool,
    /// The FIPS decision of the current build.
    pub fips_record: Option<FipsRecord>,
    /// The current (or last) build.
    pub build: Option<BuildState>,
    /// Why the last build could not start.
    pub start_error: Option<String>,
    /// The stage whose log is shown; None follows the running stage.
    pub selected: Option<StageId>,
    /// Log lines scrolled up from the bottom (0 follows).
    pub scroll: usize,
    /// Live filter of the log pane.
    pub filter: String,
    /// A cancel was sent.
    pub cancel_sent: bool,
    /// The record directory of the current build.
    pub record_dir: Option<PathBuf>,
    /// Typical successful build time, for the ETA.
    pub typical_seconds: Option<f64>,
}

impl BuildView {
    /// True while a build runs.
    pub fn running(&self) -> bool {
        self.build.as_ref().is_some_and(BuildState::is_running)
    }

    /// The stage whose log is shown.
    pub fn shown_stage(&self) -> Option<StageId> {
        let b = self.build.as_ref()?;
        self.selected.or_else(|| {
            b.outcome
                .as_ref()
                .and_then(|o| o.failed_stage)
                .or(b.active)
                .or_else(|| b.order.first().copied())
        })
    }
}

/// The History view's state.
#[derive(Debug, Clone, Default)]
pub struct HistoryView {
    /// Records, newest first (unreadable ones as messages).
    pub records: Vec<Result<(PathBuf, BuildRecord), String>>,
    /// Selected row among the filtered ones.
    pub selected: usize,
    /// Live filter.
    pub filter: String,
}

impl HistoryView {
    /// Records matching the filter.
    pub fn visible(&self) -> Vec<&Result<(PathBuf, BuildRecord), String>> {
        let f = self.filter.to_ascii_lowercase();
        self.records
            .iter()
            .filter(|r| {
                f.is_empty()
                    || match r {
                        Ok((dir, rec)) => {
                            dir.display().to_string().to_ascii_lowercase().contains(&f)
                                || rec.result.as_str().contains(&f)
                                || rec
                                    .image_name
                                    .as_deref()
                                    .unwrap_or("")
                                    .to_ascii_lowercase()
                                    .contains(&f)
                        }
                        Err(e) => e.to_ascii_lowercase().contains(&f),
                    }
            })
            .collect()
    }
}

/// Demo state.
#[derive(Debug, Clone)]
pub struct DemoState {
    /// Replay speed.
    pub speed: f64,
    /// Names of the recorded builds.
    pub names: Vec<String>,
    /// The one to play next.
    pub next: usize,
}

/// The whole console.
pub struct App {
    /// The tab shown.
    pub view: View,
    /// The tabs, in order.
    pub tabs: Vec<View>,
    /// The overlay.
    pub modal: Modal,
    /// Styles.
    pub theme: Theme,
    /// Read-only mode.
    pub readonly: bool,
    /// Build view.
    pub build: BuildView,
    /// History view.
    pub history: HistoryView,
    /// Status bar message.
    pub status: Option<String>,
    /// Demo mode.
    pub demo: Option<DemoState>,
    /// Leave the loop.
    pub quit: bool,
    /// The tui-logger widget state.
    pub logger: tui_logger::TuiWidgetState,
    /// Allow the `:panic` command (tests of terminal restore).
    pub allow_panic: bool,
    /// `kiln build --skip-preflight`: start builds without the checklist.
    pub skip_preflight: bool,
}

impl App {
    /// A console with the given theme.
    pub fn new(theme: Theme, readonly: bool, build: BuildView, demo: Option<DemoState>) -> Self {
        App {
            view: View::Build,
            tabs: vec![View::Build, View::History, View::Log],
            modal: Modal::None,
            theme,
            readonly,
            build,
            history: HistoryView::default(),
            status: None,
            demo,
            quit: false,
            logger: tui_logger::TuiWidgetState::new()
                .set_default_display_level(log::LevelFilter::Info),
            allow_panic: false,
            skip_preflight: false,
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return self.request_quit();
        }
        match self.modal.clone() {
            Modal::Command(text) => return self.on_command_key(text, key),
            Modal::Filter => return self.on_filter_key(key),
            Modal::ConfirmQuit => {
                self.modal = Modal::None;
                return if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    self.quit_now()
                } else {
                    Vec::new()
                };
            }
            Modal::ConfirmCancel => {
                self.modal = Modal::None;
                if matches!(key.code, KeyCode::Char('y' | 'Y')) {
                    self.build.cancel_sent = true;
                    self.status = Some(
                        "cancel sent: packer is cleaning up (c again escalates to SIGTERM)".into(),
                    );
                    return vec![Effect::Cancel];
                }
                return Vec::new();
            }
            Modal::FipsAck { .. } => {
                self.modal = Modal::None;
                if key.code == KeyCode::Char('A') {
                    self.status =
                        Some("acknowledged: this image will NOT be FIPS-validated".into());
                    let reason = self.fips_reason();
                    return vec![Effect::StartBuild {
                        fips: FipsRecord {
                            requested: true,
                            validated: false,
                            acknowledged_unvalidated: true,
                            reason,
                        },
                    }];
                }
                self.status = Some("FIPS build not started".into());
                return Vec::new();
            }
            Modal::Help => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('?' | 'q')) {
                    self.modal = Modal::None;
                }
                return Vec::new();
            }
            Modal::None => {}
        }
        match action_for(self.view, &key) {
            Some(a) => self.on_action(a),
            None => Vec::new(),
        }
    }

    fn fips_reason(&self) -> Option<String> {
        self.build
            .preflight
            .as_ref()
            .and_then(|p| p.fips_verdict.as_ref())
            .map(|v| v.reason().to_string())
    }

    fn request_quit(&mut self) -> Vec<Effect> {
        if self.build.running() {
            self.modal = Modal::ConfirmQuit;
            Vec::new()
        } else {
            self.quit_now()
        }
    }

    fn quit_now(&mut self) -> Vec<Effect> {
        self.quit = true;
        vec![Effect::Quit]
    }

    /// Handles an action from a key or a command.
    pub fn on_action(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Quit => return self.request_quit(),
            Action::Help => self.modal = Modal::Help,
            Action::Command => self.modal = Modal::Command(String::new()),
            Action::Filter => self.modal = Modal::Filter,
            Action::NextTab | Action::PrevTab => {
                let i = self.tabs.iter().position(|v| *v == self.view).unwrap_or(0);
                let n = self.tabs.len();
                let j = if action == Action::NextTab {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                return self.show(self.tabs[j]);
            }
            Action::Escape => match self.view {
                View::Build => {
                    self.build.filter.clear();
                    self.build.selected = None;
                    self.build.scroll = 0;
                }
                View::History => self.history.filter.clear(),
                View::Log => return vec![Effect::Logger(tui_logger::TuiWidgetEvent::EscapeKey)],
            },
            Action::Up | Action::Down | Action::Top | Action::Bottom => self.move_selection(action),
            Action::PageUp => self.build.scroll = self.build.scroll.saturating_add(10),
            Action::PageDown => self.build.scroll = self.build.scroll.saturating_sub(10),
            Action::Suspend => return vec![Effect::Suspend],
            Action::Start => return self.start(),
            Action::ToggleFips => {
                if self.build.running() {
                    self.status = Some("FIPS applies to the next build".into());
                }
                self.build.fips = !self.build.fips;
                self.build.preflight = None;
            }
            Action::Preflight => {
                if !self.build.preflight_running && self.demo.is_none() {
                    self.build.preflight_running = true;
                    return vec![Effect::RunPreflight {
                        fips: self.build.fips,
                    }];
                }
            }
            Action::Cancel => {
                if self.build.running() {
                    if self.build.cancel_sent {
                        self.status =
                            Some("escalated: SIGTERM sent to packer's process group".into());
                        return vec![Effect::Escalate];
                    }
                    self.modal = Modal::ConfirmCancel;
                }
            }
            Action::Faster | Action::Slower => {
                if let Some(d) = self.demo.as_mut() {
                    d.speed = if action == Action::Faster {
                        (d.speed * 2.0).min(1e4)
                    } else {
                        (d.speed / 2.0).max(0.25)
                    };
                    self.status = Some(format!("replay speed x{}", d.speed));
                    return vec![Effect::SetSpeed(d.speed)];
                }
            }
            Action::Logger(e) => return vec![Effect::Logger(e)],
        }
        Vec::new()
    }

    fn show(&mut self, view: View) -> Vec<Effect> {
        self.view = view;
        if view == View::History {
            vec![Effect::LoadHistory]
        } else {
            Vec::new()
        }
    }

    fn move_selection(&mut self, action: Action) {
        match self.view {
            View::Build => {
                let Some(b) = self.build.build.as_ref() else {
                    return;
                };
                let order = &b.order;
                let cur = self
                    .build
                    .shown_stage()
                    .and_then(|s| order.iter().position(|x| *x == s))
                    .unwrap_or(0);
                let last = order.len().saturating_sub(1);
                let next = match action {
                    Action::Up => cur.saturating_sub(1),
                    Action::Down => (cur + 1).min(last),
                    Action::Top => 0,
                    _ => last,
                };
                self.build.selected = order.get(next).copied();
                self.build.scroll = 0;
            }
            View::History => {
                let n = self.history.visible().len();
                let last = n.saturating_sub(1);
                let h = &mut self.history;
                h.selected = match action {
                    Action::Up => h.selected.saturating_sub(1),
                    Action::Down => (h.selected + 1).min(last),
                    Action::Top => 0,
                    _ => last,
                };
            }
            View::Log => {}
        }
    }

    fn start(&mut self) -> Vec<Effect> {
        if self.build.running() {
            self.status = Some("a build is already running".into());
            return Vec::new();
        }
        if let Some(d) = self.demo.as_mut() {
            let i = d.next % d.names.len().max(1);
            d.next = i + 1;
            self.status = Some(format!(
                "demo: replaying the recorded `{}` build",
                d.names.get(i).cloned().unwrap_or_default()
            ));
            return vec![Effect::StartReplay(i)];
        }
        if self.readonly {
            self.status = Some("--readonly: starting a build is disabled".into());
            return Vec::new();
        }
        if self.skip_preflight {
            // No checklist: judge FIPS by the source image's name alone.
            let verdict = crate::build::fips::judge_source_image(&self.build.source_image, None);
            let report = PreflightReport {
                checks: Vec::new(),
                fips_verdict: Some(verdict),
            };
            self.build.start_after_preflight = true;
            return self.on_preflight(report);
        }
        if self.build.preflight_running {
            self.build.start_after_preflight = true;
            return Vec::new();
        }
        self.build.start_after_preflight = true;
        self.build.preflight_running = true;
        self.status =
            Some("preflight: checking packer, template, artifacts, credentials...".into());
        vec![Effect::RunPreflight {
            fips: self.build.fips,
        }]
    }

    fn on_command_key(&mut self, mut text: String, key: KeyEvent) -> Vec<Effect> {
        match key.code {
            KeyCode::Esc => self.modal = Modal::None,
            KeyCode::Enter => {
                self.modal = Modal::None;
                return self.run_command(text.trim());
            }
            KeyCode::Backspace => {
                text.pop();
                self.modal = Modal::Command(text);
            }
            KeyCode::Char(c) => {
                text.push(c);
                self.modal = Modal::Command(text);
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let filter = match self.view {
            View::History => &mut self.history.filter,
            _ => &mut self.build.filter,
        };
        match key.code {
            KeyCode::Esc => {
                filter.clear();
                self.modal = Modal::None;
            }
            KeyCode::Enter => self.modal = Modal::None,
            KeyCode::Backspace => {
                filter.pop();
            }
            KeyCode::Char(c) => filter.push(c),
            _ => {}
        }
        self.history.selected = 0;
        Vec::new()
    }

    /// Runs a `:` command.
    pub fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let (cmd, arg) = line
            .split_once(' ')
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        match cmd {
            "q" | "q!" | "quit" => {
                return if cmd == "q!" {
                    self.quit_now()
                } else {
                    self.request_quit()
                };
            }
            "build" | "b" => {
                self.view = View::Build;
                if arg == "start" {
                    return self.start();
                }
            }
            "history" | "h" => return self.show(View::History),
            "log" | "logs" => self.view = View::Log,
            "help" => self.modal = Modal::Help,
            "theme" if !arg.is_empty() => return vec![Effect::SetTheme(arg.to_string())],
            "fips" => match arg {
                "on" => self.build.fips = true,
                "off" => self.build.fips = false,
                _ => self.status = Some("usage: :fips on|off".into()),
            },
            "var" => match crate::cli::parse_var(arg) {
                Ok((k, v)) => {
                    self.build.vars.retain(|(x, _)| *x != k);
                    self.status = Some(format!("var {k} set for the next build"));
                    self.build.vars.push((k, v));
                    self.build.preflight = None;
                }
                Err(e) => self.status = Some(e),
            },
            "unvar" => self.build.vars.retain(|(k, _)| k != arg),
            "panic" if self.allow_panic => return vec![Effect::Panic],
            "" => {}
            other => {
                self.status = Some(format!(
                    "unknown command `:{other}` (try :build :history :log :theme NAME :var K=V :fips on|off :q)"
                ))
            }
        }
        Vec::new()
    }

    /// Handles a background event.
    pub fn on_event(&mut self, event: AppEvent) -> Vec<Effect> {
        match event {
            AppEvent::Build(events) => {
                if let Some(b) = self.build.build.as_mut() {
                    for e in &events {
                        b.apply(e);
                    }
                }
            }
            AppEvent::BuildPlanned {
                state,
                fips,
                expected_image,
            } => {
                self.build.expected_image = expected_image;
                self.build_started(state, fips);
            }
            AppEvent::BuildStarted(dir) => self.build.record_dir = dir,
            AppEvent::BuildEnded(result) => {
                self.build.cancel_sent = false;
                match result {
                    Ok(o) => {
                        self.status = Some(format!(
                            "build {} in {}",
                            o.status.as_str(),
                            crate::format::duration(o.seconds)
                        ));
                    }
                    Err(e) => {
                        self.build.start_error = Some(e.clone());
                        self.build.build = None;
                        self.status = Some(e);
                    }
                }
                if self.modal == Modal::ConfirmQuit || self.modal == Modal::ConfirmCancel {
                    self.modal = Modal::None;
                }
            }
            AppEvent::HashProgress { file, done, total } => {
                self.build.hashing = Some((file, done, total))
            }
            AppEvent::Preflight(report) => return self.on_preflight(report),
            AppEvent::History(records, typical) => {
                self.history.records = records;
                self.history.selected = self
                    .history
                    .selected
                    .min(self.history.records.len().saturating_sub(1));
                self.build.typical_seconds = typical;
            }
            AppEvent::Theme(Ok(theme)) => {
                self.status = Some(format!("theme {}", theme.name));
                self.theme = theme;
            }
            AppEvent::Theme(Err(e)) | AppEvent::Status(e) => self.status = Some(e),
        }
        Vec::new()
    }

    fn on_preflight(&mut self, report: PreflightReport) -> Vec<Effect> {
        self.build.preflight_running = false;
        self.build.hashing = None;
        let start = std::mem::take(&mut self.build.start_after_preflight);
        let passed = report.passed();
        let verdict = report.fips_verdict.clone();
        self.build.preflight = Some(report);
        if !start {
            self.status = Some(if passed {
                "preflight passed".into()
            } else {
                "preflight failed: see the checklist".into()
            });
            return Vec::new();
        }
        if !passed {
            self.status =
                Some("preflight failed: the build was not started (see the checklist)".into());
            return Vec::new();
        }
        if !self.build.fips {
            return vec![Effect::StartBuild {
                fips: FipsRecord::default(),
            }];
        }
        match verdict {
            Some(ProVerdict::Pro(why)) => vec![Effect::StartBuild {
                fips: FipsRecord {
                    requested: true,
                    validated: true,
                    acknowledged_unvalidated: false,
                    reason: Some(why),
                },
            }],
            Some(ProVerdict::NotPro(reason)) => {
                self.modal = Modal::FipsAck { reason };
                Vec::new()
            }
            None => {
                self.status =
                    Some("FIPS: the source image could not be judged; run preflight again".into());
                Vec::new()
            }
        }
    }

    /// Called by the loop when it starts a build: a fresh state to fold events into.
    pub fn build_started(&mut self, state: BuildState, fips: FipsRecord) {
        self.build.build = Some(state);
        self.build.fips_record = Some(fips);
        self.build.selected = None;
        self.build.scroll = 0;
        self.build.start_error = None;
        self.build.cancel_sent = false;
    }

    /// True when the screen changes with time alone (elapsed counters run).
    pub fn ticking(&self) -> bool {
        self.build.running() || self.build.preflight_running || self.view == View::Log
    }
}
