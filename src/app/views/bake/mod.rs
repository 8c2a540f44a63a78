//! The Build view: the form and preflight checklist before a build; the stage strip, the selected
//! stage's log, elapsed time and ETA while it runs; the result when it ends. Its keys are in
//! `keys`, its update in `update`, its drawing in `form` and `progress`, and the work it asks
//! for (preflight, packer, replays) in `tasks`.

mod form;
pub mod keys;
mod log_pane;
mod progress;
mod result;
pub mod tasks;
mod update;

use std::cell::Cell;
use std::path::PathBuf;

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::app::Init;
use crate::app::effect::Effect;
use crate::app::loading::Loading;
use crate::app::page::{Binding, DrawCtx, Page, Prompt, Shared};
use crate::bake::events::{BuildEvent, BuildOutcome, StageId};
use crate::bake::preflight::PreflightReport;
use crate::bake::record::FipsRecord;
use crate::bake::state::BuildState;

pub use keys::Action;

/// The next build's settings, as the form shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// Vars for the next build (KEY, VALUE).
    pub vars: Vec<(String, String)>,
    /// FIPS on.
    pub fips: bool,
    /// The template path shown.
    pub template: String,
    /// The image name kiln expects.
    pub expected_image: String,
    /// The source image the build uses.
    pub source_image: String,
}

/// A build being shown (running or finished).
#[derive(Debug, Clone)]
pub struct Run {
    /// Its stages, logs and outcome.
    pub state: BuildState,
    /// What it records of FIPS.
    pub fips: FipsRecord,
    /// The image name kiln expects (until packer names it).
    pub expected_image: String,
    /// Its record directory.
    pub record_dir: Option<PathBuf>,
    /// A cancel was sent.
    pub cancel_sent: bool,
    /// The stage whose log is shown; None follows the running stage.
    pub selected: Option<StageId>,
    /// How the log pane is scrolled.
    pub pane: LogPane,
    /// Live filter of the log pane.
    pub filter: String,
    /// Explanation lines scrolled past in the result panel.
    pub result_scroll: usize,
}

/// How the log pane shows its lines.
#[derive(Debug, Clone, Default)]
pub struct LogPane {
    /// Lines scrolled up from the newest (0 follows the log).
    pub scroll: usize,
    /// Characters scrolled right (when not wrapping).
    pub hscroll: usize,
    /// Long lines wrap instead of being cut.
    pub wrap: bool,
    /// Lines the last frame showed (a page).
    pub page: Cell<usize>,
    /// How far the last frame could scroll up.
    pub max_scroll: Cell<usize>,
}

impl LogPane {
    /// Scrolls by `lines` (positive: back in time), clamped to what there is.
    pub fn scroll_by(&mut self, lines: isize) {
        let max = self.max_scroll.get() as isize;
        self.scroll = (self.scroll as isize + lines).clamp(0, max.max(0)) as usize;
    }
}

impl Run {
    /// The stage whose log is shown.
    pub fn shown_stage(&self) -> Option<StageId> {
        let b = &self.state;
        self.selected.or_else(|| {
            b.outcome
                .as_ref()
                .and_then(|o| o.failed_stage)
                .or(b.active)
                .or_else(|| b.order.first().copied())
        })
    }
}

/// The demo's replays.
#[derive(Debug, Clone, PartialEq)]
pub struct Demo {
    /// Replay speed.
    pub speed: f64,
    /// Names of the recorded builds.
    pub names: Vec<String>,
    /// The one to play next.
    pub next: usize,
}

/// A question the Build view asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BakePrompt {
    /// "Cancel the build?"
    ConfirmCancel,
    /// FIPS requested on a non-Pro image: the build waits for an explicit acknowledgement.
    FipsAck {
        /// Why the image is not Ubuntu Pro.
        reason: String,
    },
}

/// What background work reports to the Build view.
#[derive(Debug)]
pub enum Event {
    /// Artifact hashing progress: file, bytes done, bytes in all.
    HashProgress(String, u64, u64),
    /// Preflight finished.
    Preflight(PreflightReport),
    /// A build was prepared (template read): the state to fold its events into.
    Planned {
        /// The empty state over the build's stage plan.
        state: Box<BuildState>,
        /// The FIPS decision recorded.
        fips: FipsRecord,
        /// The image name kiln expects.
        expected_image: String,
    },
    /// The build started; its record directory.
    Started(Option<PathBuf>),
    /// A batch of build events.
    Batch(Vec<BuildEvent>),
    /// The build ended (or could not start).
    Ended(Result<BuildOutcome, String>),
}

/// Work the Build view asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum BakeEffect {
    /// Run preflight for these vars (FIPS checks included when asked).
    Preflight {
        /// The form's vars.
        vars: Vec<(String, String)>,
        /// FIPS requested.
        fips: bool,
    },
    /// Start packer with these vars and this FIPS decision.
    Build {
        /// The form's vars.
        vars: Vec<(String, String)>,
        /// What the record says of FIPS.
        fips: FipsRecord,
    },
    /// Demo: replay the recorded build with this index.
    Replay(usize),
    /// First cancel: SIGINT to packer's group.
    Cancel,
    /// Second cancel: SIGTERM.
    Escalate,
    /// Demo: set the replay speed.
    SetSpeed(f64),
}

/// The Build view's state.
#[derive(Debug, Clone, Default)]
pub struct BakePage {
    /// The next build's settings.
    pub form: Form,
    /// The last checklist.
    pub preflight: Loading<PreflightReport>,
    /// Current hashing progress.
    pub hashing: Option<(String, u64, u64)>,
    /// Start the build when preflight passes.
    pub start_after_preflight: bool,
    /// `kiln build --skip-preflight`: start builds without the checklist.
    pub skip_preflight: bool,
    /// The current (or last) build.
    pub run: Option<Run>,
    /// Why the last build could not start.
    pub start_error: Option<String>,
    /// Demo replays.
    pub demo: Option<Demo>,
    /// The open question.
    pub prompt: Option<BakePrompt>,
    /// The form is shown although a build exists (`n`, or a change to the form).
    pub show_form: bool,
}

impl BakePage {
    /// The view as the console starts it.
    pub fn new(init: &Init) -> Self {
        BakePage {
            form: init.form.clone(),
            skip_preflight: init.skip_preflight,
            demo: init.demo.clone(),
            ..BakePage::default()
        }
    }

    /// Starts a build (preflight first) or, in the demo, the next replay.
    pub fn start(&mut self, shared: &mut Shared) -> Vec<Effect> {
        update::start(self, shared)
    }

    /// The build on screen: None while the form is shown.
    pub fn shown_run(&self) -> Option<&Run> {
        self.run.as_ref().filter(|_| !self.show_form)
    }

    /// True while a build runs.
    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.state.is_running())
    }
}

impl Page for BakePage {
    type Action = Action;
    type Event = Event;
    type Effect = BakeEffect;

    fn title(&self) -> &'static str {
        "Build"
    }

    fn bindings(&self, shared: &Shared) -> Vec<Binding<Action>> {
        keys::bindings(self, shared)
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        update::on_action(self, action, shared)
    }

    fn on_event(&mut self, event: Event, shared: &mut Shared) -> Vec<Effect> {
        update::on_event(self, event, shared)
    }

    fn on_command(&mut self, cmd: &str, arg: &str, shared: &mut Shared) -> Option<Vec<Effect>> {
        update::on_command(self, cmd, arg, shared)
    }

    fn commands(&self) -> &'static [&'static str] {
        &["build start", "var K=V", "unvar K", "fips on|off"]
    }

    fn filter(&self) -> Option<&str> {
        self.shown_run().map(|r| r.filter.as_str())
    }

    fn set_filter(&mut self, text: String) {
        if let Some(r) = self.run.as_mut().filter(|_| !self.show_form) {
            r.filter = text;
            r.pane.scroll = 0;
        }
    }

    fn on_wheel(&mut self, lines: isize) {
        if let Some(r) = self.run.as_mut().filter(|_| !self.show_form) {
            r.pane.scroll_by(lines);
        }
    }

    fn prompt(&self) -> Option<Prompt> {
        self.prompt.as_ref().map(|p| update::prompt_text(self, p))
    }

    fn on_prompt_key(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        update::on_prompt_key(self, key, shared)
    }

    fn busy(&self) -> Option<String> {
        self.running().then(|| {
            if self.demo.is_some() {
                "A recorded build is replaying.".to_string()
            } else {
                "A build is running. Quitting interrupts packer (SIGINT to its process group) and waits for its cleanup.".to_string()
            }
        })
    }

    fn ticking(&self) -> bool {
        self.running() || self.preflight.is_loading()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>) {
        match self.shown_run() {
            None => form::draw(self, frame, area, ctx),
            Some(run) => progress::draw(self, run, frame, area, ctx),
        }
    }
}
