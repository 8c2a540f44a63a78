//! What every view of the console implements ([`Page`]), the key [`Binding`]s a view offers, and
//! the [`Shared`] state views read and write (theme, read-only, status line, notices).
//!
//! A view owns its state, its update (keys, commands, background events in; [`Effect`]s out), its
//! keys and its drawing. It does no I/O: effects are run by the executor, whose results come back
//! as events.

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;

use super::effect::Effect;
use crate::theme::Theme;

/// A key of a view: how it is shown in help, what it does, and which action it triggers.
#[derive(Debug, Clone, Copy)]
pub struct Binding<A> {
    /// The keys as help shows them; empty for the second half of a pair row (`+ / -`).
    pub keys: &'static str,
    /// What it does, for help.
    pub help: &'static str,
    /// A short word for the footer, when the key is worth a hint there.
    pub hint: Option<&'static str>,
    /// The action.
    pub action: A,
    /// Whether a key event is this binding.
    pub matches: fn(&KeyEvent) -> bool,
}

/// Declares a view's action enum (unit variants) with `ALL`, the list of its variants, so a test
/// can check that every action is bound, and shown in help, in some state of the view.
#[macro_export]
macro_rules! actions {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every action.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }
    };
}

/// True for the plain character `c` (no Ctrl or Alt; Shift is part of the character).
pub fn plain(key: &KeyEvent, c: char) -> bool {
    key.code == KeyCode::Char(c)
        && !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
}

/// The keys every list and pager moves with, one definition for every view's table.
pub mod nav {
    use super::plain;
    use crossterm::event::{KeyCode, KeyEvent};

    /// `j` or Down.
    pub fn down(k: &KeyEvent) -> bool {
        plain(k, 'j') || k.code == KeyCode::Down
    }

    /// `k` or Up.
    pub fn up(k: &KeyEvent) -> bool {
        plain(k, 'k') || k.code == KeyCode::Up
    }

    /// `g` or Home.
    pub fn top(k: &KeyEvent) -> bool {
        plain(k, 'g') || k.code == KeyCode::Home
    }

    /// `G` or End.
    pub fn bottom(k: &KeyEvent) -> bool {
        plain(k, 'G') || k.code == KeyCode::End
    }

    /// PgUp.
    pub fn page_up(k: &KeyEvent) -> bool {
        k.code == KeyCode::PageUp
    }

    /// PgDn.
    pub fn page_down(k: &KeyEvent) -> bool {
        k.code == KeyCode::PageDown
    }

    /// Esc.
    pub fn esc(k: &KeyEvent) -> bool {
        k.code == KeyCode::Esc
    }
}

/// The binding among `bindings` that a key triggers.
pub fn find<A: Copy>(bindings: &[Binding<A>], key: &KeyEvent) -> Option<A> {
    bindings.iter().find(|b| (b.matches)(key)).map(|b| b.action)
}

/// A status line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The text.
    pub text: String,
    /// How it looks.
    pub level: Level,
    /// When it was set (messages expire).
    pub at: DateTime<Utc>,
}

/// How a status message looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Plain.
    Info,
    /// In the warning style.
    Warn,
    /// In the error style, and it stays longer.
    Error,
}

impl Status {
    /// Seconds a message stays on the status line.
    pub fn lifetime_seconds(&self) -> i64 {
        match self.level {
            Level::Info => 8,
            Level::Warn => 15,
            Level::Error => 30,
        }
    }

    /// True while the message should still show at `now`.
    pub fn visible_at(&self, now: DateTime<Utc>) -> bool {
        (now - self.at).num_seconds() < self.lifetime_seconds()
    }
}

/// Something one view tells every view (a pub/sub of facts, so views do not know each other).
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A build ended or was recorded: the list of builds changed.
    BuildsChanged,
    /// A fresh image inventory (Glance images, usage, verdicts).
    Inventory(std::sync::Arc<crate::inventory::Inventory>),
    /// A view needs the inventory (the Images view fetches it).
    InventoryWanted,
    /// Images were deleted or changed: the inventory is stale.
    ImagesChanged,
    /// This console's build keeps its record in this directory (None: no build runs now).
    BuildRunning(Option<std::path::PathBuf>),
}

/// State every view reads and may change.
#[derive(Debug, Clone)]
pub struct Shared {
    /// Styles.
    pub theme: Theme,
    /// `--readonly`: no builds, no deletes.
    pub readonly: bool,
    /// `kiln demo`: replays instead of packer.
    pub demo: bool,
    /// The status line.
    pub status: Option<Status>,
    /// The median time of past successful builds (for the ETA), once History has loaded.
    pub typical_build_seconds: Option<f64>,
    /// The median time of each stage in past successful builds, by stage name.
    pub typical_stage_seconds: std::collections::BTreeMap<String, f64>,
    /// Ring the terminal bell when a build ends (config `bell`).
    pub bell: bool,
    /// Facts to hand every view after this update.
    pub notices: Vec<Notice>,
    /// The time of this update (injected by the loop; fixed in tests).
    pub now: DateTime<Utc>,
}

impl Shared {
    /// Shared state with a theme at `now`.
    pub fn new(theme: Theme, readonly: bool, demo: bool, now: DateTime<Utc>) -> Self {
        Shared {
            theme,
            readonly,
            demo,
            status: None,
            typical_build_seconds: None,
            typical_stage_seconds: Default::default(),
            bell: false,
            notices: Vec::new(),
            now,
        }
    }

    /// Sets the status line.
    pub fn say(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    /// An informational status message.
    pub fn info(&mut self, text: impl Into<String>) {
        self.say(Level::Info, text);
    }

    /// A warning on the status line.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.say(Level::Warn, text);
    }

    /// An error on the status line.
    pub fn error(&mut self, text: impl Into<String>) {
        self.say(Level::Error, text);
    }
}

/// A question a view asks over everything else (drawn by the shell, keys go to the view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The title.
    pub title: String,
    /// The lines, the last one saying which keys answer.
    pub lines: Vec<String>,
}

/// What drawing needs besides the view's own state.
pub struct DrawCtx<'a> {
    /// Styles.
    pub theme: &'a Theme,
    /// Shared state (read-only, demo, typical build time).
    pub shared: &'a Shared,
    /// The time drawn (elapsed counters).
    pub now: DateTime<Utc>,
}

/// A view of the console.
pub trait Page {
    /// What the view's keys do.
    type Action: Copy + PartialEq + Debug + 'static;
    /// What background work reports to the view.
    type Event: Debug;
    /// Work the view asks the executor for.
    type Effect: Debug + PartialEq;

    /// The tab title.
    fn title(&self) -> &'static str;
    /// The keys valid in the current state, in help order.
    fn bindings(&self, shared: &Shared) -> Vec<Binding<Self::Action>>;
    /// Handles one of its actions.
    fn on_action(&mut self, action: Self::Action, shared: &mut Shared) -> Vec<Effect>;
    /// Handles a background event.
    fn on_event(&mut self, event: Self::Event, shared: &mut Shared) -> Vec<Effect>;
    /// Hears a notice another view (or this one) posted.
    fn on_notice(&mut self, _notice: &Notice, _shared: &mut Shared) -> Vec<Effect> {
        Vec::new()
    }
    /// Becomes the tab shown.
    fn on_show(&mut self, _shared: &mut Shared) -> Vec<Effect> {
        Vec::new()
    }
    /// A `:` command of this view (`None` when the view has no such command).
    fn on_command(&mut self, _cmd: &str, _arg: &str, _shared: &mut Shared) -> Option<Vec<Effect>> {
        None
    }
    /// The `:` commands of this view, for help and errors (`var K=V`, ...).
    fn commands(&self) -> &'static [&'static str] {
        &[]
    }
    /// The live filter, when the view has one.
    fn filter(&self) -> Option<&str> {
        None
    }
    /// Replaces the live filter.
    fn set_filter(&mut self, _text: String) {}
    /// The view's open question, if any.
    fn prompt(&self) -> Option<Prompt> {
        None
    }
    /// A key while the view's prompt is open.
    fn on_prompt_key(&mut self, _key: KeyEvent, _shared: &mut Shared) -> Vec<Effect> {
        Vec::new()
    }
    /// The mouse wheel turned `lines` (positive: up, back in time).
    fn on_wheel(&mut self, _lines: isize) {}
    /// Work under way that quitting would interrupt ("a build is running").
    fn busy(&self) -> Option<String> {
        None
    }
    /// True when the view changes with time alone (elapsed counters, spinners).
    fn ticking(&self) -> bool {
        false
    }
    /// Draws the view.
    fn draw(&self, frame: &mut Frame, area: Rect, ctx: &DrawCtx<'_>);
}
