//! Key bindings: one table maps keys to actions per view, and the `?` help overlay is generated
//! from the same table, so help always lists every key of the current view.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The views (tabs) of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// Build an image and watch it.
    Build,
    /// Past builds.
    History,
    /// kiln's diagnostics.
    Log,
}

impl View {
    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Build => "Build",
            View::History => "History",
            View::Log => "Log",
        }
    }
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Quit (asks first while a build runs).
    Quit,
    /// Toggle the help overlay.
    Help,
    /// Open the `:` command line.
    Command,
    /// Open the `/` filter.
    Filter,
    /// Next tab.
    NextTab,
    /// Previous tab.
    PrevTab,
    /// Move up one.
    Up,
    /// Move down one.
    Down,
    /// To the top.
    Top,
    /// To the bottom (and follow).
    Bottom,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Close an overlay or clear the filter.
    Escape,
    /// Suspend to the shell (Ctrl-Z).
    Suspend,
    /// Start a build (or the next demo replay).
    Start,
    /// Toggle FIPS in the build form.
    ToggleFips,
    /// Run preflight now.
    Preflight,
    /// Cancel the running build (asks; again escalates).
    Cancel,
    /// Demo: faster replay.
    Faster,
    /// Demo: slower replay.
    Slower,
    /// Log tab: a tui-logger widget key.
    Logger(tui_logger::TuiWidgetEvent),
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// How the key is shown in help.
    pub keys: &'static str,
    /// What it does, for help.
    pub help: &'static str,
    /// The action.
    pub action: Action,
    /// Views it applies to; empty = all.
    pub views: &'static [View],
    matcher: fn(&KeyEvent) -> bool,
}

fn plain(k: &KeyEvent, c: char) -> bool {
    k.code == KeyCode::Char(c)
        && !k
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
}

const B: &[View] = &[View::Build];
const L: &[View] = &[View::Log];
const LISTS: &[View] = &[View::Build, View::History];
const ALL: &[View] = &[];

/// The key table, in help order.
pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: "?",
        help: "help: the keys of this view",
        action: Action::Help,
        views: ALL,
        matcher: |k| plain(k, '?'),
    },
    Binding {
        keys: ":",
        help: "command line (:build :history :log :theme NAME :var K=V :fips on|off :q)",
        action: Action::Command,
        views: ALL,
        matcher: |k| plain(k, ':'),
    },
    Binding {
        keys: "Tab / Shift-Tab",
        help: "next / previous tab",
        action: Action::NextTab,
        views: ALL,
        matcher: |k| k.code == KeyCode::Tab,
    },
    Binding {
        keys: "",
        help: "",
        action: Action::PrevTab,
        views: ALL,
        matcher: |k| k.code == KeyCode::BackTab,
    },
    Binding {
        keys: "q",
        help: "quit (asks first while a build runs)",
        action: Action::Quit,
        views: ALL,
        matcher: |k| plain(k, 'q'),
    },
    Binding {
        keys: "Ctrl-Z",
        help: "suspend to the shell (fg to come back)",
        action: Action::Suspend,
        views: ALL,
        matcher: |k| k.code == KeyCode::Char('z') && k.modifiers.contains(KeyModifiers::CONTROL),
    },
    Binding {
        keys: "Esc",
        help: "close overlay / clear filter",
        action: Action::Escape,
        views: ALL,
        matcher: |k| k.code == KeyCode::Esc,
    },
    Binding {
        keys: "/",
        help: "live filter (stage log / history list)",
        action: Action::Filter,
        views: LISTS,
        matcher: |k| plain(k, '/'),
    },
    Binding {
        keys: "j / Down",
        help: "next stage / row",
        action: Action::Down,
        views: LISTS,
        matcher: |k| plain(k, 'j') || k.code == KeyCode::Down,
    },
    Binding {
        keys: "k / Up",
        help: "previous stage / row",
        action: Action::Up,
        views: LISTS,
        matcher: |k| plain(k, 'k') || k.code == KeyCode::Up,
    },
    Binding {
        keys: "g",
        help: "first stage / row",
        action: Action::Top,
        views: LISTS,
        matcher: |k| plain(k, 'g') || k.code == KeyCode::Home,
    },
    Binding {
        keys: "G",
        help: "last stage / row",
        action: Action::Bottom,
        views: LISTS,
        matcher: |k| plain(k, 'G') || k.code == KeyCode::End,
    },
    Binding {
        keys: "PgUp / PgDn",
        help: "scroll the log (PgDn to the end follows it again)",
        action: Action::PageUp,
        views: LISTS,
        matcher: |k| k.code == KeyCode::PageUp,
    },
    Binding {
        keys: "",
        help: "",
        action: Action::PageDown,
        views: LISTS,
        matcher: |k| k.code == KeyCode::PageDown,
    },
    Binding {
        keys: "Enter / b",
        help: "start a build (runs preflight first) / next demo replay",
        action: Action::Start,
        views: B,
        matcher: |k| k.code == KeyCode::Enter || plain(k, 'b'),
    },
    Binding {
        keys: "f",
        help: "toggle FIPS for the next build",
        action: Action::ToggleFips,
        views: B,
        matcher: |k| plain(k, 'f'),
    },
    Binding {
        keys: "p",
        help: "run the preflight checklist",
        action: Action::Preflight,
        views: B,
        matcher: |k| plain(k, 'p'),
    },
    Binding {
        keys: "c",
        help: "cancel the build (asks); again: SIGTERM",
        action: Action::Cancel,
        views: B,
        matcher: |k| plain(k, 'c'),
    },
    Binding {
        keys: "+ / -",
        help: "demo: replay faster / slower",
        action: Action::Faster,
        views: B,
        matcher: |k| plain(k, '+'),
    },
    Binding {
        keys: "",
        help: "",
        action: Action::Slower,
        views: B,
        matcher: |k| plain(k, '-'),
    },
    Binding {
        keys: "h",
        help: "show / hide the target list",
        action: Action::Logger(tui_logger::TuiWidgetEvent::HideKey),
        views: L,
        matcher: |k| plain(k, 'h'),
    },
    Binding {
        keys: "f",
        help: "focus the selected target",
        action: Action::Logger(tui_logger::TuiWidgetEvent::FocusKey),
        views: L,
        matcher: |k| plain(k, 'f'),
    },
    Binding {
        keys: "Up / Down",
        help: "select a target",
        action: Action::Logger(tui_logger::TuiWidgetEvent::UpKey),
        views: L,
        matcher: |k| k.code == KeyCode::Up,
    },
    Binding {
        keys: "",
        help: "",
        action: Action::Logger(tui_logger::TuiWidgetEvent::DownKey),
        views: L,
        matcher: |k| k.code == KeyCode::Down,
    },
    Binding {
        keys: "Left / Right",
        help: "show fewer / more levels for the target",
        action: Action::Logger(tui_logger::TuiWidgetEvent::LeftKey),
        views: L,
        matcher: |k| k.code == KeyCode::Left,
    },
    Binding {
        keys: "",
        help: "",
        action: Action::Logger(tui_logger::TuiWidgetEvent::RightKey),
        views: L,
        matcher: |k| k.code == KeyCode::Right,
    },
    Binding {
        keys: "+ / -",
        help: "capture more / fewer levels for the target",
        action: Action::Logger(tui_logger::TuiWidgetEvent::PlusKey),
        views: L,
        matcher: |k| plain(k, '+'),
    },
    Binding {
        keys: "",
        help: "",
        action: Action::Logger(tui_logger::TuiWidgetEvent::MinusKey),
        views: L,
        matcher: |k| plain(k, '-'),
    },
    Binding {
        keys: "PgUp / PgDn",
        help: "scroll back / forward",
        action: Action::Logger(tui_logger::TuiWidgetEvent::PrevPageKey),
        views: L,
        matcher: |k| k.code == KeyCode::PageUp,
    },
    Binding {
        keys: "",
        help: "",
        action: Action::Logger(tui_logger::TuiWidgetEvent::NextPageKey),
        views: L,
        matcher: |k| k.code == KeyCode::PageDown,
    },
    Binding {
        keys: "Space",
        help: "hide targets whose level is off",
        action: Action::Logger(tui_logger::TuiWidgetEvent::SpaceKey),
        views: L,
        matcher: |k| plain(k, ' '),
    },
];

/// The action a key means in a view, if any.
pub fn action_for(view: View, key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.views.is_empty() || b.views.contains(&view))
        // View-specific bindings win over global ones (`f` in Log vs Build).
        .find(|b| !b.views.is_empty() && (b.matcher)(key))
        .or_else(|| {
            BINDINGS
                .iter()
                .find(|b| b.views.is_empty() && (b.matcher)(key))
        })
        .map(|b| b.action)
}

/// The help rows for a view: (keys, help), global keys first.
pub fn help_rows(view: View) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| !b.keys.is_empty() && (b.views.is_empty() || b.views.contains(&view)))
        .map(|b| (b.keys, b.help))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn view_keys_win_over_global_keys() {
        assert_eq!(
            action_for(View::Build, &key(KeyCode::Char('f'))),
            Some(Action::ToggleFips)
        );
        assert_eq!(
            action_for(View::Log, &key(KeyCode::Char('f'))),
            Some(Action::Logger(tui_logger::TuiWidgetEvent::FocusKey))
        );
        assert_eq!(action_for(View::History, &key(KeyCode::Char('f'))), None);
        assert_eq!(
            action_for(View::History, &key(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(
                View::Build,
                &KeyEvent::new(KeyCode::Char('z'), KeyModifiers::CONTROL)
            ),
            Some(Action::Suspend)
        );
    }

    #[test]
    fn every_action_of_a_view_is_in_its_help() {
        for view in [View::Build, View::History, View::Log] {
            let rows = help_rows(view);
            assert!(rows.iter().any(|(k, _)| *k == "?"));
            assert!(rows.iter().any(|(k, _)| *k == "q"));
        }
        assert!(help_rows(View::Build).iter().any(|(k, _)| *k == "c"));
        assert!(!help_rows(View::History).iter().any(|(k, _)| *k == "c"));
    }
}
