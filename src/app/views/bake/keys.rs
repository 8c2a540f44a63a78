//! The Build view's keys, and which of them are valid in the view's current state (help, the
//! footer and dispatch all use [`bindings`], so a key that does nothing is never listed).

use crossterm::event::{KeyCode, KeyEvent};

use super::BakePage;
use crate::actions;
use crate::app::page::{Binding, Shared, nav, plain};

actions! {
    /// What a key of the Build view does.
    pub enum Action {
        /// Preflight, then build (demo: the next replay).
        Start,
        /// The form for the next build (again: back to the build).
        NewForm,
        /// FIPS on / off for the next build.
        ToggleFips,
        /// Run the checklist only.
        Preflight,
        /// Cancel the running build (asks); again: SIGTERM.
        Cancel,
        /// Demo: replay faster.
        Faster,
        /// Demo: replay slower.
        Slower,
        /// Previous stage.
        Up,
        /// Next stage.
        Down,
        /// First stage.
        Top,
        /// Last stage.
        Bottom,
        /// Scroll the log up a page.
        PageUp,
        /// Scroll the log down a page (to the end follows it again).
        PageDown,
        /// Scroll long log lines left.
        Left,
        /// Scroll long log lines right.
        Right,
        /// Wrap long log lines (again: cut them).
        Wrap,
        /// Scroll the result's explanation up.
        ResultUp,
        /// Scroll the result's explanation down.
        ResultDown,
        /// Clear the filter, the stage selection and the scroll.
        Escape,
    }
}

const TABLE: &[Binding<Action>] = &[
    Binding {
        keys: "Enter / b",
        help: "preflight, then build",
        hint: Some("build"),
        action: Action::Start,
        matches: |k| k.code == KeyCode::Enter || plain(k, 'b'),
    },
    Binding {
        keys: "n",
        help: "the form for the next build (again: back to the build)",
        hint: Some("form"),
        action: Action::NewForm,
        matches: |k| plain(k, 'n'),
    },
    Binding {
        keys: "f",
        help: "FIPS on / off for the next build",
        hint: Some("FIPS"),
        action: Action::ToggleFips,
        matches: |k| plain(k, 'f'),
    },
    Binding {
        keys: "p",
        help: "run the preflight checklist",
        hint: Some("preflight"),
        action: Action::Preflight,
        matches: |k| plain(k, 'p'),
    },
    Binding {
        keys: "c",
        help: "cancel the build (asks); again: SIGTERM",
        hint: Some("cancel"),
        action: Action::Cancel,
        matches: |k| plain(k, 'c'),
    },
    Binding {
        keys: "+ / -",
        help: "demo: replay faster / slower",
        hint: None,
        action: Action::Faster,
        matches: |k| plain(k, '+'),
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::Slower,
        matches: |k| plain(k, '-'),
    },
    Binding {
        keys: "j / Down",
        help: "next stage",
        hint: None,
        action: Action::Down,
        matches: nav::down,
    },
    Binding {
        keys: "k / Up",
        help: "previous stage",
        hint: None,
        action: Action::Up,
        matches: nav::up,
    },
    Binding {
        keys: "g / Home",
        help: "first stage",
        hint: None,
        action: Action::Top,
        matches: nav::top,
    },
    Binding {
        keys: "G / End",
        help: "last stage",
        hint: None,
        action: Action::Bottom,
        matches: nav::bottom,
    },
    Binding {
        keys: "PgUp / PgDn",
        help: "scroll the stage log (PgDn to the end follows it again)",
        hint: None,
        action: Action::PageUp,
        matches: nav::page_up,
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::PageDown,
        matches: nav::page_down,
    },
    Binding {
        keys: "Left / Right",
        help: "scroll long log lines left / right",
        hint: None,
        action: Action::Left,
        matches: |k| k.code == KeyCode::Left || plain(k, 'h'),
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::Right,
        matches: |k| k.code == KeyCode::Right || plain(k, 'l'),
    },
    Binding {
        keys: "w",
        help: "wrap long log lines (again: cut them)",
        hint: Some("wrap"),
        action: Action::Wrap,
        matches: |k| plain(k, 'w'),
    },
    Binding {
        keys: "[ / ]",
        help: "scroll the result's explanation",
        hint: None,
        action: Action::ResultUp,
        matches: |k| plain(k, '['),
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::ResultDown,
        matches: |k| plain(k, ']'),
    },
    Binding {
        keys: "Esc",
        help: "clear the filter, the stage selection and the scroll",
        hint: None,
        action: Action::Escape,
        matches: |k: &KeyEvent| k.code == KeyCode::Esc,
    },
];

/// The keys valid now.
pub fn bindings(page: &BakePage, shared: &Shared) -> Vec<Binding<Action>> {
    TABLE
        .iter()
        .filter(|b| valid(page, shared, b.action))
        .copied()
        .collect()
}

fn valid(page: &BakePage, shared: &Shared, action: Action) -> bool {
    let running = page.running();
    let shown = page.shown_run();
    let long_result = shown
        .and_then(|r| r.state.outcome.as_ref())
        .is_some_and(|o| o.explanation.len() > super::result::SHOWN);
    match action {
        Action::Start => !running && (shared.demo || !shared.readonly),
        Action::NewForm => page.run.is_some(),
        Action::ToggleFips => !shared.demo,
        Action::Preflight => !shared.demo && !page.preflight.is_loading(),
        Action::Cancel => running,
        Action::Faster | Action::Slower => shared.demo,
        Action::Up | Action::Down | Action::Top | Action::Bottom => shown.is_some(),
        Action::PageUp | Action::PageDown | Action::Wrap => shown.is_some(),
        Action::Left | Action::Right => shown.is_some_and(|r| !r.pane.wrap),
        Action::ResultUp | Action::ResultDown => long_result,
        Action::Escape => shown.is_some_and(|r| {
            !r.filter.is_empty() || r.selected.is_some() || r.pane.scroll > 0 || r.pane.hscroll > 0
        }),
    }
}
