//! The History view's keys in each of its modes (the list, a record, its packer.log), and which
//! are valid now.

use crossterm::event::KeyCode;

use super::{HistoryPage, Mode};
use crate::actions;
use crate::app::page::{Binding, nav, plain};

actions! {
    /// What a key of the History view does.
    pub enum Action {
        /// Next row / scroll down.
        Down,
        /// Previous row / scroll up.
        Up,
        /// First row / the top.
        Top,
        /// Last row / the end.
        Bottom,
        /// A page down.
        PageDown,
        /// A page up.
        PageUp,
        /// Sort by the next column (again on the same column: reverse).
        Sort,
        /// Read the records again.
        Reload,
        /// Open the selected record.
        Open,
        /// The record's packer.log.
        Log,
        /// Next search match in the log.
        NextMatch,
        /// Previous search match in the log.
        PrevMatch,
        /// Back (from the log to the record, from the record to the list), or clear the filter.
        Back,
    }
}

const TABLE: &[Binding<Action>] = &[
    Binding {
        keys: "Enter",
        help: "open the selected build's record",
        hint: Some("open"),
        action: Action::Open,
        matches: |k| k.code == KeyCode::Enter,
    },
    Binding {
        keys: "l",
        help: "the build's packer.log (a pager with / search)",
        hint: Some("log"),
        action: Action::Log,
        matches: |k| plain(k, 'l'),
    },
    Binding {
        keys: "j / Down",
        help: "next build / scroll down",
        hint: None,
        action: Action::Down,
        matches: nav::down,
    },
    Binding {
        keys: "k / Up",
        help: "previous build / scroll up",
        hint: None,
        action: Action::Up,
        matches: nav::up,
    },
    Binding {
        keys: "g / Home",
        help: "first / top",
        hint: None,
        action: Action::Top,
        matches: nav::top,
    },
    Binding {
        keys: "G / End",
        help: "last / end",
        hint: None,
        action: Action::Bottom,
        matches: nav::bottom,
    },
    Binding {
        keys: "PgUp / PgDn",
        help: "a page up / down",
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
        keys: "n / N",
        help: "next / previous match of the search",
        hint: Some("next match"),
        action: Action::NextMatch,
        matches: |k| plain(k, 'n'),
    },
    Binding {
        keys: "",
        help: "",
        hint: None,
        action: Action::PrevMatch,
        matches: |k| plain(k, 'N'),
    },
    Binding {
        keys: "s",
        help: "sort by the next column (s on the last one: newest first again)",
        hint: Some("sort"),
        action: Action::Sort,
        matches: |k| plain(k, 's'),
    },
    Binding {
        keys: "r",
        help: "read the records again",
        hint: Some("reload"),
        action: Action::Reload,
        matches: |k| plain(k, 'r'),
    },
    Binding {
        keys: "Esc",
        help: "back (log to record to list), or clear the filter",
        hint: Some("back"),
        action: Action::Back,
        matches: nav::esc,
    },
];

/// The keys valid now.
pub fn bindings(page: &HistoryPage) -> Vec<Binding<Action>> {
    TABLE
        .iter()
        .filter(|b| valid(page, b.action))
        .copied()
        .collect()
}

fn valid(page: &HistoryPage, action: Action) -> bool {
    let has_rows = !page.table.is_empty();
    let record = matches!(page.selected(), Some(Ok(_)));
    match (&page.mode, action) {
        (Mode::List, Action::Sort | Action::Reload) => true,
        (Mode::List, Action::Back) => !page.table.filter().is_empty(),
        (Mode::List, Action::Open | Action::Log) => record,
        (Mode::List, Action::NextMatch | Action::PrevMatch) => false,
        (Mode::List, _) => has_rows,
        (Mode::Record { .. }, Action::Log | Action::Back | Action::Up | Action::Down) => true,
        (Mode::Record { .. }, Action::Top | Action::Bottom) => true,
        (Mode::Record { .. }, _) => false,
        (Mode::Log(p), Action::NextMatch | Action::PrevMatch) => !p.matches.is_empty(),
        (Mode::Log(_), Action::Sort | Action::Reload | Action::Open | Action::Log) => false,
        (Mode::Log(_), _) => true,
    }
}
